"""core/stats.py: percentiles, histograms, per-request tracking, process RSS."""

from __future__ import annotations

from cerebrum.core.stats import Histogram, Stats, Window, process_rss_bytes


def test_window_percentiles_use_nearest_rank():
    window = Window()
    for value in range(1, 101):
        window.add(float(value))
    assert (window.percentile(50), window.percentile(90), window.percentile(99)) == (50, 90, 99)


def test_window_keeps_only_the_most_recent_samples():
    window = Window(size=3)
    for value in (100.0, 1.0, 2.0, 3.0):
        window.add(value)
    assert window.percentile(100) == 3.0
    assert len(window) == 3


def test_empty_window_has_no_percentiles():
    assert Window().summary() == {"count": 0, "p50": None, "p90": None, "p99": None}


def test_histogram_buckets_are_cumulative_with_inf():
    histogram = Histogram()
    for value in (0.005, 0.3, 200.0):
        histogram.observe(value)
    buckets = dict(histogram.cumulative())
    assert buckets["0.01"] == 1
    assert buckets["0.5"] == 2
    assert buckets["+Inf"] == 3
    assert histogram.count == 3


def test_tracker_records_ttft_tokens_and_latency():
    stats = Stats()
    tracker = stats.begin("m1")
    tracker.add(1)
    tracker.add(2)
    tracker.finish()
    assert stats.tokens_total == 3
    assert stats.models["m1"].tokens == 3
    assert len(stats.ttft) == 1
    assert len(stats.latency) == 1


def test_tracker_counts_failures_and_cancellations_apart():
    stats = Stats()
    stats.begin("m1").finish(error="backend_timeout")
    stats.begin("m1").finish(cancelled=True)
    assert stats.failed_total == 1
    assert stats.cancelled_total == 1
    assert stats.errors == {"backend_timeout": 1}
    assert stats.models["m1"].failed == 1
    assert len(stats.latency) == 0


def test_tracker_finishes_only_once():
    stats = Stats()
    tracker = stats.begin("m1")
    tracker.finish()
    tracker.finish(error="x")
    assert stats.failed_total == 0
    assert len(stats.latency) == 1


def test_process_rss_is_read_from_proc():
    rss = process_rss_bytes()
    assert rss is not None
    assert rss > 1_000_000


def test_a_superseded_generation_is_no_failure():
    stats = Stats()
    stats.begin("m1").finish(superseded=True)
    assert (stats.failed_total, stats.models["m1"].failed, stats.cancelled_total) == (0, 0, 0)
    assert stats.errors == {}
    assert len(stats.latency) == 0


def test_a_superseded_generation_reaches_the_usage_outcome_as_superseded():
    from cerebrum.core import usage

    with usage.tracking(usage.Outcome()) as outcome:
        Stats().begin("m1").finish(superseded=True)
    assert outcome.error == "superseded"
    assert not outcome.cancelled


def test_prompt_tokens_processed_per_generation_are_what_the_cache_did_not_hold():
    stats = Stats()
    stats.begin("m1").prompt(1200, 1196)
    stats.begin("m1").prompt(1200, None)
    assert stats.reprocessed.percentile(50) == 4
    assert stats.reprocessed.percentile(100) == 1200
    assert dict(stats.reprocessed_histogram.cumulative())["8"] == 1
