"""HTTP integrations: Gorgias's outbound calls ("webhooks") and the sidebar data they fetch.

When a trigger fires (ticket-created, ticket-updated, ticket-message-created,
ticket-self-unsnoozed), Gorgias calls every active HTTP integration subscribed to it:
`http.url` with `http.method`, `http.headers` and a body rendered from `http.form`,
where `{{ticket.id}}`, `{{ticket.customer.email}}` ... are template variables
(developers.gorgias.com/reference/the-integration-object; api-notes.yaml
objects.Integration). No signature is added: the receiver authenticates the secret
header it configured. The JSON answer is stored on the customer under the
integration's id, which is what sidebar widgets display (docs.gorgias.com
http-integrations: "fetch customer data from a third party to populate the user
profile").

Retries: Gorgias "keeps retrying individual requests if there are timeouts" and
disables an integration after 100 failures in a row
(docs.gorgias.com/faq/broken-or-disconnected-http-integration). The retry schedule is
not published; RETRY_DELAYS_S is ours.

Triggers are stored as `{"ticket_created": true, ...}` as in the docs' example object;
the hyphenated names of api-notes.yaml (ticket-created) are accepted on input.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from storeops.sandbox.common import Delivery, WebhookSender

if TYPE_CHECKING:
    from storeops.sandbox.common import VendorSandbox

TRIGGERS = ("ticket-created", "ticket-updated", "ticket-message-created", "ticket-self-unsnoozed",
            "ticket-message-failed")
METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH")
REQUEST_CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded")
RETRY_DELAYS_S = [10.0, 60.0, 300.0, 1800.0]
DISABLE_AFTER_FAILURES = 100

_VARIABLE = re.compile(r"{{\s*([A-Za-z0-9_.]+)\s*}}")


def trigger_key(name: str) -> str:
    return name.replace("-", "_")


def lookup(context: dict[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def render(template: str, context: dict[str, Any], *, quote: bool = False) -> str:
    """Mustache-style `{{a.b.c}}` substitution; missing values render as ""."""

    def replace(match: re.Match[str]) -> str:
        value = lookup(context, match.group(1))
        if value is None:
            text = ""
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, dict | list):
            text = json.dumps(value)
        else:
            text = str(value)
        return urllib.parse.quote(text, safe="@") if quote else text

    return _VARIABLE.sub(replace, template)


def render_form(form: Any, context: dict[str, Any]) -> Any:
    if isinstance(form, str):
        return render(form, context)
    if isinstance(form, dict):
        return {key: render_form(value, context) for key, value in form.items()}
    if isinstance(form, list):
        return [render_form(value, context) for value in form]
    return form


@dataclass
class IntegrationCall(Delivery):
    method: str = "POST"
    integration_id: int = 0
    customer_id: int = 0
    trigger: str = ""
    params: dict[str, str] = field(default_factory=dict)


def build_call(http: dict[str, Any], context: dict[str, Any], *, integration_id: int, customer_id: int,
               trigger: str) -> IntegrationCall:
    method = str(http.get("method") or "GET").upper()
    url = render(str(http["url"]), context, quote=True)
    headers = {str(k): render(str(v), context) for k, v in (http.get("headers") or {}).items()}
    form = render_form(http.get("form") or {}, context)
    body, params = b"", {}
    if method in ("GET", "HEAD", "DELETE"):
        # A GET carries no body: its form becomes query parameters.
        params = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in form.items()}
    elif http.get("request_content_type") == "application/x-www-form-urlencoded":
        body = urllib.parse.urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in form.items()}).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    else:
        body = json.dumps(form).encode()
        headers.setdefault("Content-Type", "application/json")
    headers.setdefault("User-Agent", "Gorgias-HTTP-Integration (storeops sandbox)")
    return IntegrationCall(url=url, body=body, headers=headers, method=method, integration_id=integration_id,
                           customer_id=customer_id, trigger=trigger, params=params)


Answered = Callable[[IntegrationCall, int, Any], None]


class IntegrationCaller(WebhookSender):
    """WebhookSender that calls with the integration's method and keeps the JSON answer.

    The base class posts and drops the answer; HTTP integrations need the method and the
    response body (sidebar data), so `_attempt` is replaced and `call` queues an
    `IntegrationCall` (with the base class's duplicate / reorder / delay faults).
    """

    def __init__(self, sandbox: VendorSandbox, *, on_answer: Answered) -> None:
        super().__init__(sandbox, retry_delays_s=RETRY_DELAYS_S, timeout_s=10.0)
        self.on_answer = on_answer

    def call(self, call: IntegrationCall) -> None:
        faults = self.sandbox.faults
        call.not_before = time.monotonic() + faults.webhook_delay_s / self.sandbox.time_scale
        copies = 2 if self.sandbox.rng.random() < faults.webhook_duplicate_rate else 1
        for index in range(copies):
            self.queue.append(call if index == 0 else dataclasses.replace(call))
        if faults.webhook_reorder and len(self.queue) > 1:
            self.sandbox.rng.shuffle(self.queue)
        self._wake.set()

    async def _attempt(self, delivery: Delivery) -> None:
        assert self._client is not None and isinstance(delivery, IntegrationCall)
        status: int | None = None
        answer: Any = None
        try:
            response = await self._client.request(delivery.method, delivery.url, content=delivery.body or None,
                                                  headers=delivery.headers, params=delivery.params or None)
            status = response.status_code
            if response.content:
                try:
                    answer = response.json()
                except ValueError:
                    answer = None
        except httpx.HTTPError:
            status = None
        ok = status is not None and 200 <= status < 300
        stats = self.sandbox.stats
        self.log.append({"url": delivery.url, "method": delivery.method, "trigger": delivery.trigger,
                         "integration_id": delivery.integration_id, "attempt": delivery.attempt,
                         "status": status, "ok": ok})
        self.on_answer(delivery, status or 0, answer)
        if ok:
            stats.webhooks_sent += 1
            return
        stats.webhooks_failed += 1
        if delivery.attempt >= len(self.retry_delays_s):
            stats.webhooks_given_up += 1
            return
        delivery.not_before = time.monotonic() + self.retry_delays_s[delivery.attempt] / self.sandbox.time_scale
        delivery.attempt += 1
        self.queue.append(delivery)
        self._wake.set()


# --- sidebar ----------------------------------------------------------------------------


def render_widget(template: Any, data: Any) -> Any:
    """What a widget template shows for `data` (docs: create-integrations-and-widgets:
    wrapper > card > text fields, each with a `path` into the integration's data)."""
    if not isinstance(template, dict):
        return None
    path = template.get("path")
    value = lookup(data, str(path)) if path and isinstance(data, dict) else data
    kind = template.get("type", "text")
    title = template.get("title")
    children = template.get("widgets") or []
    if kind == "list":
        items = value if isinstance(value, list) else []
        return {"type": "list", "title": title,
                "items": [[render_widget(child, item) for child in children] for item in items]}
    if kind in ("wrapper", "card"):
        return {"type": kind, "title": title, "widgets": [render_widget(child, value) for child in children]}
    return {"type": kind, "title": title, "value": value}
