"""What a prompt is sent with: model, language, limits, attached files; and the request body."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cerebrum.repl.errors import ReplError

MAX_CONTEXT_CHARS = 200_000  # the API's bound on one context item (schemas.MAX_PROMPT_CHARS)
DEFAULT_MAX_TOKENS = 256


@dataclass(slots=True)
class State:
    model: str | None = None  # None: the orchestrator's default
    language: str | None = None  # None: detected by the orchestrator
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float | None = None  # None: the backend's default
    multiline: bool = False
    context: list[str] = field(default_factory=list)  # attached files, as typed
    models: list[str] = field(default_factory=list)  # the aliases /v1/models listed
    default_model: str | None = None  # the orchestrator's default alias

    @property
    def shown_model(self) -> str | None:
        return self.model or self.default_model

    def body(self, prompt: str) -> dict[str, Any]:
        """The CompleteRequest for ``prompt``; the attached files are read now (ReplError)."""
        body: dict[str, Any] = {"prompt": prompt, "max_tokens": self.max_tokens}
        if self.model is not None:
            body["model"] = self.model
        if self.language is not None:
            body["language"] = self.language
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.context:
            body["context"] = [{"path": path, "text": read_context(path)} for path in self.context]
        return body

    def describe(self) -> str:
        """``model gemma, lang auto, max 256, temp default, multiline off, context 0 files``"""
        temperature = "default" if self.temperature is None else f"{self.temperature:g}"
        files = f"{len(self.context)} file{'' if len(self.context) == 1 else 's'}"
        return (
            f"model {self.shown_model or 'default'}, lang {self.language or 'auto'}, "
            f"max {self.max_tokens}, temp {temperature}, "
            f"multiline {'on' if self.multiline else 'off'}, context {files}"
        )


def read_context(path: str) -> str:
    """A context file's text, or a ReplError saying why it cannot be sent."""
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ReplError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ReplError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(text) > MAX_CONTEXT_CHARS:
        raise ReplError(f"{path}: {len(text)} characters, more than {MAX_CONTEXT_CHARS}")
    return text
