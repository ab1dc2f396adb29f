"""The wire formats Raceway speaks, by name: ``Dialect``."""

from __future__ import annotations

import enum


class Dialect(enum.StrEnum):
    """A wire format: what a client speaks to Raceway, and (all but completions) what a deployment
    speaks upstream (its ``api``)."""

    CHAT = "chat"  # OpenAI Chat Completions
    MESSAGES = "messages"  # Anthropic Messages
    RESPONSES = "responses"  # OpenAI Responses
    COMPLETIONS = "completions"  # OpenAI's legacy text completions (clients only)
    GEMINI = "gemini"  # Google's Gemini API (generateContent)
