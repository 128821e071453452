"""A simulated Groq-like inference server, for demos, tests and benchmarks.

`SimulatedServer` speaks Groq's OpenAI-compatible dialect (or vLLM's, llama.cpp's, Ollama's,
OpenAI's) over real loopback sockets, with configurable pacing and scripted `Fault`s. It
never imports the client side of groqstream, so it cannot share the client's bugs.
"""

from .dialects import DIALECTS, Dialect
from .faults import Fault
from .server import RequestRecord, ServerStats, SimulatedServer, groq_duration, serve

__all__ = [
    "DIALECTS",
    "Dialect",
    "Fault",
    "RequestRecord",
    "ServerStats",
    "SimulatedServer",
    "groq_duration",
    "serve",
]
