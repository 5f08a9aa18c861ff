"""What the code at the cursor refers to, and what a chunk defines."""

from __future__ import annotations

from cerebrum.retrieval.references import (
    at_cursor,
    defined_names,
    definition_lines,
    imports,
    module_of,
)


def test_the_name_before_a_dot_at_the_cursor_is_the_module() -> None:
    assert "_compat" in at_cursor("x = _compat.", "\n").modules
    assert "validators" in at_cursor("see attrs.validators.", "").modules


def test_an_alias_at_the_cursor_stands_for_the_module_it_was_imported_as() -> None:
    cursor = at_cursor("import numpy as np\n\nx = np.", "")
    assert "numpy" in cursor.modules
    assert "helpers" in at_cursor("from .util import helpers as h\nh.", "").modules


def test_no_module_without_a_qualifier_or_an_import_at_the_cursor() -> None:
    assert at_cursor("import numpy as np\n\nx = ", "").modules == frozenset()


def test_an_import_statement_at_the_cursor_names_its_module() -> None:
    assert "_config" in at_cursor("from ._config import ", "\n").modules
    assert "_make" in at_cursor("from ._make import (\n    A,\n    ", "\n)").modules
    assert "_make" not in at_cursor("from ._make import (\n    A,\n)\nx = ", "").modules
    assert "kindOf" in at_cursor("import { ", " } from './utils/kindOf'\n").modules
    assert "req" in at_cursor("const { a, ", " } = require('./req')\n").modules


def test_imports_bind_names_to_modules_in_each_language() -> None:
    bound = imports(
        "from .b import x as y\nimport os.path\n"
        'import K, { a as c } from "./lib/kind"\nconst r = require("../req.js")\n'
        'import (\n\tf "fmt"\n\t"net/http"\n)\nuse std::collections::{HashMap, BTreeMap};\n'
    )
    assert bound["y"] >= {"b"}
    assert "os" in bound["os"]
    assert bound["K"] == {"kind"}
    assert bound["c"] == {"kind"}
    assert bound["r"] == {"req"}
    assert bound["f"] == {"fmt"}
    assert bound["http"] == {"http"}
    assert bound["HashMap"] == {"collections"}
    assert {"b", "path", "kind", "req", "fmt", "http", "collections"} <= bound[""]


def test_wanted_names_are_used_after_the_cursor_and_never_before_it() -> None:
    cursor = at_cursor("def f(items):\n    total = ", "\n    return total + offset(items)\n")
    assert "offset" in cursor.wanted
    assert cursor.wanted.isdisjoint({"total", "items"})


def test_defined_names_are_after_definition_keywords_or_assigned_at_a_line_start() -> None:
    text = "def foo():\n    x = 1\nBAR: int = 2\nexport const baz = 3\nclass Q: pass\nf(a=1)\n"
    assert defined_names(text) == {"foo", "BAR", "baz", "Q"}


def test_a_folder_module_file_stands_for_its_folder() -> None:
    assert module_of("src/attr/_make.py") == "_make"
    assert module_of("src/attr/__init__.py") == "attr"
    assert module_of("src/index.ts") == "src"
    assert module_of("utils.test.js") == "utils"


def test_the_outline_is_the_definition_lines_in_order() -> None:
    text = "class A:\n    x = 1\n    def f(self):\n        return 2\nY = 3\n"
    assert definition_lines(text) == "class A:\n    def f(self):\nY = 3\n"
    assert definition_lines("return 1\n") == ""


def test_a_variable_at_the_cursor_stands_for_the_module_of_its_type() -> None:
    annotated = "from .core import Context\n\ndef f(ctx: Context):\n    x = ctx."
    assert "core" in at_cursor(annotated, "").modules
    built = "from .formatting import HelpFormatter\nformatter = HelpFormatter(80)\nformatter."
    assert "formatting" in at_cursor(built, "").modules
    assert "core" not in at_cursor("from .core import Context\n\nx = other.", "").modules


def test_self_at_the_cursor_stands_for_the_modules_of_the_enclosing_class_bases() -> None:
    python = "from .base import Base\n\nclass A(Base):\n    def f(self):\n        self."
    assert "base" in at_cursor(python, "").modules
    script = 'import { Component } from "./component"\nclass A extends Component {\n  f() { this.'
    assert "component" in at_cursor(script, "").modules
    plain = "from .base import Base\n\nclass A:\n    def f(self):\n        self."
    assert "base" not in at_cursor(plain, "").modules


def test_an_open_import_lists_its_names_before_and_after_the_cursor() -> None:
    script = at_cursor("export {\n  Dispatch,\n  ", "\n  Store,\n  StoreCreator\n} from './x'\n")
    assert {"Dispatch", "Store", "StoreCreator"} <= script.listed
    python = at_cursor("from attr import (\n    NOTHING,\n    ", "\n    Factory,\n)\nx = 1\n")
    assert {"NOTHING", "Factory"} <= python.listed
    assert at_cursor("import { Action, ", "\n\n/* docs */\n").listed == {"Action"}
    assert at_cursor("x = {\n  a: 1,\n  ", "\n}\n").listed == frozenset()  # not an import


def test_an_open_export_brace_takes_its_module_from_the_from_after_its_close() -> None:
    cursor = at_cursor("// store\nexport {\n  Dispatch,\n  ", "\n  Store\n} from './types/store'\n")
    assert "store" in cursor.modules
    assert "store" in at_cursor("import {\n  ", "\n} from './types/store'\n").modules


def test_the_suffix_counts_only_while_it_lists_names_up_to_the_close() -> None:
    code_after = "\nconst y = 1\nexport { Other } from './other'\n"
    cursor = at_cursor("import { Action, ", code_after)
    assert cursor.listed == {"Action"}
    assert "other" not in cursor.modules
    python = at_cursor("from x import (\n    a,\n    ", "\n    f(b)\n)\n")
    assert "b" not in python.listed


def test_definitions_on_comment_lines_do_not_count() -> None:
    text = "/**\n * the type of the action\n */\n// class Fake\n# def fake\n"
    text += "export type Action = {\n"
    assert defined_names(text) == {"Action"}
    assert definition_lines(text) == "export type Action = {\n"
