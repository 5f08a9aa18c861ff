"""What the code at the cursor refers to, and what a chunk defines: the ranker's code signals.

- `at_cursor`: the modules the cursor is about: the one named just before it (`_compat.`,
  `attrs.validators.`, `fmt::`), resolved through the prompt's imports (an alias stands for
  the module it was imported from; a variable for the module its type was imported from,
  when the text before the cursor annotates it, `ctx: Context`, or constructs it; `self.`,
  `this.`, `super().` for the modules of the enclosing class's bases), and the
  module of an import statement the cursor is in (`from ._config import |`,
  `import { | } from './utils'`, `require('./x')`);
- `imports`: the names the prompt's imports bind and the modules each stands for, and every
  module imported (Python `import`/`from`, JavaScript and TypeScript `import ... from`/
  `require`, Go `import "path"`, Rust `use a::b`), as the module names files are matched by
  (`module_of`);
- `Cursor.listed`: the names the import statement at the cursor lists, before the cursor and,
  while the statement is open (`from x import (`, `import {`, `export {`), in the suffix
  up to its close when the suffix holds only names there; the `from '...'` after a
  JavaScript close gives the module too;
- `Cursor.wanted`: names used just after the cursor (the suffix's start) that the text
  before it never mentions: what the code needs and the file does not define or import;
  `Cursor.mentioned`: the names the end of the prompt mentions or imports;
- `defined_names`: the names a chunk defines (`lexicon.DEFINERS`/`DECLARERS`, `name = ...`
  at a line's start; comment lines left out), and `definition_lines`, the lines that define
  them (the outline the assembler fits when the whole chunk does not).

Linear in the text: each pattern is a single pass (a match starts at a line's start or a
word's start and consumes no more than its line), and the cursor's context is read from
bounded windows (MAX_LINE_CHARS of the current line, SUFFIX_CHARS of the suffix,
MAX_TYPE_CHARS before the cursor for a qualifier's type, MAX_IMPORT_CHARS on either side for
an open import statement; at most 2 x MAX_NAMES names listed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from cerebrum.retrieval.lexicon import (
    DECLARERS,
    DEFINERS,
    IDENTIFIER,
    WORD_START,
    file_name,
    identifiers,
)

MAX_LINE_CHARS = 512  # of the cursor's line, on either side of the cursor
SUFFIX_CHARS = 512  # of the suffix read for the names it uses
MAX_NAMES = 64  # names kept from a window
MAX_IMPORT_CHARS = 4096  # how far back an open `from x import (` is looked for
MAX_TYPE_CHARS = 8192  # how far back a qualifier's type (annotation, constructor) is looked for
INDEX_NAMES = ("__init__", "index", "mod", "lib", "main")  # a folder's module file

_DOTTED = rf"{IDENTIFIER}(?>(?:[ \t]*(?:\.|::)[ \t]*{IDENTIFIER})*)"
_QUALIFIER = re.compile(rf"({_DOTTED})[ \t]*(?:\.|::|->)[ \t]*\Z")
_PY_FROM = re.compile(r"^[ \t]*from[ \t]+([.\w]++)[ \t]+import\b([^\n]*)", re.MULTILINE)
_PY_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w., \t]++)$", re.MULTILINE)
_JS_FROM = re.compile(r"""\bfrom[ \t]*['"]([^'"\n]{1,256})['"]""")
_JS_REQUIRE = re.compile(r"""\b(?:require|import)[ \t]*\([ \t]*['"]([^'"\n]{1,256})['"]""")
_JS_IMPORTED = re.compile(
    r"^[ \t]*(?:import|export)[ \t]+(?:type[ \t]+)?([^\n;]*?)[ \t]*"
    r"""from[ \t]*['"]([^'"\n]{1,256})['"]""",
    re.MULTILINE,
)
_JS_REQUIRED = re.compile(
    rf"{WORD_START}(?:const|let|var)[ \t]+({IDENTIFIER}|\{{[^}}\n]*\}})[ \t]*=[ \t]*"
    r"""require[ \t]*\([ \t]*['"]([^'"\n]{1,256})['"]"""
)
_GO_IMPORT = re.compile(
    rf"^[ \t]*(?:import[ \t]+)?(?:({IDENTIFIER})[ \t]+)?\"([\w./-]+)\"", re.MULTILINE
)
_RUST_USE = re.compile(
    r"^[ \t]*(?:pub[ \t]+)?use[ \t]+(\w+(?>(?:::\w+)*))(?:::\{([^}\n]*)\})?", re.MULTILINE
)
_AS = re.compile(rf"({IDENTIFIER})(?:[ \t]+as[ \t]+({IDENTIFIER}))?")
_OWN = frozenset(("self", "this", "cls", "super"))  # the enclosing class's own members
_CLASS = re.compile(
    rf"^[ \t]*(?:export[ \t]+)?(?:default[ \t]+)?class[ \t]+{IDENTIFIER}[ \t]*"
    r"(?:\(([^)\n]{0,256})\)|extends[ \t]+([\w.]{1,128}))",
    re.MULTILINE,
)
_KEYWORDS = "|".join((*DEFINERS, *DECLARERS))
_DEFINITION = re.compile(
    rf"{WORD_START}(?:{_KEYWORDS})[ \t]+\*?[ \t]*({IDENTIFIER})"
    rf"|^({IDENTIFIER})[ \t]*(?::[^=\n]*)?=(?!=)",
    re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class Cursor:
    """What the code at the cursor refers to."""

    modules: frozenset[str]  # the module the cursor is about (the qualifier's, the import's)
    imported: frozenset[str]  # every module the prompt imports
    wanted: frozenset[str]  # names used just after the cursor, not mentioned before it
    mentioned: frozenset[str]  # names the end of the prompt mentions or imports
    listed: frozenset[str] = frozenset()  # names the import statement at the cursor lists


def module_of(path: str) -> str:
    """The module name a file stands for: its name without extension, or its folder's name
    for a folder's module file (`pkg/__init__.py`, `src/index.ts`, `x/mod.rs` -> pkg, src, x)."""
    parts = path.replace("\\", "/").rsplit("/", 2)
    stem = file_name(path).split(".", 1)[0]
    if stem in INDEX_NAMES and len(parts) >= 2:
        return parts[-2]
    return stem


def _last(module: str) -> str:
    """The last part of a dotted, `::` or path-like module name: ".._config" -> _config,
    "./utils/kindOf.ts" -> kindOf, "std::fmt" -> fmt."""
    return module_of(module.replace("::", "/").replace(".", "/").strip("/") or module)


def _spec_last(spec: str) -> str:
    """The module name of a JavaScript/Go path: "./utils/kindOf" -> kindOf."""
    return module_of(spec.rstrip("/")) if spec.rstrip("/") else spec


def imports(prompt: str) -> dict[str, set[str]]:
    """Name (or alias) bound by an import -> the modules it may stand for; the key "" holds
    every module imported."""
    bound: dict[str, set[str]] = {"": set()}

    def bind(name: str, module: str) -> None:
        if name:
            bound.setdefault(name, set()).add(module)
        bound[""].add(module)

    for match in _PY_FROM.finditer(prompt):
        module = _last(match.group(1)) if match.group(1).strip(".") else ""
        for name, alias in _AS.findall(match.group(2)):
            bind(alias or name, module or name)  # `from . import x`: x is a module
            if module:
                bound.setdefault(alias or name, set()).add(name)  # or a module of the package
        if module:
            bound[""].add(module)
    for match in _PY_IMPORT.finditer(prompt):
        for name, alias in _AS.findall(match.group(1)):
            bind(alias or name, name)
        for dotted in re.findall(rf"{IDENTIFIER}(?>(?:\.{IDENTIFIER})+)", match.group(1)):
            bind(dotted.split(".", 1)[0], _last(dotted))
    for match in _JS_IMPORTED.finditer(prompt):
        module = _spec_last(match.group(2))
        for name in identifiers(match.group(1)):
            if name not in ("as", "type"):
                bind(name, module)
        bound[""].add(module)
    for match in _JS_REQUIRED.finditer(prompt):
        module = _spec_last(match.group(2))
        for name in identifiers(match.group(1)):
            bind(name, module)
    for match in _GO_IMPORT.finditer(prompt):
        module = _spec_last(match.group(2))
        bind(match.group(1) or module, module)
    for match in _RUST_USE.finditer(prompt):
        path = match.group(1).rstrip(":")
        module = _last(path)
        bind(module, module)
        for name in identifiers(match.group(2) or ""):
            bind(name, module)
    return bound


def at_cursor(prompt: str, suffix: str | None) -> Cursor:
    """The modules and names the code at the cursor refers to."""
    bound = imports(prompt)
    line_start = prompt.rfind("\n", max(0, len(prompt) - MAX_LINE_CHARS)) + 1
    before = prompt[max(line_start, len(prompt) - MAX_LINE_CHARS) :]
    after = (suffix or "")[:MAX_LINE_CHARS].split("\n", 1)[0]
    modules: set[str] = set()
    qualifier = _QUALIFIER.search(before)
    if qualifier is not None:
        parts = re.split(r"[ \t]*(?:\.|::)[ \t]*", qualifier.group(1))
        for part in (parts[-1], parts[0]):
            modules.update(bound.get(part, ()))
            types = (
                _bases(prompt[-MAX_TYPE_CHARS:])
                if part in _OWN
                else _types_of(part, prompt[-MAX_TYPE_CHARS:])
            )
            for type_name in types:
                modules.update(bound.get(type_name, ()))
        modules.add(parts[-1])
    line = before + after
    statement = _PY_FROM.match(line.lstrip("\n")) or _open_import(prompt)
    if statement is not None and statement.group(1).strip("."):
        modules.add(_last(statement.group(1)))
    for pattern in (_JS_FROM, _JS_REQUIRE):
        for spec in pattern.findall(line):
            modules.add(_spec_last(spec))
    listed: set[str] = set()
    if statement is not None:
        listed.update(_listed_python(statement, suffix or ""))
    braced = _open_braces(prompt, suffix or "")
    if braced is not None:
        names, spec = braced
        listed.update(names)
        if spec:
            modules.add(_spec_last(spec))
    seen = set(identifiers(prompt[-4 * SUFFIX_CHARS :])) | bound.keys()
    wanted = [n for n in identifiers((suffix or "")[:SUFFIX_CHARS]) if n not in seen]
    return Cursor(
        frozenset(modules),
        frozenset(bound[""]),
        frozenset(wanted[:MAX_NAMES]),
        frozenset(seen),
        frozenset(sorted(listed - _IMPORT_WORDS)[:MAX_NAMES]),
    )


_IMPORT_WORDS = frozenset(("as", "type", "typeof", "from", "import", "export", "default"))
_OPEN_BRACE_HEADS = frozenset(("import", "export", "import type", "export type"))


def _listed_python(statement: re.Match[str], suffix: str) -> list[str]:
    """The names a Python `from x import ...` at the cursor lists: those after `import` up to
    the cursor and, when its parenthesis is still open, those of the suffix up to `)`
    (within MAX_IMPORT_CHARS)."""
    names = identifiers(statement.string[statement.start(2) :])
    if "(" in statement.group(2) and (rest := _names_until(suffix, ")")) is not None:
        names += rest[0]
    return names[: 2 * MAX_NAMES]


_NAME_LIST = re.compile(r"[\w \t\n,]*+")


def _names_until(suffix: str, close: str) -> tuple[list[str], int] | None:
    """The names the suffix lists before `close`, and where `close` is, when all the suffix
    holds up to there is names, commas and blanks (the rest of an open import statement),
    within MAX_IMPORT_CHARS; else None."""
    window = suffix[:MAX_IMPORT_CHARS]
    listing = _NAME_LIST.match(window)
    end = listing.end() if listing else 0
    return (identifiers(window[:end]), end) if window[end : end + 1] == close else None


def _open_braces(prompt: str, suffix: str) -> tuple[list[str], str] | None:
    """A JavaScript/TypeScript `import {` or `export {` still open at the cursor (within
    MAX_IMPORT_CHARS of it): the names it lists before the cursor and in the suffix up to
    its `}`, and the module spec of the `from '...'` after that `}` ("" when none is read
    within MAX_IMPORT_CHARS of the suffix)."""
    tail = prompt[-MAX_IMPORT_CHARS:]
    opening = tail.rfind("{")
    if opening < 0 or "}" in tail[opening:]:
        return None
    line_start = tail.rfind("\n", 0, opening) + 1
    if " ".join(tail[line_start:opening].split()) not in _OPEN_BRACE_HEADS:
        return None
    names = identifiers(tail[opening + 1 :])
    rest = _names_until(suffix, "}")
    if rest is None:
        return names[: 2 * MAX_NAMES], ""
    spec = _FROM_AFTER_BRACE.match(suffix, rest[1] + 1)
    return (names + rest[0])[: 2 * MAX_NAMES], spec.group(1) if spec else ""


_FROM_AFTER_BRACE = re.compile(r"""[ \t]*from[ \t]*['"]([^'"\n]{1,256})['"]""")


def _bases(text: str) -> set[str]:
    """The base classes of the class the text ends in (its last `class X(Base):` or
    `class X extends Base` header)."""
    headers = _CLASS.findall(text)
    return set(identifiers(" ".join(headers[-1]))) if headers else set()


def _types_of(variable: str, text: str) -> set[str]:
    """The types `text` gives the variable: annotated (`ctx: Context`, `ctx: "Context"`,
    `ctx: t.Optional[Context]`) or constructed (`ctx = Context(`)."""
    pattern = re.compile(
        rf"{WORD_START}{re.escape(variable)}[ \t]*"
        rf"(?::[ \t]*[\"']?([\w.\[]{{1,128}})|=[ \t]*({IDENTIFIER})\()"
    )
    types: set[str] = set()
    for annotation, constructor in pattern.findall(text):
        for name in identifiers(annotation or constructor):
            types.add(name)
    return types


def _open_import(prompt: str) -> re.Match[str] | None:
    """`from x import (` still open at the cursor (within MAX_IMPORT_CHARS of it)."""
    tail = prompt[-MAX_IMPORT_CHARS:]
    opening = tail.rfind("import (")
    if opening < 0 or ")" in tail[opening:]:
        return None
    line_start = tail.rfind("\n", 0, opening) + 1
    return _PY_FROM.match(tail, line_start)


_COMMENT_STARTS = ("#", "//", "/*", "*", "--")  # a line comment or a block's inner line
MAX_INDENT_CHARS = 256  # a line's indent read for a comment mark


def _definitions(text: str) -> Iterator[tuple[int, int, str]]:
    """(line start, line end, name) of each line that defines a name, in order, the first
    definition of a line only; comment lines (`#`, `//`, `*` ... after the indent) left out.
    One pass: each line start is looked for only between the previous match and this one."""
    line_start = 0
    last_end = -1
    searched = 0
    for match in _DEFINITION.finditer(text):
        if match.start() <= last_end:
            continue  # a second definition on a line already taken (or left out)
        newline = text.rfind("\n", searched, match.start())
        if newline >= 0:
            line_start = newline + 1
        searched = match.start()
        end = text.find("\n", match.end())
        last_end = len(text) if end < 0 else end
        head = text[line_start : min(line_start + MAX_INDENT_CHARS, last_end)].lstrip(" \t")
        if not head.startswith(_COMMENT_STARTS):
            yield line_start, last_end, match.group(1) or match.group(2)


def definition_lines(text: str) -> str:
    """The lines of `text` that define a name (as `defined_names` reads them), in order,
    each ending in a newline: a chunk's outline."""
    return "".join(text[start:end] + "\n" for start, end, _ in _definitions(text))


def defined_names(text: str) -> frozenset[str]:
    """The names `text` defines: after a definition or declaration keyword, or assigned at
    a line's start (`NAME = ...`, `NAME: type = ...`), outside comment lines (the first
    definition of a line only)."""
    return frozenset(name for _, _, name in _definitions(text))
