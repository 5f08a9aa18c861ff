"""estimate_tokens: an upper bound of llama.cpp's token counts that stays cheap."""

from __future__ import annotations

import random
import string

import pytest
from cerebrum.retrieval import estimate_tokens
from cerebrum.retrieval.tokens import estimate_floor

# (text, tokens by Gemma 3 270M, tokens by SmolLM2 135M): measured with llama-server b11312's
# POST /tokenize. The integration test checks a larger corpus against the live server.
MEASURED = [
    (
        "def fibonacci(n):\n    if n < 2:\n        return n\n"
        "    return fibonacci(n - 1) + fibonacci(n - 2)\n",
        39,
        36,
    ),
    ('#include <stdio.h>\n\nint main(void) {\n\tprintf("%d\\n", 42);\n\treturn 0;\n}\n', 35, 38),
    ("const add = (a, b) => a + b;\nmodule.exports = { add };\n", 22, 24),
    ('{"id": 1234567890, "price": 3.14159265, "tags": ["a", "b"], "ok": true}', 44, 44),
    (
        "The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs.",
        19,
        20,
    ),
    ("Größe, naïve café; Ångström — “quotes” … ½ ⅓ ¼", 19, 28),
    ("中文分词测试：你好，世界！日本語のテキスト。한국어 문장.", 18, 53),  # noqa: RUF001
    ("emoji 😀🎉🚀👩\u200d💻 ✓ → ∞", 10, 24),
    ("                                        \n\t\t\t\t\n\n\n\n    x", 7, 6),
    ("xqzjvkwpmbtrlgfhdnsc", 12, 13),
    ("kfonvdlcpgqphzux", 10, 11),  # random letters: SmolLM2 needs more than one per two
    ("bcjcpxvhvndeuwccjetccydtpewesrcmgcuqmxjukiunxnbzgii", 26, 31),
    ("EIOHUZLPVMEYZATKBEETFAFUM", 14, 17),
    ("RTLKOWZXVBGZONIWNZBZADKQCOYLTPPEMXRFLOIPQAFRFBTIYOCQGVSTBAUDF", 34, 43),
    ("QXZTVBNMKLPRSDFGHJWC", 11, 14),
    ("aGVsbG8gd29ybGQhIFRoaXMgaXMgYmFzZTY0IGVuY29kZWQgdGV4dA==", 38, 49),
    ("0x7fffffff 0xdeadbeef 1e-9 3.0E+8 255u 0b1010", 34, 36),
    ("getHTTPResponseCode(parseURLQueryString(request.rawQueryString))", 16, 16),
    ("snake_case_identifier = another_snake_case_value + CONSTANT_VALUE_NAME", 20, 21),
    ("    @property\n    def name(self) -> str:\n        return self._name\n", 20, 18),
    ("SELECT u.id, u.name FROM users u WHERE u.created_at > NOW() - INTERVAL '7 days';", 26, 27),
    ("a", 1, 1),
    (" ", 1, 1),
    ("\n", 1, 1),
    ("_", 1, 1),
    ("é", 1, 1),
    ("}", 1, 1),
    ("\r\n", 2, 1),
    ("((((((((((((((((((((", 10, 10),
    ("https://example.com/path/to/resource?query=value&other=123#fragment", 23, 24),
    ('fn main() { let mut v: Vec<u32> = Vec::new(); v.push(1); println!("{:?}", v); }', 31, 37),
]


@pytest.mark.parametrize(("text", "gemma", "smollm2"), MEASURED)
def test_estimate_is_at_least_the_measured_count(text: str, gemma: int, smollm2: int) -> None:
    assert estimate_tokens(text) >= max(gemma, smollm2)


def test_estimate_of_empty_text_is_zero() -> None:
    assert estimate_tokens("") == 0


def test_estimate_over_counts_code_by_a_modest_factor() -> None:
    text = MEASURED[0][0] + MEASURED[1][0] + MEASURED[2][0]
    real = sum(max(g, s) for _, g, s in MEASURED[:3])
    assert estimate_tokens(text) < 1.6 * real


def test_every_digit_costs_a_token() -> None:
    assert estimate_tokens("3141592653589793") >= 16


def test_every_non_ascii_byte_costs_a_token() -> None:
    assert estimate_tokens("𠜎𠜱") >= 8  # two 4-byte characters outside most vocabularies


def test_a_common_word_costs_one_token_with_its_space() -> None:
    assert estimate_tokens("return") == 1
    assert estimate_tokens(" ".join(["return", "value", "from", "the", "list"] * 20)) <= 110


def test_a_tab_before_a_word_is_not_folded_into_it() -> None:
    assert estimate_tokens("\tvalue") == estimate_tokens(" value") + 1


def test_estimate_of_joined_lines_is_at_most_the_sum_of_their_estimates() -> None:
    rng = random.Random(3)
    alphabet = string.ascii_letters + string.digits + " \t_(){}:;.,'\"é中😀"
    for _ in range(200):
        parts = ["".join(rng.choices(alphabet, k=rng.randint(0, 40))) for _ in range(4)]
        joined = "\n".join(parts)
        assert estimate_tokens(joined) <= sum(map(estimate_tokens, parts)) + 2 * len(parts)


def test_floor_never_exceeds_the_estimate() -> None:
    rng = random.Random(5)
    alphabet = string.printable + "é中"
    for _ in range(200):
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 300)))
        assert estimate_floor(text) <= estimate_tokens(text)


def test_lone_surrogates_do_not_crash_the_estimate() -> None:
    assert estimate_tokens("bad \ud800 surrogate") >= 3
