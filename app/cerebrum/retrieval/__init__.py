"""Prompt pipeline: analyse the request, chunk, deduplicate and rank context, assemble the prompt.

Public API (the orchestrator's routes use only these names):

    build_prompt(request, profile, *, cache=None, deadline=None) -> PromptPlan
    PromptRequest, ModelProfile, PromptPlan, Snippet, Message, FimTokens, PromptFormat,
    PromptTooLarge, PipelineCache (the app's, bounded in bytes), Deadline, PipelineCancelled,
    text_key (the key of an exact token count in PromptRequest.token_counts)
"""

from cerebrum.retrieval.cache import PipelineCache
from cerebrum.retrieval.deadline import Deadline, PipelineCancelled
from cerebrum.retrieval.pipeline import build_prompt
from cerebrum.retrieval.plan import ChunkReport, PromptPlan, PromptTooLarge
from cerebrum.retrieval.request import (
    FimTokens,
    Message,
    ModelProfile,
    PromptFormat,
    PromptRequest,
    Snippet,
)
from cerebrum.retrieval.tokens import estimate_tokens, text_key

__all__ = [
    "ChunkReport",
    "Deadline",
    "FimTokens",
    "Message",
    "ModelProfile",
    "PipelineCache",
    "PipelineCancelled",
    "PromptFormat",
    "PromptPlan",
    "PromptRequest",
    "PromptTooLarge",
    "Snippet",
    "build_prompt",
    "estimate_tokens",
    "text_key",
]
