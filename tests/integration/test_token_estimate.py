"""estimate_tokens never under-counts what the real llama.cpp tokenizers produce.

Every text of a varied corpus (Python, C, JS, JSON full of digits, prose, unicode,
whitespace-heavy, random strings) is tokenized by each lab model through the real llama-server's
POST /tokenize; the estimate must be at least the real count for every text and model, and
stay a modest over-count over each kind of text.
"""

from __future__ import annotations

import difflib
import inspect
import json
import json.decoder
import random
import string
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cerebrum.retrieval
import httpx
import pytest
from cerebrum.retrieval import ModelProfile, PromptRequest, Snippet, build_prompt, estimate_tokens

MAX_OVERCOUNT = 2.5  # estimate / real over a whole kind of text

C_SOURCE = r"""#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUFFER_SIZE 4096
#define MAX(a, b) ((a) > (b) ? (a) : (b))

typedef struct node {
    char *key;
    int value;
    struct node *next;
} node_t;

static unsigned long hash(const char *s) {
    unsigned long h = 5381;
    int c;
    while ((c = *s++))
        h = ((h << 5) + h) + c; /* h * 33 + c */
    return h;
}

int table_put(node_t **table, size_t size, const char *key, int value) {
    size_t slot = hash(key) % size;
    for (node_t *n = table[slot]; n != NULL; n = n->next) {
        if (strcmp(n->key, key) == 0) {
            n->value = value;
            return 0;
        }
    }
    node_t *fresh = malloc(sizeof *fresh);
    if (!fresh) {
        fprintf(stderr, "out of memory at %s:%d\n", __FILE__, __LINE__);
        return -1;
    }
    fresh->key = strdup(key);
    fresh->value = value;
    fresh->next = table[slot];
    table[slot] = fresh;
    return 1;
}

int main(int argc, char **argv) {
    node_t *table[256] = {0};
    char line[BUFFER_SIZE];
    int count = 0;
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        count += table_put(table, 256, line, count) > 0;
    }
    printf("%d distinct lines (0x%08x)\n", count, 0xdeadbeefu);
    return argc > 1 ? atoi(argv[1]) : 0;
}
"""

JS_SOURCE = r"""'use strict';
const EventEmitter = require('events');

/**
 * A tiny debounced task queue.
 * @param {number} delayMs - how long to wait after the last push
 */
class DebouncedQueue extends EventEmitter {
  constructor(delayMs = 250) {
    super();
    this.delayMs = delayMs;
    this.items = [];
    this.timer = null;
  }

  push(item) {
    this.items.push(item);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), this.delayMs);
    return this.items.length;
  }

  async flush() {
    const batch = this.items.splice(0, this.items.length);
    if (batch.length === 0) return;
    try {
      const res = await fetch(`https://api.example.com/v1/batch?size=${batch.length}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ items: batch, sentAt: Date.now() }),
      });
      this.emit('flushed', { status: res.status, count: batch.length });
    } catch (err) {
      console.error(`flush failed: ${err.message}`);
      this.items.unshift(...batch);
    }
  }
}

module.exports = { DebouncedQueue };
"""

PROSE = [
    "The orchestrator sits between the editor and the inference server. It reads the "
    "request, decides which pieces of the workspace are worth sending, and keeps the whole "
    "prompt inside the model's context window, so that nothing is silently truncated.",
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was "
    "the age of foolishness, it was the epoch of belief, it was the epoch of incredulity.",
    "Q: Why doesn't my build find the library? A: Check LD_LIBRARY_PATH, run `ldconfig -p`, "
    "and make sure the .so file's SONAME (e.g. libfoo.so.1) matches what the linker expects!",
]

UNICODE = [
    "Größe, naïve café; Ångström — “quotes” … ½ ⅓ ¼ ©®™ §¶†‡",
    "这是一个用于测试分词器的中文句子，包含标点符号。",  # noqa: RUF001
    "これはトークナイザーをテストするための日本語の文です。",
    "이것은 토크나이저를 테스트하기 위한 한국어 문장입니다.",
    "Это предложение на русском языке для проверки токенизатора.",
    "هذه جملة باللغة العربية لاختبار المحلل اللغوي.",
    "यह टोकनाइज़र का परीक्षण करने के लिए एक हिंदी वाक्य है।",
    "emoji 😀🎉🚀👩\u200d💻🏳️\u200d🌈 ✓ ✗ → ∀x∈ℝ: x² ≥ 0 ≠ ∞ ≈ π",  # noqa: RUF001
    "# コメント: 値を返す\ndef 関数(x):\n    return f'結果: {x}'  # ✓\n",
]


