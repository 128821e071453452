"""The `groqstream` command line: chat, demo, bench, batch and serve."""

from .main import main

__all__ = ["main"]
