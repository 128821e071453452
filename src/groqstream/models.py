"""Model names worth a constant: the ones the project's seed utilities used on Groq."""

from __future__ import annotations

__all__ = ["DEFAULT_MODEL", "GPT_OSS_20B", "GPT_OSS_120B", "KIMI_K2_INSTRUCT", "REASONING_MODELS"]

GPT_OSS_20B = "openai/gpt-oss-20b"
"""OpenAI's open-weight 20B reasoning model on Groq: fast, the default."""

GPT_OSS_120B = "openai/gpt-oss-120b"
"""OpenAI's open-weight 120B reasoning model on Groq."""

KIMI_K2_INSTRUCT = "moonshotai/kimi-k2-instruct"
"""Moonshot AI's Kimi K2 instruct model on Groq (no reasoning output)."""

DEFAULT_MODEL = GPT_OSS_20B

REASONING_MODELS = frozenset({GPT_OSS_20B, GPT_OSS_120B})
"""Models that stream reasoning text before their answer."""
