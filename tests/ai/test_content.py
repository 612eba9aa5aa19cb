"""Content generators: the grounding check, the offline generator, and the OpenAI-compatible
provider against a tiny fake /v1/chat/completions server started here. No real model server
can run offline in this environment, so the fake plays one: it answers what each test tells
it to (a grounded answer, a hallucinating one, a schema-breaking one, an error)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from storeops.ai.content import Budget, OfflineGenerator, OpenAICompatibleGenerator, grounding_check
from storeops.domain.catalog.channels import LIMITS

FACTS: dict[str, Any] = {
    "title": "Chaz Kangeroo Hoodie", "vendor": "Luma", "product_type": "Hoodies & Sweatshirts",
    "description": "Ideal for cold-weather training. Two-tone gray heather hoodie. Machine wash/dry.",
    "tags": ["Eco Friendly"], "attributes": {"material": "Wool", "pattern": "Color-Blocked"},
    "options": {"size": ["XS", "S"], "color": ["Black", "Gray"]}, "compliance": {}, "prices": ["52.00"],
    "skus": ["MH01-XS-Black"],
}
GROUNDED = {"description": "Chaz Kangeroo Hoodie by Luma. Material: Wool. Machine wash/dry.",
            "seo_title": "Chaz Kangeroo Hoodie | Luma", "seo_description": "Two-tone gray heather hoodie in wool.",
            "bullets": ["Material: Wool", "Pattern: Color-Blocked", "Sizes XS and S"],
            "keywords": ["hoodie", "wool"], "email_snippet": "<h3>Chaz Kangeroo Hoodie</h3><p>From 52.00</p>"}
HALLUCINATED = {**GROUNDED, "description": "Premium waterproof cotton hoodie, 100% organic, rated best of 2024."}


def test_grounding_check_names_every_unsupported_fact() -> None:
    assert grounding_check("Chaz Kangeroo Hoodie: wool, gray, black, price 52.00 (52).", FACTS) == []
    found = grounding_check("Premium waterproof cotton hoodie in navy, 100% organic, 340 g, best seller.", FACTS)
    assert set(found) == {"premium", "waterproof", "cotton", "navy", "100", "organic", "340", "best"}
    assert grounding_check("The #1 hoodie", FACTS) == ["#1"]


def test_offline_generator_is_deterministic_grounded_and_inside_the_limits() -> None:
    generator = OfflineGenerator()
    first, second = generator.write(FACTS, LIMITS), generator.write(FACTS, LIMITS)
    assert first == second and first.generator == "offline@1"
    for text in first.texts():
        assert grounding_check(text, FACTS) == []
    assert "Material: Wool" in first.bullets and len(first.bullets) <= LIMITS["bullets"]
    assert len(first.seo_title) <= LIMITS["seo_title"] and len(first.seo_description) <= LIMITS["seo_description"]
    assert "Price from 52.00" in first.email_snippet
    # Nothing in the record says "premium": the generator never says it either.
    assert "premium" not in " ".join(first.texts()).lower()


def test_offline_generator_without_a_description_composes_only_field_values() -> None:
    facts = {**FACTS, "description": "", "attributes": {"material": "Leather|Suede"}}
    content = OfflineGenerator().write(facts, LIMITS)
    assert content.description == ("Chaz Kangeroo Hoodie by Luma. Material: Leather, Suede. "
                                   "Available sizes: XS, S. Available colors: Black, Gray.")
    assert all(grounding_check(t, facts) == [] for t in content.texts())


class FakeOpenAI:
    """A minimal OpenAI-compatible chat completions endpoint on a loopback port."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, Any]] = []
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                status, answer = fake.answers.pop(0) if fake.answers else (500, {"error": "no answer queued"})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reply(self, content: Any, *, tokens: int = 120, status: int = 200) -> None:
        text = content if isinstance(content, str) else json.dumps(content)
        self.answers.append((status, {"id": "cmpl-1", "object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": tokens // 2, "completion_tokens": tokens // 2, "total_tokens": tokens}}))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    yield server
    server.close()


def test_a_grounded_answer_is_used_and_the_request_asks_for_the_json_schema(fake: FakeOpenAI) -> None:
    fake.reply(GROUNDED)
    generator = OpenAICompatibleGenerator(fake.url, "qwen2.5-7b-instruct", api_key="sk-local")
    content = generator.write(FACTS, LIMITS)
    assert content.generator == "openai-compatible:qwen2.5-7b-instruct" and content.notes == ()
    assert content.description == GROUNDED["description"] and content.bullets == tuple(GROUNDED["bullets"])
    [sent] = fake.requests
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer sk-local"
    schema = sent["body"]["response_format"]["json_schema"]
    assert sent["body"]["response_format"]["type"] == "json_schema" and schema["strict"] is True
    assert set(schema["schema"]["required"]) >= {"description", "seo_title", "bullets", "email_snippet"}
    assert json.loads(sent["body"]["messages"][1]["content"])["facts"] == FACTS
    assert generator.budget.requests == 1 and generator.budget.tokens == 120


def test_a_hallucinating_answer_is_rejected_and_the_offline_content_used(fake: FakeOpenAI) -> None:
    fake.reply(HALLUCINATED)
    content = OpenAICompatibleGenerator(fake.url, "llama3").write(FACTS, LIMITS)
    assert content.generator == "offline@1 (fallback)"
    [note] = content.notes
    assert "states facts the record does not" in note
    for word in ("premium", "waterproof", "cotton", "organic", "100", "2024", "best"):
        assert word in note
    assert content.description == OfflineGenerator().write(FACTS, LIMITS).description


@pytest.mark.parametrize(("answer", "status", "reason"), [
    ("this is not json", 200, "does not follow the schema"),
    ({**GROUNDED, "bullets": []}, 200, "does not follow the schema"),
    ({**GROUNDED, "surprise": "field"}, 200, "does not follow the schema"),
    ({**GROUNDED, "seo_title": "Chaz Kangeroo Hoodie " * 5}, 200, "over the channel limits: seo_title"),
    (GROUNDED, 503, "HTTP 503"),
])
def test_bad_answers_fall_back_to_offline(fake: FakeOpenAI, answer: Any, status: int, reason: str) -> None:
    fake.reply(answer, status=status)
    content = OpenAICompatibleGenerator(fake.url, "m").write(FACTS, LIMITS)
    assert content.generator == "offline@1 (fallback)" and reason in content.notes[0]


def test_a_spent_budget_sends_nothing(fake: FakeOpenAI) -> None:
    generator = OpenAICompatibleGenerator(fake.url, "m", budget=Budget(max_requests=5, max_tokens=150))
    fake.reply(GROUNDED, tokens=100)
    fake.reply(GROUNDED, tokens=100)
    assert generator.write(FACTS, LIMITS).notes == ()
    assert generator.write(FACTS, LIMITS).notes == ()  # 200 tokens used now: over 150
    third = generator.write(FACTS, LIMITS)
    assert "token budget spent (200/150)" in third.notes[0] and len(fake.requests) == 2


def test_an_unreachable_server_falls_back(fake: FakeOpenAI) -> None:
    url = fake.url
    fake.close()
    content = OpenAICompatibleGenerator(url, "m", timeout_s=2).write(FACTS, LIMITS)
    assert content.generator == "offline@1 (fallback)" and "request failed" in content.notes[0]
