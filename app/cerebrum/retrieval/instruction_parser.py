"""Read the request: which language, what the user wants (intent), which symbols it is about.

Linear in the prompt: a long prompt is read in bounded windows (its head and its tail), at
most CUE_SNIPPETS context snippets are searched for language cues, and every pattern below
scans each character a bounded number of times: possessive quantifiers (`*+`, `++`) where
a pattern could otherwise backtrack, a word-start guard (`(?<![A-Za-z0-9_])`) before a
pattern that begins with an identifier, and runs that stop at the next opener (`[^<>\n]`)
where a pattern looks ahead for a closer. tests/unit/retrieval/test_linearity.py keeps it so.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from cerebrum.retrieval.languages import (
    language_of_path,
    language_of_program,
    normalize_language,
)
from cerebrum.retrieval.lexicon import (
    DECLARERS,
    DEFINERS,
    IDENTIFIER,
    IDENTIFIER_CHAR,
    WORD_END,
    WORD_START,
    identifiers,
)

Intent = Literal["complete", "generate", "explain", "fix"]

MAX_SYMBOLS = 32
WINDOW_CHARS = 8000  # a long prompt is read in its last 8000 characters (nearest the cursor)
HEAD_CHARS = 2000  # ... and its first 2000 (where instructions go)
CUE_SNIPPETS = 2  # unnamed snippets (most recent first) searched for language cues
CUE_CHARS = 4000  # ... in their last 4000 characters, as the prompt's code


@dataclass(frozen=True, slots=True)
class Instruction:
    """What the parser read from a request."""

    language: str | None
    intent: Intent
    symbols: tuple[str, ...]


def parse_instruction(
    prompt: str,
    language: str | None = None,
    context: Sequence[tuple[str | None, str]] = (),
) -> Instruction:
    """Language, intent and symbols of a prompt; `context` is (path, text) of the snippets."""
    parts = split_prompt(prompt)
    return Instruction(
        language=detect_language(prompt, language, context, parts),
        intent=detect_intent(prompt, parts),
        symbols=extract_symbols(prompt, parts),
    )


@dataclass(frozen=True, slots=True)
class PromptParts:
    """A prompt's lines sorted into prose (instructions), comments and code."""

    prose: tuple[str, ...]
    comments: tuple[str, ...]  # the text of comment lines, without the comment marker
    code: str  # code lines (fenced ones included), joined by newlines
    ends_in_code: bool  # the last line is code to continue (not prose, not a closed fence)


def split_prompt(prompt: str) -> PromptParts:
    """Sort a prompt's lines into prose, comments and code.

    Fenced blocks are code; lines of triple-quoted strings are comments. Prose counts only
    before the first code line or after the last one (an instruction leads or follows the
    code it is about); prose-like lines between code lines belong to the code. A long prompt
    (an editor buffer) is read at its head and at its tail nearest the cursor.
    """
    kinds: list[tuple[str, str]] = []  # ("prose" | "comment" | "code", text)
    ends_in_code = False
    in_fence = in_string = False
    for line in _view(prompt).splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            ends_in_code = False  # a closed fence ends a quotation, not code to continue
            continue
        if not line.strip():
            continue
        if in_fence:
            kinds.append(("code", line))
            continue
        quotes = line.count('"' * 3) + line.count("'" * 3)
        comment = _COMMENT.match(line)
        if in_string or quotes:
            in_string = in_string != (quotes % 2 == 1)
            kinds.append(("comment", line.strip().strip("\"'")))
            ends_in_code = True
        elif comment:
            kinds.append(("comment", line[comment.end() :]))
            ends_in_code = True
        elif _is_prose(line):
            kinds.append(("prose", line))
            ends_in_code = False
        else:
            kinds.append(("code", line))
            ends_in_code = True
    if in_fence:
        ends_in_code = True  # an unclosed fence: the user is writing code inside it
    code_at = [i for i, (kind, _) in enumerate(kinds) if kind == "code"]
    first, last = (code_at[0], code_at[-1]) if code_at else (len(kinds), -1)
    return PromptParts(
        prose=tuple(
            text for i, (kind, text) in enumerate(kinds) if kind == "prose" and not first < i < last
        ),
        comments=tuple(text for kind, text in kinds if kind == "comment"),
        code="\n".join(text for kind, text in kinds if kind == "code"),
        ends_in_code=ends_in_code,
    )


