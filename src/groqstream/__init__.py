"""groqstream: a lean, fast asyncio SDK for streaming LLM inference.

Groq first, any OpenAI-compatible endpoint too. Every stream measures its own latency
(TTFT, ITL, TPOT, E2EL) from timestamps taken as the bytes arrive.

    async with groqstream.Client() as client:
        async with client.stream(prompt="Hello") as s:
            async for delta in s:
                print(delta.content, end="")
        print(s.metrics.ttft_s)
"""

from ._retry import RetryPolicy
from ._transport import Timeouts
from ._version import __version__
from .batch import BatchInputError, BatchSummary, run_batch
from .client import GROQ_BASE_URL, Client, ask
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CapacityExceededError,
    ConfigError,
    ConflictError,
    ConnectTimeout,
    ContentTypeError,
    EventTooLargeError,
    FirstByteTimeout,
    GoodputUnknownError,
    GroqStreamError,
    IdleTimeout,
    InternalServerError,
    MalformedChunkError,
    MissingAPIKeyError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    RedirectError,
    RequestTimeoutError,
    RequestTooLargeError,
    StreamInterrupted,
    TotalTimeout,
    UnprocessableEntityError,
)
from .fanout import FanOut, FanOutOptions, Progress, Result
from .metrics import StreamMetrics
from .models import DEFAULT_MODEL
from .report import SLO, LatencyAccumulator, LatencyReport
from .stream import ChatStream, StreamState
from .types import Completion, Delta, ToolCall, Usage

__all__ = [
    "DEFAULT_MODEL",
    "GROQ_BASE_URL",
    "SLO",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchInputError",
    "BatchSummary",
    "CapacityExceededError",
    "ChatStream",
    "Client",
    "Completion",
    "ConfigError",
    "ConflictError",
    "ConnectTimeout",
    "ContentTypeError",
    "Delta",
    "EventTooLargeError",
    "FanOut",
    "FanOutOptions",
    "FirstByteTimeout",
    "GoodputUnknownError",
    "GroqStreamError",
    "IdleTimeout",
    "InternalServerError",
    "LatencyAccumulator",
    "LatencyReport",
    "MalformedChunkError",
    "MissingAPIKeyError",
    "NotFoundError",
    "PermissionDeniedError",
    "Progress",
    "ProtocolError",
    "RateLimitError",
    "RedirectError",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "Result",
    "RetryPolicy",
    "StreamInterrupted",
    "StreamMetrics",
    "StreamState",
    "Timeouts",
    "ToolCall",
    "TotalTimeout",
    "UnprocessableEntityError",
    "Usage",
    "__version__",
    "ask",
    "run_batch",
]
