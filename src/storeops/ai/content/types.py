"""What every content generator returns, and the interface they share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class GeneratedContent:
    description: str
    seo_title: str
    seo_description: str
    bullets: tuple[str, ...]
    keywords: tuple[str, ...]
    email_snippet: str
    generator: str
    notes: tuple[str, ...] = field(default=())  # why a provider's answer was rejected, if it was

    def texts(self) -> list[str]:
        """Every text a reader sees (the grounding check reads these)."""
        return [self.description, self.seo_title, self.seo_description, *self.bullets, self.email_snippet]


class ContentGenerator(Protocol):
    """One product's facts (its own values only) and the channels' limits in, content out."""

    name: str

    def write(self, facts: Mapping[str, Any], limits: Mapping[str, int]) -> GeneratedContent: ...
