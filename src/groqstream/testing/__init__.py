"""A simulated Groq-like inference server, for demos, tests and benchmarks.

`SimulatedServer` speaks Groq's OpenAI-compatible dialect (or vLLM's, llama.cpp's, Ollama's,
OpenAI's) over real loopback sockets, with configurable pacing and scripted `Fault`s. It
refuses what Groq refuses (unknown models, bad parameters) with Groq's error bodies. It
never imports the client side of groqstream, so it cannot share the client's bugs.
"""

from .catalog import ANY_MODEL, GROQ_MODELS, ModelInfo
from .dialects import DIALECTS, Dialect
from .faults import Fault
from .limits import groq_duration
from .server import SimulatedServer, serve
from .stats import RequestRecord, ServerStats
from .tail import SlowTail

__all__ = [
    "ANY_MODEL",
    "DIALECTS",
    "GROQ_MODELS",
    "Dialect",
    "Fault",
    "ModelInfo",
    "RequestRecord",
    "ServerStats",
    "SimulatedServer",
    "SlowTail",
    "groq_duration",
    "serve",
]