def _pieces(text: str, size: int) -> list[str]:
    """Consecutive pieces of about `size` characters, cut at line ends."""
    pieces, current = [], ""
    for line in text.splitlines(keepends=True):
        current += line
        if len(current) >= size:
            pieces.append(current)
            current = ""
    return [*pieces, current] if current.strip() else pieces


def _code_pieces(sources: list[str]) -> list[str]:
    texts = [*sources]
    for source in sources:
        for size in (200, 1000, 4000):
            texts.extend(_pieces(source, size))
    return texts


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.35:
        return rng.choice(
            [
                rng.randint(-(10**12), 10**12),
                round(rng.uniform(-1e5, 1e5), rng.randint(0, 9)),
                rng.random(),
                "".join(rng.choices(string.hexdigits, k=rng.randint(4, 40))),
                f"{rng.randint(1970, 2038)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                True,
                None,
            ]
        )
    if roll < 0.65:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(1, 8))]
    return {
        f"field_{rng.randint(0, 999)}": _random_json(rng, depth + 1)
        for _ in range(rng.randint(1, 6))
    }


def _random_unicode(rng: random.Random, length: int) -> str:
    blocks = [
        (0x00A0, 0x024F), (0x0370, 0x03FF), (0x0400, 0x04FF), (0x0600, 0x06FF),
        (0x0900, 0x097F), (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3),
        (0x2200, 0x22FF), (0x1F300, 0x1F6FF), (0x1D400, 0x1D7FF), (0x20000, 0x2A6DF),
    ]  # fmt: skip
    chars = []
    for _ in range(length):
        low, high = rng.choice(blocks)
        chars.append(chr(rng.randint(low, high)))
        if rng.random() < 0.15:
            chars.append(" ")
    return "".join(chars)


def _random_whitespace(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(5, 150)):
        roll = rng.random()
        if roll < 0.3:
            parts.append(" " * rng.randint(1, 48))
        elif roll < 0.45:
            parts.append("\t" * rng.randint(1, 8))
        elif roll < 0.6:
            parts.append("\n" * rng.randint(1, 6))
        elif roll < 0.7:
            parts.append("\r\n")
        else:
            parts.append(rng.choice(["x", "foo", "return", "}", "{", ";", "1", "#", "if", "  \n"]))
    return "".join(parts)


def _random_string(rng: random.Random) -> str:
    """Hashes, base64, random identifiers: text a tokenizer has never seen."""
    alphabet = rng.choice(
        [
            string.ascii_lowercase,
            string.ascii_letters,
            string.ascii_uppercase + "_",
            string.hexdigits,
        ]
    )
    text = "".join(rng.choices(alphabet, k=rng.randint(2, 120)))
    return text + "==" if rng.random() < 0.2 else text


def _corpus() -> dict[str, list[str]]:
    rng = random.Random(20261124)
    retrieval = Path(cerebrum.retrieval.__file__).parent
    python_sources = [inspect.getsource(m) for m in (json.decoder, textwrap, difflib)]
    python_sources += [path.read_text() for path in sorted(retrieval.glob("[!_]*.py"))]
    indented = "\n".join(
        " " * rng.randint(0, 64) + rng.choice(["x = 1", "}", "pass", "", "return y"])
        for _ in range(200)
    )
    sentences = [part + "." for text in PROSE for part in text.split(". ")]
    return {
        "python": _code_pieces(python_sources),
        "c": _code_pieces([C_SOURCE]),
        "javascript": _code_pieces([JS_SOURCE]),
        "json": [json.dumps(_random_json(rng), indent=rng.choice([None, 2])) for _ in range(60)],
        "prose": [
            *PROSE,
            *(inspect.getdoc(module) or "" for module in (difflib, textwrap, json)),
            *sentences,
            *(" ".join(rng.sample(sentences, 4)) for _ in range(10)),
        ],
        "unicode": [*UNICODE, *(_random_unicode(rng, rng.randint(5, 300)) for _ in range(40))],
        "whitespace": [indented, *(_random_whitespace(rng) for _ in range(40))],
        "random": [_random_string(rng) for _ in range(60)],
    }


