"""ReplyPolisher: one call to an OpenAI-compatible /chat/completions endpoint."""

from __future__ import annotations

from typing import Any

import httpx

MAX_REPLY_CHARS = 4000
INSTRUCTIONS = (
    "You rewrite customer-support replies for an online store so they read warm, clear and natural. "
    "Keep every order number, date, amount, tracking number, link and email address exactly as written. "
    "Add no facts, promises, links, discounts or instructions that are not in the reply. "
    "Answer with the rewritten reply only.")
LANGUAGES = {"en": "English", "es": "Spanish", "fr": "French", "de": "German", "it": "Italian", "nl": "Dutch",
             "pt": "Portuguese"}


class PolishError(Exception):
    """The provider could not be reached or answered something unusable."""


class ReplyPolisher:
    def __init__(self, base_url: str, api_key: str, model: str, *, timeout_s: float = 5.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.model = model
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport,
                                 headers={"Authorization": f"Bearer {api_key}"})

    def close(self) -> None:
        self.http.close()

    def polish(self, draft: str, *, language: str = "en") -> str:
        language_name = LANGUAGES.get(language)
        system = INSTRUCTIONS + (f" Write in {language_name}." if language_name else "")
        body: dict[str, Any] = {"model": self.model, "temperature": 0.2,
                                "messages": [{"role": "system", "content": system},
                                             {"role": "user", "content": draft}]}
        try:
            response = self.http.post("/chat/completions", json=body)
            response.raise_for_status()
            text = response.json()["choices"][0]["message"]["content"]
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise PolishError(f"reply polish failed: {exc}") from exc
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_REPLY_CHARS:
            raise PolishError("reply polish answered no usable text")
        return text.strip()
