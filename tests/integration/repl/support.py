"""Driving the REPL in a pseudo-terminal, and reading what the backend really received.

`Terminal` reads the REPL's output as a user would see it (escape sequences and carriage
returns removed) and waits for patterns in it; a failing wait shows the screen's tail.
`DebugSlotsLlamaServer` is the shared lab llama-server with LLAMA_SERVER_SLOTS_DEBUG=1, so
its /slots shows each slot's last prompt and generated text: the proof of what arrived.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pexpect

from harness.llama_server import LlamaServer

ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor movement, modes
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: window title
    r"|\x1b[()][0-9A-Za-z]|\x1b[=>78]"
)
PROMPT_IDLE = r">>>[ ]*\Z"  # the prompt, drawn and waiting for input
SUMMARY = r"-- (?P<tokens>\d+) tokens?, .*model (?P<model>\S+), request (?P<request>[0-9a-f]{32})"
MODEL_OUTPUT_TIMEOUT = 60.0  # a few seconds here, but the machine may be busy with other runs


def visible(raw: str) -> str:
    """What a terminal shows of ``raw``, as plain text (lines end with \\n)."""
    return ESCAPES.sub("", raw).replace("\r", "")


def marker() -> str:
    """A word no model would write by chance, to find a request in the backend's slots."""
    return "zq" + secrets.token_hex(4)


@dataclass
class Terminal:
    """A REPL process on a pseudo-terminal; ``mark`` is where the next wait starts looking."""

    child: pexpect.spawn
    raw: str = ""
    mark: int = 0
    ended: bool = field(default=False)

    @property
    def text(self) -> str:
        return visible(self.raw)

    def send_line(self, text: str) -> None:
        self.child.send(text + "\r")

    def wait_for(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """The first match of ``pattern`` after the mark (which moves past it)."""
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = compiled.search(self.text, self.mark)
            if found:
                self.mark = found.end()
                return found
            if self.ended or time.monotonic() > deadline:
                state = "the REPL exited" if self.ended else f"not seen within {timeout:g} s"
                raise AssertionError(f"{pattern!r}: {state}; the terminal shows:\n{self.tail()}")
            self._read(min(0.2, max(0.0, deadline - time.monotonic())))

    def wait_for_prompt(self, timeout: float = 10.0) -> None:
        self.wait_for(PROMPT_IDLE, timeout)

    def submit(self, text: str, until: str, timeout: float = 10.0) -> re.Match[str]:
        """Type ``text`` and Enter, wait for ``until``, then for the next prompt."""
        self.send_line(text)
        found = self.wait_for(until, timeout)
        self.wait_for_prompt(timeout)
        return found

    def complete(self, prompt: str) -> re.Match[str]:
        """Send a prompt and wait for its summary line (and the prompt after it)."""
        return self.submit(prompt, SUMMARY, MODEL_OUTPUT_TIMEOUT)

    def quit(self) -> int:
        """Ctrl-D at the prompt; the exit status."""
        self.child.sendeof()
        self.wait_until_exit()
        return int(self.child.exitstatus if self.child.exitstatus is not None else -1)

    def wait_until_exit(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.ended and time.monotonic() < deadline:
            self._read(0.2)
        assert self.ended, f"the REPL did not exit; the terminal shows:\n{self.tail()}"
        self.child.close()

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)

    def tail(self, chars: int = 3000) -> str:
        return self.text[-chars:]

    def _read(self, timeout: float) -> None:
        try:
            self.raw += self.child.read_nonblocking(65536, timeout=timeout)
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            self.ended = True


class DebugSlotsLlamaServer(LlamaServer):
    """The lab llama-server whose /slots also shows each slot's prompt and generated text."""

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "LLAMA_SERVER_SLOTS_DEBUG": "1"}

    def warm_up(self) -> None:
        """Load every model now (router mode loads on first use), not in a test's time."""
        for model in self.models:
            body = {"model": model, "prompt": "Hi", "n_predict": 1}
            response = httpx.post(
                f"{self.url}/completion", json=body, headers=self.headers, timeout=120
            )
            response.raise_for_status()


def slot_with(llama: LlamaServer, model: str, text: str) -> dict[str, Any] | None:
    """The slot of ``model`` whose last prompt contains ``text`` (None if none)."""
    for slot in llama.slots(model):
        if text in str(slot.get("prompt", "")):
            return slot
    return None


def busy_slots(llama: LlamaServer, model: str) -> int:
    return sum(1 for slot in llama.slots(model) if slot["is_processing"])
