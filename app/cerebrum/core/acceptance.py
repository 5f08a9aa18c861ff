"""Whether suggestions are accepted, judged from the editor's next request of the same session.

Editors do not say whether a suggestion was taken, but the next request of the same session
shows it: its text before the cursor now holds the suggestion right after the text that stood
before the cursor when it was shown. Accepted whole: the whole suggestion stands there (Tab in
llama.vim); accepted as its first line: its first line (not blank) and a line break do
(Shift-Tab); anything else, the first word (Ctrl-B) included, is ignored.

llama.vim asks for the next suggestion as soon as one is shown, as if it were accepted (its
speculative request, whose text before the cursor is exactly the old one plus the suggestion);
such a request is not a judgement: its suggestion joins a short chain of suggestions pending
for the session, and the first request that is not such a continuation judges the chain in
order (a suggestion counts as shown only if the one before it was accepted whole, as only
then did the editor show it).

The session is an opaque key given by the caller. Memory: at most ``capacity`` sessions (least
recently used first out), each with at most CHAIN suggestions of at most MAX_SUGGESTION
characters and TAIL characters of context: with the defaults, at most 1,024 * 3 * 2,304
characters (about 7 MB), whatever clients send. A judgement reads at most the last
TAIL + MAX_SUGGESTION + SLACK characters of a request's text before the cursor.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

CAPACITY = 1024  # sessions remembered
CHAIN = 3  # suggestions pending per session
TAIL = 256  # characters before the cursor kept with a suggestion
MAX_SUGGESTION = 2048  # characters of a suggestion kept (a longer one is judged on these)
SLACK = 512  # characters the user may type after accepting, before the request that judges

Verdict = Literal["whole", "line", "ignored"]


@dataclass(frozen=True, slots=True)
class Shown:
    """A suggestion answered to a session: who asked, and where it stood."""

    key: str
    model: str
    before: str  # the last TAIL characters before the cursor when it was shown
    text: str  # the suggestion, without trailing line breaks (editors drop them)


class Acceptance:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._pending: OrderedDict[str, list[Shown]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def observe(
        self, session: str, before: str, suggestion: str, key: str, model: str
    ) -> list[tuple[Shown, Verdict]]:
        """A request of ``session`` with ``before`` (the text before its cursor) answered
        ``suggestion``: judge the suggestions it shows the fate of, remember its own."""
        chain = self._pending.pop(session, [])
        verdicts: list[tuple[Shown, Verdict]] = []
        if chain and _continues(before, chain[-1]):
            pass  # asked as if the last one were accepted: nothing to judge yet
        else:
            verdicts = _judge(chain, before)
            chain = []
        text = suggestion[:MAX_SUGGESTION].rstrip("\n")
        if text.strip() and len(chain) < CHAIN:
            chain.append(Shown(key, model, before[-TAIL:], text))
        if chain:
            self._pending[session] = chain
            while len(self._pending) > self.capacity:
                self._pending.popitem(last=False)
        return verdicts


def _continues(before: str, last: Shown) -> bool:
    """``before`` is exactly the text before ``last`` with ``last`` accepted."""
    return before.endswith(last.before + last.text)


def _stands(before: str, context: str, inserted: str) -> bool:
    """``context`` then ``inserted`` stand near the end of ``before``."""
    needle = context + inserted
    return needle in before[-(len(needle) + SLACK) :]


def _judge(chain: list[Shown], before: str) -> list[tuple[Shown, Verdict]]:
    verdicts: list[tuple[Shown, Verdict]] = []
    for shown in chain:
        first_line, newline, _ = shown.text.partition("\n")
        if _stands(before, shown.before, shown.text):
            verdicts.append((shown, "whole"))
            continue  # the next one was shown after this one was accepted
        if newline and first_line.strip() and _stands(before, shown.before, first_line + "\n"):
            verdicts.append((shown, "line"))
        else:
            verdicts.append((shown, "ignored"))
        break  # the ones after it were never shown
    return verdicts
