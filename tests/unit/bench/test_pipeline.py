"""bench/pipeline.py: the stage timings come from the real build_prompt, in its order."""

from __future__ import annotations

from cerebrum.retrieval import PipelineCache
from cerebrum.retrieval.pipeline import STAGES

from bench import pipeline


def test_every_stage_of_build_prompt_is_timed_in_its_order():
    times = pipeline.timed_stages(pipeline.request(20_000), PipelineCache(pipeline.CACHE_BYTES))
    assert list(times) == [*STAGES, "total"]


def test_the_stages_add_up_to_no_more_than_the_whole_call():
    times = pipeline.timed_stages(pipeline.request(20_000), PipelineCache(pipeline.CACHE_BYTES))
    assert 0 < sum(times[stage] for stage in STAGES) <= times["total"]
