"""Unit tests mirror the package: `app/cerebrum/x/y.py` is tested in `tests/unit/x/test_y.py`
(an entry point `x/__main__.py` in `tests/unit/x/test_main.py`), so a module's tests are
found by its name. A module with no such file is either listed in UNMIRRORED with the reason,
or the test below fails."""

from __future__ import annotations

from pathlib import Path

from harness.paths import ROOT

PACKAGE = ROOT / "app" / "cerebrum"
TESTS = ROOT / "tests" / "unit"


# Modules without a mirrored test file, each with the reason. Remove an entry when its test
# file is added (the second test fails on an entry that has one).
UNMIRRORED: dict[str, str] = {
    # No behaviour of its own.
    "retrieval/_common_words.py": "data: the word list the ranker and parser read",
    # Entry points, run as processes.
    "__main__.py": "entry point: its --check and bad settings run as a process in "
    "tests/unit/test_settings.py",
}


def modules() -> list[str]:
    return sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py"
    )


def mirrored_test(module: str) -> Path:
    path = Path(module)
    name = "main" if path.stem == "__main__" else path.stem
    return TESTS / path.parent / f"test_{name}.py"


def test_every_module_has_a_mirrored_test_file_or_a_reason():
    missing = [
        f"{module} -> {mirrored_test(module).relative_to(ROOT)}"
        for module in modules()
        if module not in UNMIRRORED and not mirrored_test(module).exists()
    ]
    assert not missing, "modules without their tests/unit file:\n" + "\n".join(missing)


def test_the_list_of_exceptions_names_only_modules_still_without_a_test_file():
    stale = [
        module for module in UNMIRRORED if module not in modules() or mirrored_test(module).exists()
    ]
    assert not stale, f"remove from UNMIRRORED (gone, or tested now): {stale}"
