"""Facts about programming languages: the names, file names and interpreters that imply
each, its comment syntax and block style. What is the same in every language (identifiers,
definition keywords, file names in text) is in `lexicon`."""

from __future__ import annotations

from typing import Literal

from cerebrum.retrieval.lexicon import file_name

BlockStyle = Literal["indent", "brace", "lines"]

# Canonical name -> (line comment opener, closer, block style).
_LANGUAGES: dict[str, tuple[str, str, BlockStyle]] = {
    "python": ("#", "", "indent"),
    "javascript": ("//", "", "brace"),
    "typescript": ("//", "", "brace"),
    "java": ("//", "", "brace"),
    "kotlin": ("//", "", "brace"),
    "scala": ("//", "", "brace"),
    "c": ("//", "", "brace"),
    "cpp": ("//", "", "brace"),
    "csharp": ("//", "", "brace"),
    "go": ("//", "", "brace"),
    "rust": ("//", "", "brace"),
    "swift": ("//", "", "brace"),
    "php": ("//", "", "brace"),
    "dart": ("//", "", "brace"),
    "css": ("/*", " */", "brace"),
    "shell": ("#", "", "lines"),
    "ruby": ("#", "", "lines"),
    "perl": ("#", "", "lines"),
    "r": ("#", "", "lines"),
    "yaml": ("#", "", "lines"),
    "toml": ("#", "", "lines"),
    "make": ("#", "", "lines"),
    "dockerfile": ("#", "", "lines"),
    "sql": ("--", "", "lines"),
    "lua": ("--", "", "lines"),
    "haskell": ("--", "", "lines"),
    "html": ("<!--", " -->", "lines"),
    "xml": ("<!--", " -->", "lines"),
    "markdown": ("<!--", " -->", "lines"),
    "json": ("//", "", "lines"),
}

_ALIASES: dict[str, str] = {
    "py": "python", "python3": "python", "py3": "python",
    "js": "javascript", "node": "javascript", "nodejs": "javascript", "node.js": "javascript",
    "jsx": "javascript", "mjs": "javascript",
    "ts": "typescript", "tsx": "typescript",
    "c++": "cpp", "cxx": "cpp", "cc": "cpp", "hpp": "cpp",
    "c#": "csharp", "cs": "csharp",
    "golang": "go", "rs": "rust", "kt": "kotlin", "rb": "ruby",
    "sh": "shell", "bash": "shell", "zsh": "shell", "console": "shell",
    "yml": "yaml", "md": "markdown", "makefile": "make", "htm": "html",
}  # fmt: skip

_EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".tsx": "typescript", ".mts": "typescript",
    ".java": "java", ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hh": "cpp", ".hpp": "cpp", ".hxx": "cpp",
    ".cs": "csharp", ".go": "go", ".rs": "rust", ".swift": "swift", ".php": "php",
    ".dart": "dart", ".css": "css", ".scss": "css",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell",
    ".rb": "ruby", ".pl": "perl", ".r": "r", ".lua": "lua", ".hs": "haskell", ".sql": "sql",
    ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json",
    ".html": "html", ".htm": "html", ".xml": "xml", ".md": "markdown",
}  # fmt: skip

_FILENAMES: dict[str, str] = {"makefile": "make", "dockerfile": "dockerfile"}

# Interpreters (a script's `#!` line) that are not a name or an alias of their language.
_PROGRAMS: dict[str, str] = {
    "dash": "shell", "ksh": "shell", "deno": "typescript", "ts-node": "typescript", "rscript": "r",
}  # fmt: skip


def normalize_language(name: str | None) -> str | None:
    """The canonical name of a language ("Py" -> "python", "c++" -> "cpp"), or None."""
    if not name:
        return None
    key = name.strip().lower()
    if not key:
        return None
    return _ALIASES.get(key, key)


def language_of_path(path: str | None) -> str | None:
    """The language a file name implies ("src/app.ts" -> "typescript"), or None."""
    if not path:
        return None
    name = file_name(path).lower()
    if name in _FILENAMES:
        return _FILENAMES[name]
    dot = name.rfind(".")
    if dot <= 0 and not name.startswith("."):
        return None
    return _EXTENSIONS.get(name[dot:])


def language_of_program(program: str) -> str | None:
    """The language an interpreter runs ("python3.12" -> "python", "bash" -> "shell"), or None."""
    name = program.lower()
    for candidate in (name, name.rstrip("0123456789.")):
        language = _PROGRAMS.get(candidate) or normalize_language(candidate)
        if language in _LANGUAGES:
            return language
    return None


def comment_syntax(language: str | None) -> tuple[str, str]:
    """The (opener, closer) that make one line a comment; "#" for an unknown language."""
    entry = _LANGUAGES.get(language or "")
    return (entry[0], entry[1]) if entry else ("#", "")


def block_style(language: str | None) -> BlockStyle:
    """How the language delimits functions: by indentation, by braces, or unknown (lines)."""
    entry = _LANGUAGES.get(language or "")
    return entry[2] if entry else "lines"
