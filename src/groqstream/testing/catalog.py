"""`ModelInfo` and `GROQ_MODELS`: which models the simulated server says exist.

The default catalogue holds Groq's chat models (ids, owners, context windows and
completion-token limits as Groq's models page lists them), so a test that names a model Groq
does not serve gets Groq's `404 model_not_found`, as it would in production.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["ANY_MODEL", "GROQ_MODELS", "ModelInfo", "resolve_models"]

ANY_MODEL = "*"
"""Pass as `SimulatedServer(models=ANY_MODEL)` to accept every model name."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model as Groq's `GET /openai/v1/models` describes it.

    `max_completion_tokens` caps `max_tokens` / `max_completion_tokens` in a request (None: no
    cap); a larger value is Groq's 400.
    """

    id: str
    owned_by: str = "groqstream-sim"
    context_window: int = 131_072
    max_completion_tokens: int | None = None
    created: int = 1_700_000_000  # a fixed stand-in: the simulator does not know real dates

    def to_dict(self) -> dict[str, Any]:
        """The model object in Groq's list shape."""
        return {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": self.owned_by,
            "active": True,
            "context_window": self.context_window,
            "public_apps": None,
            "max_completion_tokens": self.max_completion_tokens,
        }


GROQ_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("openai/gpt-oss-20b", "OpenAI", 131_072, 65_536),
    ModelInfo("openai/gpt-oss-120b", "OpenAI", 131_072, 65_536),
    ModelInfo("moonshotai/kimi-k2-instruct", "Moonshot AI", 131_072, 16_384),
    ModelInfo("moonshotai/kimi-k2-instruct-0905", "Moonshot AI", 262_144, 16_384),
    ModelInfo("llama-3.1-8b-instant", "Meta", 131_072, 131_072),
    ModelInfo("llama-3.3-70b-versatile", "Meta", 131_072, 32_768),
    ModelInfo("meta-llama/llama-4-scout-17b-16e-instruct", "Meta", 131_072, 8_192),
    ModelInfo("meta-llama/llama-4-maverick-17b-128e-instruct", "Meta", 131_072, 8_192),
    ModelInfo("qwen/qwen3-32b", "Alibaba Cloud", 131_072, 40_960),
    ModelInfo("groq/compound", "Groq", 131_072, 8_192),
    ModelInfo("groq/compound-mini", "Groq", 131_072, 8_192),
)
"""Groq's chat models, as its models page listed them when this catalogue was written."""


def resolve_models(
    models: Iterable[str | ModelInfo] | str,
) -> tuple[dict[str, ModelInfo], bool]:
    """Turn the `models` option into (catalogue by id, accept any name).

    `ANY_MODEL` ("*") accepts every name and lists the Groq catalogue; a single other string
    is one model; names without a `ModelInfo` get neutral defaults and no token cap.
    """
    if models is None:
        raise TypeError('models=None is not a model list: pass models="*" to accept any name')
    if isinstance(models, str):
        if models == ANY_MODEL:
            return {m.id: m for m in GROQ_MODELS}, True
        models = (models,)
    catalogue: dict[str, ModelInfo] = {}
    for m in models:
        info = m if isinstance(m, ModelInfo) else ModelInfo(str(m))
        catalogue[info.id] = info
    return catalogue, False
