"""bench/stats.py: nearest-rank percentiles, summaries, paired differences, text tables."""

from __future__ import annotations

import pytest

from bench.stats import Summary, differences, percentile, table


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(100, 0, -1)]  # order does not matter
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (
        50.0,
        99.0,
        100.0,
    )


def test_p99_of_fewer_than_100_samples_is_the_largest():
    assert percentile([3.0, 1.0, 2.0], 99) == 3.0


def test_summary_and_its_scaling_to_milliseconds():
    summary = Summary.of([0.001, 0.002, 0.003, 0.004])
    assert (summary.n, summary.p50, summary.max) == (4, 0.002, 0.004)
    scaled = summary.scaled(1000)
    assert (scaled.p50, scaled.mean, scaled.min) == pytest.approx((2.0, 2.5, 1.0))
    assert scaled.as_dict(1)["p99"] == 4.0


def test_summary_of_nothing_is_refused():
    with pytest.raises(ValueError, match="no samples"):
        Summary.of([])


def test_differences_are_paired():
    assert differences([3.0, 5.0], [1.0, 1.5]) == [2.0, 3.5]
    with pytest.raises(ValueError, match="longer"):
        differences([1.0], [1.0, 2.0])


def test_table_aligns_text_left_and_numbers_right():
    text = table(("name", "req/s"), [("a", 1234.5), ("long name", 12.25)])
    assert text.splitlines() == [
        "name       req/s",
        "---------  -----",
        "a          1,234",
        "long name  12.25",
    ]
