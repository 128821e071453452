"""Every name groqstream.otel emits: metrics, units, bucket boundaries, attributes, events.

They follow the OpenTelemetry GenAI semantic conventions v1.41.1, the last released version
(the conventions moved to open-telemetry/semantic-conventions-genai afterwards, which has not
tagged a release yet; its main branch replaces `gen_ai.client.token.usage` with
`gen_ai.client.inference.*` counters). A rename is an edit here and nowhere else.
Names outside the conventions live under `groq.*` (what Groq's server reports) and
`groqstream.*` (what this client adds).
"""

from __future__ import annotations

from dataclasses import dataclass

SEMCONV_VERSION = "1.41.1"
SCHEMA_URL = "https://opentelemetry.io/schemas/1.41.0"  # 1.41.1 changed no convention
INSTRUMENTATION_SCOPE = "groqstream"
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

# --- attributes (semantic conventions) -----------------------------------------------------
OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_STREAM = "gen_ai.request.stream"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_TOP_P = "gen_ai.request.top_p"
REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
REQUEST_SEED = "gen_ai.request.seed"
REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
OUTPUT_TYPE = "gen_ai.output.type"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
TOKEN_TYPE = "gen_ai.token.type"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
HTTP_STATUS_CODE = "http.response.status_code"

OPERATION_CHAT = "chat"
TOKEN_INPUT = "input"
TOKEN_OUTPUT = "output"

# --- attributes outside the conventions ----------------------------------------------------
GROQ_QUEUE_TIME = "groq.queue_time"  # s, x_groq.usage.queue_time
GROQ_PROMPT_TIME = "groq.prompt_time"  # s, x_groq.usage.prompt_time
GROQ_COMPLETION_TIME = "groq.completion_time"  # s, x_groq.usage.completion_time
GROQ_TOTAL_TIME = "groq.total_time"  # s, x_groq.usage.total_time
REQUEST_ID = "groqstream.request_id"  # x_groq.id, else the x-request-id header
ATTEMPTS = "groqstream.attempts"  # attempts made, retries included
CHUNKS = "groqstream.chunks"  # output-carrying chunks received
CLOSED_EARLY = "groqstream.closed_early"  # the caller stopped (break, close, cancel, GC)
RETRY_ATTEMPT = "groqstream.retry.attempt"  # the attempt that failed (1-based)
RETRY_DELAY = "groqstream.retry.delay"  # s until the next attempt

# A `Router`'s attempts (each attempt is its own span: primary, hedge or failover).
ROUTER_ENDPOINT = "groqstream.router.endpoint"  # the endpoint's name
ROUTER_ROLE = "groqstream.router.role"  # primary | hedge | failover
ROUTER_OUTCOME = "groqstream.router.outcome"  # won | lost | failed | pending
ROUTER_HEDGED = "groqstream.router.hedged"  # the request was sent to a second endpoint too
ROUTER_FAILOVERS = "groqstream.router.failovers"  # moves to another endpoint after a failure
ROUTER_BREAKER = "groqstream.router.breaker.state"  # closed | open | half_open, at the end

# --- span events ---------------------------------------------------------------------------
EVENT_FIRST_TOKEN = "groqstream.first_token"  # at the first content/reasoning/tool chunk
EVENT_RETRY = "groqstream.retry"  # one per failed attempt that was retried

# --- metrics -------------------------------------------------------------------------------
# Advised boundaries from the conventions' gen-ai-metrics page.
DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
# Groq's server timings are often a few milliseconds: the advised duration boundaries
# extended down to 1 ms.
SERVER_TIME_BUCKETS = (0.001, 0.0025, 0.005, *DURATION_BUCKETS)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One histogram: its name, unit, description and explicit bucket boundaries."""

    name: str
    unit: str
    description: str
    buckets: tuple[float, ...]


OPERATION_DURATION = MetricSpec(
    "gen_ai.client.operation.duration",
    "s",
    "GenAI operation duration: from the request's start to its end, retries included.",
    DURATION_BUCKETS,
)
TOKEN_USAGE = MetricSpec(
    "gen_ai.client.token.usage",
    "{token}",
    "Number of input and output tokens used, as the server reported them.",
    TOKEN_BUCKETS,
)
TIME_TO_FIRST_CHUNK = MetricSpec(
    "gen_ai.client.operation.time_to_first_chunk",
    "s",
    "Time from sending the request to the first chunk carrying content, reasoning or a tool "
    "call (streams only).",
    DURATION_BUCKETS,
)
TIME_PER_OUTPUT_CHUNK = MetricSpec(
    "gen_ai.client.operation.time_per_output_chunk",
    "s",
    "Time per output chunk after the first: one value per stream, its mean chunk gap "
    "(streams only).",
    DURATION_BUCKETS,
)
GROQ_QUEUE = MetricSpec(
    "groq.server.queue.duration",
    "s",
    "Time the request waited in the server's queue (x_groq.usage.queue_time).",
    SERVER_TIME_BUCKETS,
)
GROQ_PROMPT = MetricSpec(
    "groq.server.prompt.duration",
    "s",
    "Time the server spent on the prompt (x_groq.usage.prompt_time).",
    SERVER_TIME_BUCKETS,
)
GROQ_COMPLETION = MetricSpec(
    "groq.server.completion.duration",
    "s",
    "Time the server spent generating the completion (x_groq.usage.completion_time).",
    SERVER_TIME_BUCKETS,
)

ROUTER_ATTEMPTS = "groqstream.router.attempts"
"""Counter of a Router's attempts by endpoint, role and outcome: hedges started are
role=hedge, won are role=hedge outcome=won, cancelled role=hedge outcome=lost; failovers are
role=failover. Its `groqstream.router.breaker.state` attribute is the endpoint's breaker state
when the attempt ended."""

METRICS = (
    OPERATION_DURATION,
    TOKEN_USAGE,
    TIME_TO_FIRST_CHUNK,
    TIME_PER_OUTPUT_CHUNK,
    GROQ_QUEUE,
    GROQ_PROMPT,
    GROQ_COMPLETION,
)
"""Every histogram, in the order docs/telemetry.md lists them."""

# Groq's usage fields behind each server-timing histogram and span attribute.
GROQ_TIMINGS = (
    ("queue_time", GROQ_QUEUE, GROQ_QUEUE_TIME),
    ("prompt_time", GROQ_PROMPT, GROQ_PROMPT_TIME),
    ("completion_time", GROQ_COMPLETION, GROQ_COMPLETION_TIME),
)
