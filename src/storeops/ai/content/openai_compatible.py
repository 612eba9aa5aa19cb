"""A content generator over any OpenAI-compatible chat completions server.

POST {base_url}/v1/chat/completions with a JSON-schema response_format: OpenAI itself and
the local servers that speak the same API (vLLM, Ollama, llama.cpp's server). The answer
is accepted only if
  1. it parses and validates against ProductCopy (pydantic),
  2. it fits the channels' limits,
  3. the grounding check finds no fact the record does not state,
and the run's budget (requests and tokens) is not spent. Otherwise the offline generator
writes the content and the reason is kept in `notes` (the decision record shows it).
The provider never raises for a bad answer: publishing must not depend on a model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from storeops.ai.content.grounding import grounding_check
from storeops.ai.content.offline import OfflineGenerator
from storeops.ai.content.types import GeneratedContent

SYSTEM_PROMPT = (
    "You write e-commerce product copy. Use ONLY the facts in the user's JSON: do not add any material, "
    "colour, number, measurement, certification or claim (such as 'best' or 'premium') that the facts do "
    "not state. Answer with JSON matching the schema."
)


class ProductCopy(BaseModel):
    """The output schema the model must follow."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1)
    seo_title: str = Field(min_length=1)
    seo_description: str = Field(min_length=1)
    bullets: list[str] = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)
    email_snippet: str = Field(min_length=1)


@dataclass
class Budget:
    max_requests: int = 200
    max_tokens: int = 200_000
    requests: int = 0
    tokens: int = 0

    def spent(self) -> str | None:
        if self.requests >= self.max_requests:
            return f"request budget spent ({self.requests}/{self.max_requests})"
        if self.tokens >= self.max_tokens:
            return f"token budget spent ({self.tokens}/{self.max_tokens})"
        return None


class Rejected(Exception):
    """The provider's answer cannot be used; the message says why."""


class OpenAICompatibleGenerator:
    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout_s: float = 30.0,
                 budget: Budget | None = None, max_tokens_per_request: int = 800,
                 fallback: OfflineGenerator | None = None, transport: httpx.BaseTransport | None = None) -> None:
        self.name = f"openai-compatible:{model}"
        self.model = model
        self.budget = budget or Budget()
        self.max_tokens_per_request = max_tokens_per_request
        self.fallback = fallback or OfflineGenerator()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s, headers=headers,
                                  transport=transport)

    def close(self) -> None:
        self._http.close()

    def write(self, facts: Mapping[str, Any], limits: Mapping[str, int]) -> GeneratedContent:
        try:
            copy = self._ask(facts, limits)
            content = GeneratedContent(
                description=copy.description, seo_title=copy.seo_title, seo_description=copy.seo_description,
                bullets=tuple(copy.bullets), keywords=tuple(copy.keywords), email_snippet=copy.email_snippet,
                generator=self.name)
            self._check(content, facts, limits)
            return content
        except Rejected as exc:
            offline = self.fallback.write(facts, limits)
            return replace(offline, generator=f"{offline.generator} (fallback)",
                           notes=(f"{self.name} rejected: {exc}",))

    def _ask(self, facts: Mapping[str, Any], limits: Mapping[str, int]) -> ProductCopy:
        spent = self.budget.spent()
        if spent:
            raise Rejected(spent)
        body = {
            "model": self.model, "temperature": 0, "max_tokens": self.max_tokens_per_request,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT},
                         {"role": "user", "content": json.dumps({"facts": facts, "limits": dict(limits)})}],
            "response_format": {"type": "json_schema", "json_schema": {
                "name": "product_copy", "strict": True, "schema": ProductCopy.model_json_schema()}},
        }
        self.budget.requests += 1
        try:
            response = self._http.post("/v1/chat/completions", json=body)
        except httpx.HTTPError as exc:
            raise Rejected(f"request failed: {exc!r}") from exc
        if response.status_code != 200:
            raise Rejected(f"HTTP {response.status_code}: {response.text[:200]}")
        try:
            answer = response.json()
            self.budget.tokens += int((answer.get("usage") or {}).get("total_tokens") or 0)
            text = answer["choices"][0]["message"]["content"]
            return ProductCopy.model_validate_json(text)
        except (ValueError, KeyError, IndexError, TypeError, ValidationError) as exc:
            raise Rejected(f"answer does not follow the schema: {str(exc)[:300]}") from exc

    @staticmethod
    def _check(content: GeneratedContent, facts: Mapping[str, Any], limits: Mapping[str, int]) -> None:
        over = [name for name, value in (("seo_title", content.seo_title),
                                         ("seo_description", content.seo_description),
                                         ("description", content.description),
                                         ("email_snippet", content.email_snippet))
                if name in limits and len(value) > limits[name]]
        if len(content.bullets) > limits.get("bullets", 5) or any(len(b) > limits.get("bullet", 500)
                                                                   for b in content.bullets):
            over.append("bullets")
        if over:
            raise Rejected(f"over the channel limits: {', '.join(over)}")
        unsupported = sorted({fact for text in content.texts() for fact in grounding_check(text, facts)})
        if unsupported:
            raise Rejected(f"states facts the record does not: {', '.join(unsupported)}")
