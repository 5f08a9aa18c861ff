"""Client text that cannot become a control token of the prompt the orchestrator writes.

The orchestrator writes FIM prompts itself and sends them to llama-server's ``/completion``,
which tokenizes a prompt with special-token parsing on (the string parts of a mixed array of
token ids and strings too: ``tokenize_mixed(..., parse_special=true)`` in b11312), so a
control string inside client text (``<|file_sep|>`` in a file of the repository) would be
read as the control token and rewrite the prompt's structure. llama-server's own ``/infill``
tokenizes the client's text with parsing off; the orchestrator gets the same effect by
breaking every control string in that text with a zero-width space after its first
character, so the tokenizer reads it as text, and the model sees the text almost as written.

What is broken: the model's FIM tokens (``FimTokens``, as configured), and any text spelled
like a special token of the common vocabularies, ``<|name|>`` (Qwen, ChatML, Llama 3, ...)
and the same with DeepSeek's full-width bars (U+FF5C), a name being 1 to 64 characters
without blanks, bars or angle brackets (so Haskell's ``<|>`` stays as it is), and the
control tokens of vocabularies spelled otherwise that a model would read as structure
(``NAMED``: Gemma's turn and sequence markers). Which text:
every text of the client the orchestrator places into a structure of its own
(``defused``).

What stays true: the result contains no control string (each occurrence, overlapping ones
included, has the space inserted inside it), text without one comes back unchanged (the same
object), and the cost is linear: one regular-expression pass whose work at each position is
bounded by the longest control string.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from cerebrum.retrieval.request import FimTokens, ModelProfile, PromptRequest, Snippet

BREAK = "\u200b"  # ZERO WIDTH SPACE: no tokenizer merges it into a control token
# <|name|>, and the same with full-width bars (re reads the \uff5c escapes)
SPECIAL_LIKE = r"<\|[^\s<>|]{1,64}\|>|<\uff5c[^\s<>\uff5c]{1,64}\uff5c>"
NAMED = ("<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>")  # Gemma's


def control_strings(fim: FimTokens | None) -> tuple[str, ...]:
    """The model's FIM tokens, longest first (every one of them, configured or not, is a
    control string of its vocabulary)."""
    if fim is None:
        return ()
    tokens = (fim.prefix, fim.suffix, fim.middle, fim.file_separator, fim.repo_name)
    return tuple(sorted({t for t in tokens if t}, key=len, reverse=True))


@lru_cache(maxsize=64)  # one per configured FIM token set
def _pattern(fim: FimTokens | None) -> re.Pattern[str]:
    # A zero-width look-ahead then one character: every position where a control string
    # starts is found, overlapping ones too, and its first character is the one consumed.
    tokens = sorted({*control_strings(fim), *NAMED}, key=len, reverse=True)
    alternatives = [re.escape(token) for token in tokens if len(token) > 1]
    return re.compile(f"(?=(?:{'|'.join([*alternatives, SPECIAL_LIKE])}))(.)", re.DOTALL)


def defuse(text: str, fim: FimTokens | None = None) -> str:
    """``text`` with every control string in it broken (see the module's docstring)."""
    if "<" not in text and not any(token in text for token in control_strings(fim)):
        return text  # the common case, in a few passes of str.find
    return _pattern(fim).sub(lambda match: match.group(1) + BREAK, text)


def defused(request: PromptRequest, profile: ModelProfile) -> PromptRequest:
    """``request`` with the client's text defused wherever the orchestrator writes the
    structure around it: the context (texts and paths) in every format, and the prompt and
    suffix in the FIM format. A prompt outside FIM (and the chat history) stays as the client
    wrote it, as llama-server's own /completion and chat routes take it: there the client
    writes the structure itself."""
    fim = profile.fim if profile.format == "fim" else None
    context = tuple(
        Snippet(defuse(s.text, fim), None if s.path is None else defuse(s.path, fim))
        for s in request.context
    )
    if fim is None:
        return replace(request, context=context)
    suffix = None if request.suffix is None else defuse(request.suffix, fim)
    return replace(request, prompt=defuse(request.prompt, fim), suffix=suffix, context=context)
