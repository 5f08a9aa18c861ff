"""The words of source code, whatever its language: identifiers, the parts they split into,
the keywords that introduce a name, and file names.

Each rule is defined here once and imported by the stages that read code (the instruction
parser, the ranker, the token estimate); what differs between languages (file extensions,
comments, block style) is in `languages`. Every pattern scans each character a bounded
number of times: tests/unit/retrieval/test_linearity.py keeps it so.
"""

from __future__ import annotations

import re
import string

# --- identifiers ------------------------------------------------------------------------

IDENTIFIER_CHARS = frozenset(string.ascii_letters + string.digits + "_")
"""An identifier is a run of these (ASCII letters, digits, underscores) that does not start
with a digit; a run that does is a number. Every other character separates identifiers."""

IDENTIFIER_CHAR = "[A-Za-z0-9_]"
"""IDENTIFIER_CHARS as a regex class."""
IDENTIFIER = f"[A-Za-z_]{IDENTIFIER_CHAR}*+"
"""Regex text of an identifier, for patterns that find one in context."""
WORD_START = f"(?<!{IDENTIFIER_CHAR})"
"""Regex guard: what follows starts a run of identifier characters (not inside one), so
that a pattern beginning with an identifier or a keyword is tried once per run."""
WORD_END = f"(?!{IDENTIFIER_CHAR})"
"""Regex guard: what precedes ends a run of identifier characters."""

_IDENTIFIER_BYTES = bytes(byte if chr(byte) in IDENTIFIER_CHARS else 32 for byte in range(256))


def identifier_runs(text: str) -> list[bytes]:
    """The runs of identifier characters in `text`, in order, as ASCII bytes: identifiers
    and numbers (one pass in C)."""
    return text.encode("utf-8", "surrogatepass").translate(_IDENTIFIER_BYTES).split()


def identifiers(text: str) -> list[str]:
    """The identifiers in `text`, in order (numbers left out): "getX(0x1F, b_2)" -> getX, b_2."""
    return [run.decode("ascii") for run in identifier_runs(text) if not run[:1].isdigit()]


def is_identifier_char(text: str, index: int) -> bool:
    """Whether text[index] exists and is an identifier character."""
    return 0 <= index < len(text) and text[index] in IDENTIFIER_CHARS


# --- the parts of an identifier ---------------------------------------------------------

_SUBWORD = r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+"
SUBWORD = re.compile(_SUBWORD)
"""The letter parts of an identifier, split at case changes: an acronym (capitals not followed
by a lowercase letter) or a word with at most one leading capital; digits and underscores
separate parts. getHTTPCode_v2 -> get, HTTP, Code, v."""
SUBWORD_BYTES = re.compile(_SUBWORD.encode("ascii"))
"""SUBWORD for ASCII bytes."""


# --- keywords ---------------------------------------------------------------------------

DEFINERS = (
    "def", "class", "function", "fn", "func", "struct", "enum", "interface", "trait", "type",
    "impl", "module", "namespace", "union",
)  # fmt: skip
"""Keywords followed by the name of what they define: `def name`, `struct name`, `impl Name`."""
DECLARERS = ("const", "let", "var")
"""Keywords followed by the name of a variable they declare: `let name = ...`."""


# --- file names -------------------------------------------------------------------------


def file_name(path: str) -> str:
    """The last part of a path, with `/` or `\\` as separator: "src\\app.ts" -> "app.ts"."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]


_NAME_RUN = re.compile(r"[\w.-]++")
_EXTENSION = re.compile(r"[A-Za-z0-9]{1,8}(?!\w)")


def mentioned_file_names(text: str) -> frozenset[str]:
    """File names (`utils.py`, `src/app.ts` -> app.ts) that `text` mentions: in each run of
    word characters, dots and dashes, the longest start that ends in a dot and a 1-8 letter
    or digit extension (one pass over the text, then over each run's dots from the end)."""
    names: set[str] = set()
    for run in _NAME_RUN.findall(text):
        end = len(run)
        while (dot := run.rfind(".", 0, end)) > 0:
            extension = _EXTENSION.match(run, dot + 1)
            if extension is not None:
                names.add(run[: extension.end()])
                break
            end = dot
    return frozenset(names)