@pytest.fixture(scope="module")
def tokenize(llama_server: Any) -> Iterator[Any]:
    """tokenize(model, text) -> the real token count from the server's POST /tokenize."""
    with httpx.Client(
        base_url=llama_server.url,
        headers={"Authorization": f"Bearer {llama_server.api_key}"},
        timeout=120,
    ) as client:

        def count(model: str, text: str) -> int:
            for attempt in range(3):  # the server may close a kept-alive connection
                try:
                    response = client.post("/tokenize", json={"content": text, "model": model})
                    break
                except httpx.TransportError:
                    if attempt == 2:
                        raise
            assert response.status_code == 200, response.text
            return len(response.json()["tokens"])

        yield count


CORPUS = _corpus()


@pytest.mark.parametrize("kind", sorted(CORPUS))
def test_estimate_is_never_below_the_real_token_count(
    llama_server: Any, tokenize: Any, kind: str
) -> None:
    texts = [text for text in CORPUS[kind] if text]
    assert len(texts) >= 8
    for model in llama_server.models:
        real = [tokenize(model, text) for text in texts]
        estimated = [estimate_tokens(text) for text in texts]
        under = [
            (e, r, text[:80]) for e, r, text in zip(estimated, real, texts, strict=True) if e < r
        ]
        assert not under, f"{model}/{kind}: estimate below real for {len(under)} texts: {under[:5]}"
        ratio = sum(estimated) / sum(real)
        print(f"{model:14} {kind:11} texts={len(texts):4} real={sum(real):7} ratio={ratio:.2f}")
        assert ratio < MAX_OVERCOUNT, f"{model}/{kind}: over-counts {ratio:.2f}x"


@pytest.fixture(scope="module")
def server(llama_server: Any) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {llama_server.api_key}"}
    with httpx.Client(base_url=llama_server.url, headers=headers, timeout=120) as client:
        yield client


@pytest.mark.parametrize("prompt_format", ["completion", "chat"])
@pytest.mark.parametrize("context_size", [512, 2048])
def test_assembled_prompt_fits_the_real_context(
    llama_server: Any, server: httpx.Client, prompt_format: str, context_size: int
) -> None:
    """The whole prompt build_prompt assembles, as the backend tokenizes it (BOS and chat
    template included), leaves max_tokens free in the model's context."""
    retrieval = Path(cerebrum.retrieval.__file__).parent
    context = [Snippet(path.read_text(), path.name) for path in sorted(retrieval.glob("*.py"))]
    context += [Snippet(C_SOURCE, "table.c"), Snippet(JS_SOURCE, "queue.js")]
    request = PromptRequest(
        "def assemble_prompt(request, profile):\n    ranked = rank_chunks(",
        context=context,
        max_tokens=128,
    )
    profile = ModelProfile(context_size, format=prompt_format)  # type: ignore[arg-type]
    plan = build_prompt(request, profile)
    assert plan.chunks_used, plan.summary()
    for model in llama_server.models:
        if plan.messages is not None:
            messages = [{"role": m.role, "content": m.content} for m in plan.messages]
            templated = server.post("/apply-template", json={"messages": messages, "model": model})
            assert templated.status_code == 200, templated.text
            text = templated.json()["prompt"]
        else:
            assert plan.prompt is not None
            text = plan.prompt
        response = server.post(
            "/tokenize", json={"content": text, "model": model, "add_special": True}
        )
        assert response.status_code == 200, response.text
        real = len(response.json()["tokens"])
        print(
            f"{model:14} {prompt_format:10} n_ctx={context_size}: real={real} "
            f"estimated={plan.prompt_tokens} budget={plan.budget_tokens}"
        )
        assert real + request.max_tokens <= context_size, (real, plan.summary())
