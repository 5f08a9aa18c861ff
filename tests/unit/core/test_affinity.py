from __future__ import annotations

from collections import Counter

from cerebrum.core import affinity

URLS = [f"http://10.0.0.{n}:9000" for n in range(1, 5)]


def test_the_same_key_always_ranks_the_backends_the_same_way():
    assert affinity.rank("client-a/model", URLS) == affinity.rank("client-a/model", URLS[::-1])


def test_sessions_spread_over_the_backends():
    homes = Counter(affinity.rank(f"session-{n}", URLS)[0] for n in range(400))
    assert set(homes) == set(URLS)
    assert min(homes.values()) > 400 / len(URLS) / 2


def test_a_backend_that_leaves_moves_only_its_own_sessions():
    keys = [f"session-{n}" for n in range(300)]
    before = {key: affinity.rank(key, URLS)[0] for key in keys}
    gone = URLS[1]
    after = {key: affinity.rank(key, [u for u in URLS if u != gone])[0] for key in keys}
    moved = [key for key in keys if before[key] != after[key]]
    assert moved
    assert all(before[key] == gone for key in moved)
    # ... and each moved session goes to its own second choice
    assert all(after[key] == affinity.rank(key, URLS)[1] for key in moved)
