"""The LRU cache shared by the chunker and the ranker."""

from __future__ import annotations

from cerebrum.retrieval._lru import LruCache


def test_least_recently_used_goes_first() -> None:
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_capacity_bounds_the_total_size() -> None:
    cache: LruCache[str, str] = LruCache(10)
    cache.put("a", "x", size=6)
    cache.put("b", "y", size=6)
    assert cache.get("a") is None
    assert len(cache) == 1


def test_value_larger_than_the_capacity_is_not_kept() -> None:
    cache: LruCache[str, str] = LruCache(10)
    cache.put("a", "x", size=11)
    assert cache.get("a") is None


def test_replacing_a_key_does_not_count_it_twice() -> None:
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.put("a", 2)
    cache.put("b", 3)
    assert (cache.get("a"), cache.get("b")) == (2, 3)


def test_clear_empties_the_cache() -> None:
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.clear()
    assert cache.get("a") is None
    assert len(cache) == 0
