"""llama.cpp's own API as editors speak it: the answers of llama-server's ``/completion`` and
``/infill``, rebuilt from the backend's stream.

The orchestrator always streams from the backend (so it sees the first token, applies its
timeouts and can hang up), then answers the client the way llama-server itself would:

- streamed: every backend event is passed on as it is, the final one of each completion
  filtered by ``response_fields``; no ``[DONE]`` line (llama-server sends none here);
- not streamed: each completion's final event with the whole ``content`` (and ``tokens``),
  filtered by ``response_fields``; one object, or an array ordered by ``index`` when the
  request asked for several completions (``n_cmpl``), as llama.vscode expects.

``response_fields`` follows llama-server's ``json_get_nested_values``: each path is split at
``/`` and looked up from the root; a value found is put at the root under the whole path
(``"timings/prompt_n": 12``), a path not found is left out, so ``[""]`` answers ``{}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cerebrum.api.schemas import ErrorResponse
from cerebrum.core.generation import Piece


def select_fields(result: Mapping[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    """``result`` as llama-server answers it for ``response_fields`` (all of it when empty)."""
    if not paths:
        return dict(result)
    selected: dict[str, Any] = {}
    for path in paths:
        value: Any = result
        for key in path.split("/"):
            if not isinstance(value, Mapping) or key not in value:
                break
            value = value[key]
        else:
            selected[path] = value
    return selected


class Completions:
    """The completions of one request, gathered from the backend's events by ``index``."""

    def __init__(self) -> None:
        self._texts: dict[int, list[str]] = {}
        self._tokens: dict[int, list[Any]] = {}
        self._final: dict[int, dict[str, Any]] = {}

    def add(self, event: Mapping[str, Any]) -> None:
        index = event.get("index", 0)
        index = index if isinstance(index, int) else 0
        self._texts.setdefault(index, []).append(str(event.get("content") or ""))
        tokens = event.get("tokens")
        if isinstance(tokens, list):
            self._tokens.setdefault(index, []).extend(tokens)
        if event.get("stop"):
            self._final[index] = dict(event)

    def add_piece(self, piece: Piece) -> None:
        """``add`` the backend's own event a piece carries (a chat piece carries none)."""
        if piece.event is not None:
            self.add(piece.event)

    def results(self) -> list[dict[str, Any]]:
        """Each completion's final event with its whole text, ordered by index."""
        results = []
        for index in sorted(self._final):
            result = self._final[index]
            result["content"] = "".join(self._texts.get(index, ()))
            if "tokens" in result:
                result["tokens"] = self._tokens.get(index, [])
            results.append(result)
        return results


def answer(results: Iterable[Mapping[str, Any]], fields: Sequence[str]) -> Any:
    """The non-streamed body: one object, or an array for several completions."""
    selected = [select_fields(result, fields) for result in results]
    return selected[0] if len(selected) == 1 else selected


def error_event(status: int, kind: str, message: str) -> ErrorResponse:
    """An error as llama-server answers it (``code``, ``message``, ``type``, in its order)."""
    return {"error": {"code": status, "message": message, "type": kind}}
