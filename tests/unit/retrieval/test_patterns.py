"""The pipeline's regular expressions read code alike on every Python the role deploys.

Debian 12's Python (3.11.2) matches a possessive quantifier on a group wrongly (CPython
gh-100061 and gh-106052, fixed in 3.11.5): ``(?:\\.\\w+)*+\\.`` fails on ``ex.``, so the CM4 lost
the module at the cursor. An atomic group, ``(?>(?:...)*)``, means the same and matches right
on every 3.11; possessive quantifiers on one character or class (``\\w++``) were never wrong.
The check on the deployed Python itself is tests/infra/test_orchestrator.py's
``test_the_hosts_python_reads_code_as_the_development_python_does``.
"""

from __future__ import annotations

import re
from pathlib import Path

import cerebrum

SOURCES = Path(cerebrum.__file__).parent
POSSESSIVE_GROUP = re.compile(r"\)(?:[*+?]|\{\d*,?\d*\})\+")


def test_no_possessive_quantifier_follows_a_group() -> None:
    found = [
        f"{path.relative_to(SOURCES)}:{number}: {line.strip()}"
        for path in sorted(SOURCES.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if POSSESSIVE_GROUP.search(line)
    ]
    assert found == [], "write (?>(?:...)*) instead:\n" + "\n".join(found)


def test_the_guard_sees_each_possessive_form_on_a_group() -> None:
    for pattern in (r"(?:\.\w)*+", r"(?:ab)++", r"(x)?+", r"(?:ab){1,3}+", r"(?:ab){2}+"):
        assert POSSESSIVE_GROUP.search(pattern), pattern
    for pattern in (r"\w++", r"[^)]*+", r"(?>(?:\.\w)*)", r"(?:a)+b"):
        assert not POSSESSIVE_GROUP.search(pattern), pattern
