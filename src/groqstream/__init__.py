"""groqstream: a lean, fast asyncio SDK for streaming LLM inference.

Groq first, any OpenAI-compatible endpoint too. Every stream measures its own latency
(TTFT, ITL, TPOT, E2EL) from timestamps taken as the bytes arrive.

    async with groqstream.Client() as client:
        async with client.stream(prompt="Hello") as s:
            async for delta in s:
                print(delta.content, end="")
        print(s.metrics.ttft_s)
"""

from ._gcfreeze import freeze_startup_state
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
    JSONValidateFailedError,
    MalformedChunkError,
    MissingAPIKeyError,
    NoEndpointAvailable,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    RedirectError,
    RequestTimeoutError,
    RequestTooLargeError,
    StreamInterrupted,
    StructuredOutputError,
    ToolLoopError,
    ToolUseFailedError,
    TotalTimeout,
    UnprocessableEntityError,
    WrongEventLoopError,
)
from .fanout import FanOut, FanOutOptions, Progress, Result
from .metrics import StreamMetrics
from .models import DEFAULT_MODEL
from .partial_json import PartialJSON, PartialJSONError
from .report import SLO, LatencyAccumulator, LatencyReport
from .router import Endpoint, RoutedStream, Router
from .routing import Breaker, Hedge
from .stream import ChatStream, StreamState
from .structured import Partial
from .tools import (
    ExecutedToolsDelta,
    Final,
    ReasoningDelta,
    RoundDone,
    TextDelta,
    Tool,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    ToolEvent,
    ToolResult,
    ToolRun,
    tool,
)
from .types import Completion, Delta, ExecutedTool, FunctionCall, ToolCall, Usage, tool_result

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
    "Breaker",
    "CapacityExceededError",
    "ChatStream",
    "Client",
    "Completion",
    "ConfigError",
    "ConflictError",
    "ConnectTimeout",
    "ContentTypeError",
    "Delta",
    "Endpoint",
    "EventTooLargeError",
    "ExecutedTool",
    "ExecutedToolsDelta",
    "FanOut",
    "FanOutOptions",
    "Final",
    "FirstByteTimeout",
    "FunctionCall",
    "GoodputUnknownError",
    "GroqStreamError",
    "Hedge",
    "IdleTimeout",
    "InternalServerError",
    "JSONValidateFailedError",
    "LatencyAccumulator",
    "LatencyReport",
    "MalformedChunkError",
    "MissingAPIKeyError",
    "NoEndpointAvailable",
    "NotFoundError",
    "Partial",
    "PartialJSON",
    "PartialJSONError",
    "PermissionDeniedError",
    "Progress",
    "ProtocolError",
    "RateLimitError",
    "ReasoningDelta",
    "RedirectError",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "Result",
    "RetryPolicy",
    "RoundDone",
    "RoutedStream",
    "Router",
    "StreamInterrupted",
    "StreamMetrics",
    "StreamState",
    "StructuredOutputError",
    "TextDelta",
    "Timeouts",
    "Tool",
    "ToolCall",
    "ToolCallArgumentsDelta",
    "ToolCallDone",
    "ToolCallStarted",
    "ToolEvent",
    "ToolLoopError",
    "ToolResult",
    "ToolRun",
    "ToolUseFailedError",
    "TotalTimeout",
    "UnprocessableEntityError",
    "Usage",
    "WrongEventLoopError",
    "__version__",
    "ask",
    "freeze_startup_state",
    "run_batch",
    "tool",
    "tool_result",
]