def _view(prompt: str) -> str:
    """The prompt, or for a long one its head and its tail, with a fence or a triple quote
    put in between when the part left out opens one (so that the tail reads the same)."""
    if len(prompt) <= HEAD_CHARS + WINDOW_CHARS:
        return prompt
    head = prompt[: prompt.rfind("\n", 0, HEAD_CHARS) + 1]
    tail_start = prompt.find("\n", len(prompt) - WINDOW_CHARS) + 1
    if tail_start <= len(head):
        return prompt
    middle = prompt[len(head) : tail_start]
    filler = ""
    if len(_FENCE.findall(middle)) % 2:
        filler += "```\n"
    if (middle.count('"' * 3) + middle.count("'" * 3)) % 2:
        filler += '"' * 3 + "\n"
    return head + filler + prompt[tail_start:]


# --- language ---------------------------------------------------------------------------

_FENCE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([\w+#.-]*)", re.MULTILINE)
_SHEBANG = re.compile(r"\A#![ \t]*(\S+)(?:[ \t]+(\S+))?")

# (language, cue, weight): syntax that is typical of one language. Scores add up per language.
_CUES: tuple[tuple[str, re.Pattern[str], int], ...] = tuple(
    (lang, re.compile(pattern, re.MULTILINE), weight)
    for lang, pattern, weight in (
        ("python", r"^[ \t]*+(?:async[ \t]++)?def[ \t]++\w++[ \t]*+\([^)\n]*+\)?[^{\n]*+$", 3),
        ("python", r"^[ \t]*+class[ \t]++\w++(?:\([^)\n]*+\))?[ \t]*+:", 3),
        (
            "python",
            r"^[ \t]*+(?:from[ \t]++[\w.]++[ \t]++)?import[ \t]++\w++[ \t]*+(?>(?:,[ \t]*+\w++)*)$",
            2,
        ),
        ("python", r"^[ \t]*+(?:for|while|if|elif|with|try|else)\b[^{};\n]*:[ \t]*+$", 2),
        ("python", r"\bself\.\w|\belif\b|\b__(?!_)\w{1,64}?__\b|\bNone\b|:[ \t\r\f\v]*+$", 1),
        ("rust", r"\b(?:pub[ \t]++)?fn[ \t]++\w", 3),
        ("rust", r"\blet[ \t]++mut\b|\bimpl\b|\b\w++!\(|&str\b|\bVec<|^use[ \t]++\w++::", 2),
        ("go", r"\bfunc[ \t]++(?:\([^()\n]*+\)[ \t]*+)?\w*+\(", 3),
        ("go", r"^package[ \t]++\w++[ \t]*+$|:=|\bfmt\.\w|\bchan\b", 2),
        ("c", r"^#[ \t]*include[ \t]*[<\"]", 3),
        ("c", r"\b(?:printf|malloc|free|sizeof)\(|\bNULL\b|\bint[ \t]+main[ \t]*\(", 2),
        (
            "cpp",
            r"\bstd::|\btemplate[ \t]*<|\bnullptr\b|#include[ \t]*<(?:iostream|vector|string)>",
            4,
        ),
        ("java", r"\bpublic[ \t]++(?:final[ \t]++)?class\b|\bSystem\.out\.|@Override\b", 4),
        ("java", r"\bimport[ \t]++java\.|\bpublic[ \t]++static[ \t]++void[ \t]++main\b", 4),
        ("javascript", r"\bfunction\b|\bconst[ \t]++\w++[ \t]*+=|\blet[ \t]++\w++[ \t]*+=|=>", 2),
        ("javascript", r"\bconsole\.log\(|\brequire\(|\bmodule\.exports\b|\bdocument\.", 3),
        (
            "typescript",
            r":[ \t]*+(?:string|number|boolean|void)\b|\binterface[ \t]++\w++[ \t]*+\{",
            3,
        ),
        (
            "csharp",
            r"\busing[ \t]++System\b|\bConsole\.Write|\bnamespace[ \t]++[\w.]++[ \t]*+\{?$",
            4,
        ),
        ("shell", r"^[ \t]*+(?:echo|export|fi|done|esac)\b|\$\{\w++\}|\bif[ \t]++\[", 2),
        (
            "sql",
            r"(?i)\bselect\b[\s\S]{1,200}?\bfrom\b|\bcreate[ \t]+table\b|\binsert[ \t]+into\b",
            4,
        ),
        ("php", r"<\?php|\$this->", 5),
        (
            "ruby",
            r"^[ \t]*+def[ \t]++\w++[!?]?(?:[ \t]*+\([^)\n]*+\))?[ \t]*+$|\bputs[ \t]|^[ \t]*+end$",
            2,
        ),
        ("html", r"<(?:html|div|body|span|head|p)\b[^<>\n]*+>", 3),
    )
)
_MIN_CUE_SCORE = 2


def detect_language(
    prompt: str,
    explicit: str | None = None,
    context: Sequence[tuple[str | None, str]] = (),
    parts: PromptParts | None = None,
) -> str | None:
    """Explicit field > code fence > shebang > a language named in the prose ("in Rust")
    > context file extensions > syntax cues of the prompt's code > cues of unnamed snippets."""
    language = normalize_language(explicit)
    if language:
        return language
    for match in _FENCE.finditer(prompt):
        if match.group(2):
            return normalize_language(match.group(2))
    language = _language_of_shebang(prompt.lstrip())
    if language:
        return language
    parts = parts or split_prompt(prompt)
    language = _language_named(" ".join((*parts.prose, *parts.comments)))
    if language:
        return language
    language = _language_of_paths(path for path, _ in context)
    if language:
        return language
    language = _language_of_cues(parts.code[-CUE_CHARS:])
    if language:
        return language
    # Last resort: the cues of the most recent unnamed snippets (editor buffers).
    unnamed = [text for path, text in reversed(context) if path is None]
    for text in unnamed[:CUE_SNIPPETS]:
        language = _language_of_cues(text[-CUE_CHARS:])
        if language:
            return language
    return None


_NAMED = re.compile(
    r"\b(python|rust|golang|javascript|typescript|java|kotlin|swift|ruby|php|haskell|lua|"
    r"bash|sql|scala|perl|dart|node\.?js)\b|(\bC\+\+)|(\bC#)|\b(?:in|using|with)\s+(C|Go)\b",
    re.IGNORECASE,
)


def _language_named(prose: str) -> str | None:
    match = _NAMED.search(prose)
    if not match:
        return None
    return normalize_language(next(name for name in match.groups() if name))


def _language_of_shebang(text: str) -> str | None:
    match = _SHEBANG.match(text)
    if not match:
        return None
    program = match.group(1).rsplit("/", 1)[-1]
    if program == "env" and match.group(2):
        program = match.group(2)
    return language_of_program(program)


def _language_of_paths(paths: Iterable[str | None]) -> str | None:
    """The most common language among the paths; ties go to the most recent snippet."""
    votes: Counter[str] = Counter()
    last_seen: dict[str, int] = {}
    for index, path in enumerate(paths):
        language = language_of_path(path)
        if language:
            votes[language] += 1
            last_seen[language] = index
    if not votes:
        return None
    return max(votes, key=lambda lang: (votes[lang], last_seen[lang]))


def _language_of_cues(text: str) -> str | None:
    scores: Counter[str] = Counter()
    for language, cue, weight in _CUES:
        if cue.search(text):
            scores[language] += weight
    if not scores:
        return None
    # C++ is a superset of C's cues: a C++ cue makes the C points count for C++ too.
    if scores["cpp"]:
        scores["cpp"] += scores.pop("c", 0)
    if scores["typescript"]:
        scores["typescript"] += scores.pop("javascript", 0)
    language, score = max(scores.items(), key=lambda item: item[1])
    return language if score >= _MIN_CUE_SCORE else None


# --- intent -----------------------------------------------------------------------------

_FIX_VERBS = frozenset({"fix", "debug", "repair", "correct", "resolve", "patch"})
_EXPLAIN_VERBS = frozenset(
    {"explain", "describe", "why", "what", "whats", "what's", "how", "summarize", "summarise"}
)
_GENERATE_VERBS = frozenset(
    {
        "write", "create", "implement", "generate", "make", "add", "build", "give", "define",
        "produce", "code", "draft", "design", "refactor", "convert", "translate", "rewrite",
        "port", "update", "change", "modify", "extend", "complete", "finish", "show", "use",
    }
)  # fmt: skip
_POLITE = frozenset({"please", "can", "could", "would", "you", "kindly", "now", "then", "and"})
_FIX_WORDS = re.compile(
    r"\b(?:fix\w*|bugs?|buggy|errors?|exceptions?|traceback|crash\w*|broken|fail\w*|"
    r"wrong|doesn'?t work|does not work|not working|segfault\w*|panic\w*|incorrect)\b"
    r"|\b[A-Z]\w*(?:Error|Exception)\b",  # TypeError, NullPointerException
    re.IGNORECASE,
)
_EXPLAIN_WORDS = re.compile(
    r"\b(?:explain\w*|why|what does|what is|what's|how does|how do|meaning|describe)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z']+")
_COMMENT = re.compile(r"^\s*(?:#(?!include|define|if|pragma)|//|--|/\*|\*|<!--)\s?")
_CODE_START = re.compile(
    r"^\s*(?:def|class|import|from|return|if|elif|else|for|while|fn|func|function|let|const|"
    r"var|pub|public|private|protected|static|struct|enum|impl|package|use|using|#include|"
    r"#define|try|except|catch|switch|case|async|await|yield|lambda|with|raise|throw|int|"
    r"void|char|float|double|bool|auto|template|namespace|interface|type|export|SELECT|"
    r"select|@\w+)\b"
)
_CODE_CHARS = frozenset("{}[]()<>=;:+*/\\|&^%$#@~`\"'_")


def detect_intent(prompt: str, parts: PromptParts | None = None) -> Intent:
    """The intent: "complete" code, or "generate"/"explain"/"fix" for an instruction.

    Prose outside code decides (its leading verb, then fix/explain keywords); without a
    keyword, prose that ends in code is "complete" and prose alone is "generate". A prompt of
    comments only is read as prose; comments above code are part of the code.
    """
    parts = parts or split_prompt(prompt)
    if parts.prose:
        intent = _intent_of_prose(parts.prose)
        return intent or ("complete" if parts.ends_in_code else "generate")
    if parts.code or not parts.comments:
        return "complete"
    return _intent_of_prose(parts.comments) or "complete"


def _is_prose(line: str) -> bool:
    stripped = line.strip()
    if _CODE_START.match(stripped) or line[:1] in (" ", "\t"):
        return _leading_verb(stripped) is not None and not stripped.endswith((":", "{", ";"))
    words = _WORD.findall(stripped)
    if _leading_verb(stripped) is not None and len(words) >= 2:
        return True
    if len(words) < 3:
        return False
    code_chars = sum(1 for char in stripped if char in _CODE_CHARS)
    return code_chars <= max(2, len(stripped) // 12) and not stripped.endswith(("{", ";", ","))


def _leading_verb(text: str) -> Intent | None:
    for word in _WORD.findall(text.lower())[:4]:
        if word in _POLITE:
            continue
        if word in _FIX_VERBS:
            return "fix"
        if word in _EXPLAIN_VERBS:
            return "explain"
        if word in _GENERATE_VERBS:
            return "generate"
        return None
    return None


def _intent_of_prose(lines: Sequence[str]) -> Intent | None:
    intent = _leading_verb(lines[0])
    if intent:
        return intent
    text = "\n".join(lines)
    if _FIX_WORDS.search(text):
        return "fix"
    if _EXPLAIN_WORDS.search(text):
        return "explain"
    for line in lines[1:]:
        intent = _leading_verb(line)
        if intent:
            return intent
    return None


# --- symbols ----------------------------------------------------------------------------

_BACKTICKED = re.compile(r"`([^`\n]{1,120})`")
_DEFINED = re.compile(
    rf"{WORD_START}(?:{'|'.join(DEFINERS)}|(?:{'|'.join(DECLARERS)})(?=\s++{IDENTIFIER}\s*+[:=]))"
    rf"\s++(?:\([^()\n]*+\)\s*+)?({IDENTIFIER})"
)
_CALLED = re.compile(rf"{WORD_START}({IDENTIFIER})\s*+\(")
# an identifier shaped like code, not like a word: snake_case, camelCase, PascalCase
_SHAPED = re.compile(
    rf"{WORD_START}(?:[a-z][a-z0-9]*+_{IDENTIFIER_CHAR}++|[a-z]++[A-Z]{IDENTIFIER_CHAR}*+"
    rf"|[A-Z][a-z0-9]++[A-Z]{IDENTIFIER_CHAR}*+){WORD_END}"
)
_NOT_SYMBOLS = frozenset(
    {
        "if", "for", "while", "switch", "return", "catch", "sizeof", "elif", "else", "with",
        "def", "class", "function", "fn", "func", "and", "or", "not", "in", "is", "print",
        "assert", "lambda", "yield", "await", "async", "new", "typeof", "super", "self", "this",
        "int", "str", "len", "list", "dict", "set", "tuple", "range", "main", "printf",
    }
)  # fmt: skip


def extract_symbols(prompt: str, parts: PromptParts | None = None) -> tuple[str, ...]:
    """Names in backticks, then identifiers the code defines or calls, then names shaped like
    code anywhere (snake_case, camelCase); within each group nearest the cursor (end) first."""
    parts = parts or split_prompt(prompt)
    found: dict[str, None] = {}
    for match in _BACKTICKED.finditer(prompt):
        for name in identifiers(match.group(1)):
            found.setdefault(name)
    in_code = [
        (match.start(), match.group(1))
        for pattern in (_DEFINED, _CALLED)
        for match in pattern.finditer(parts.code[-WINDOW_CHARS:])
    ]
    in_code.sort(key=lambda item: -item[0])
    for _, name in in_code:
        found.setdefault(name)
    for match in reversed(list(_SHAPED.finditer(prompt[-WINDOW_CHARS:]))):
        found.setdefault(match.group(0))
    symbols = [name for name in found if name not in _NOT_SYMBOLS and len(name) > 1]
    return tuple(symbols[:MAX_SYMBOLS])
