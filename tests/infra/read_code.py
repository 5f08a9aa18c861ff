"""Prints, as JSON, how the prompt pipeline reads a little code with its regular expressions:
what the code at the cursor refers to, the imports, a line's code without its strings and
comments, the chunks of a C file, a file's language. Run by the venv's Python on the host and
by the development Python, to compare (test_orchestrator.py)."""

import json
from dataclasses import astuple

from cerebrum.retrieval.chunker import code_of_line, split_lines
from cerebrum.retrieval.instruction_parser import detect_language
from cerebrum.retrieval.references import at_cursor, imports

PROMPTS = [
    "rt = ex.",
    "from .base import Base\n\nclass A(Base):\n    def f(self):\n        self.",
    "from .core import Context\n\ndef f(ctx: Context):\n    x = ctx.",
    "import numpy as np\nimport os.path\nuse std::collections::{HashMap, HashSet};\nx = np.",
]
C_CODE = r"""int a = f("x{\"y", '}') /* {{ */ + 1; // }
if (a) {
  b(); /* unclosed
}

int c;"""

print(
    json.dumps(
        {
            "at_cursor": [[sorted(part) for part in astuple(at_cursor(p, ""))] for p in PROMPTS],
            "imports": [{k: sorted(v) for k, v in sorted(imports(p).items())} for p in PROMPTS],
            "code_of_line": [code_of_line(line) for line in C_CODE.splitlines()],
            "split_lines": split_lines(C_CODE.splitlines() * 40, "c", 16, 4, 2),
            "language": detect_language("from a import b, c\nx = 1\n"),
        }
    )
)
