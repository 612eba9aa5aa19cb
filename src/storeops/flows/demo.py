"""Connect a shop to the vendor sandboxes: what `storeops up --demo` does at start.

Input is the map `storeops sandbox run` prints (vendor -> {"url", "credentials", ...}).
The demo shop is the Shopify sandbox's shop ("demo.myshopify.com"). Every vendor's
credentials are stored encrypted on that shop, base URLs included (credential
"base_url"), so any later flow builds its connector from the shop alone
(`connector_for`); nothing here knows the sandbox is not the vendor.

Then the webhook subscriptions are created through the connectors, exactly as for a
real shop: Shopify subscribes `<callback>/webhooks/shopify` (intake finds the shop by
X-Shopify-Shop-Domain); ShipBob and Gorgias subscribe `<callback>/webhooks/<vendor>?shop=
<domain>` (their deliveries name no shop). Every step is idempotent, so a restart against
sandboxes that kept their state creates no duplicate subscription.

Which secret verifies what (storeops.web.intake reads credential (vendor, "webhook_secret")):
    shopify  the app's API secret: Shopify signs deliveries with it (X-Shopify-Hmac-Sha256)
    shipbob  the whsec_ secret: we hand it to ShipBob when subscribing (Standard Webhooks)
    gorgias  a secret of ours, sent back by the HTTP integrations in a header
    klaviyo, amazon  nothing: storeops subscribes to nothing there (they are polled)
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import structlog

from storeops.connectors.amazon import LWA_TOKEN_URL, AmazonClient
from storeops.connectors.amazon.client import SP_API_NA_URL
from storeops.connectors.base import Connector
from storeops.connectors.gorgias.client import GorgiasClient
from storeops.connectors.http import VendorClient
from storeops.connectors.klaviyo.client import DEFAULT_BASE_URL as KLAVIYO_URL
from storeops.connectors.klaviyo.client import KlaviyoClient
from storeops.connectors.shipbob.client import DEFAULT_BASE_URL as SHIPBOB_URL
from storeops.connectors.shipbob.client import ShipbobClient
from storeops.connectors.shopify.client import ShopifyClient
from storeops.core.errors import ConfigError, InvalidInput, NotFound
from storeops.core.secrets import SecretBox
from storeops.db.session import Database
from storeops.domain.shops import services as shops
from storeops.engine.retry import RetryPolicy

log = structlog.get_logger(__name__)

DEMO_SHOP = "demo.myshopify.com"
DEMO_SHOP_NAME = "Demo store"
WEBHOOK_SECRET = "webhook_secret"  # the name storeops.web.intake looks up
BASE_URL = "base_url"
VENDORS = ("shopify", "shipbob", "gorgias", "klaviyo", "amazon")

# What each vendor's sandbox credentials are called on the shop. Shopify's api_secret is
# stored as webhook_secret because that is its only use here: it signs the deliveries.
_RENAMES: dict[tuple[str, str], str] = {("shopify", "api_secret"): WEBHOOK_SECRET}

# Connecting happens once at start; a sandbox still starting may answer 5xx or be
# briefly unreachable. The engine's policy decides, with a short patience.
_CONNECT_POLICY = RetryPolicy(max_attempts=4, base_delay_s=0.25, max_delay_s=2.0)


class ClosableConnector(Connector, Protocol):
    """A connector (check, ensure_subscriptions) that holds an HTTP client to close."""

    def close(self) -> None: ...


@dataclass
class VendorConnection:
    vendor: str
    checked: bool = False
    topics: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class ShopConnection:
    shop_id: str
    domain: str
    created: bool  # False: the shop was registered before (a restart)
    vendors: dict[str, VendorConnection] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(v.error is None for v in self.vendors.values())

    def as_dict(self) -> dict[str, Any]:
        return {"shop_id": self.shop_id, "domain": self.domain, "created": self.created,
                "vendors": {name: {"checked": v.checked, "topics": v.topics, "error": v.error}
                            for name, v in self.vendors.items()}}


# --- credentials -----------------------------------------------------------------------


def sandbox_credentials(sandboxes: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """(vendor, credential name) -> value for every vendor in the sandbox map."""
    found: dict[tuple[str, str], str] = {}
    for vendor, entry in sandboxes.items():
        if vendor not in VENDORS:
            continue
        url = entry.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidInput(f"sandbox {vendor} has no http(s) url", field=vendor)
        found[(vendor, BASE_URL)] = url.rstrip("/")
        for name, value in (entry.get("credentials") or {}).items():
            if value:
                found[(vendor, _RENAMES.get((vendor, name), name))] = str(value)
        if vendor == "amazon" and entry.get("lwa_token_url"):
            found[(vendor, "lwa_token_url")] = str(entry["lwa_token_url"])
    return found


def load_credentials(db: Database, box: SecretBox, shop_id: str, vendor: str) -> dict[str, str]:
    """Every stored credential of `vendor` for the shop, decrypted."""
    with db.read_session(shop_id) as session:
        shop = shops.find_shop(session, shop_id)
        names = [c.split(".", 1)[1] for c in shops.view(session, shop).credentials if c.startswith(f"{vendor}.")]
        values = {name: shops.get_credential(session, box, shop_id=shop_id, vendor=vendor, name=name)
                  for name in names}
    return {name: secret.reveal() for name, secret in values.items() if secret is not None}


def _need(creds: Mapping[str, str], vendor: str, *names: str) -> list[str]:
    missing = [n for n in names if not creds.get(n)]
    if missing:
        raise ConfigError(f"{vendor}: the shop has no {', '.join(missing)} credential")
    return [creds[n] for n in names]


def _build(vendor: str, domain: str, creds: Mapping[str, str]) -> ClosableConnector:
    base = creds.get(BASE_URL)
    if vendor == "shopify":
        (token,) = _need(creds, vendor, "access_token")
        return ShopifyClient(domain, token, base_url=base)
    if vendor == "shipbob":
        (token,) = _need(creds, vendor, "token")
        return ShipbobClient(token, base or SHIPBOB_URL, webhook_secret=creds.get(WEBHOOK_SECRET))
    if vendor == "gorgias":
        email, api_key = _need(creds, vendor, "email", "api_key")
        where = base or creds.get("domain") or ""
        return GorgiasClient(where, email, api_key, webhook_secret=creds.get(WEBHOOK_SECRET))
    if vendor == "klaviyo":
        (api_key,) = _need(creds, vendor, "api_key")
        return KlaviyoClient(api_key, base or KLAVIYO_URL)
    if vendor == "amazon":
        seller, marketplace, client_id, client_secret, refresh = _need(
            creds, vendor, "seller_id", "marketplace_id", "client_id", "client_secret", "refresh_token")
        return AmazonClient(seller, marketplace, client_id, client_secret, refresh, base or SP_API_NA_URL,
                            creds.get("lwa_token_url") or LWA_TOKEN_URL)
    raise NotFound("vendor", vendor)


_shared: dict[tuple[str, str, str], tuple[float, ClosableConnector]] = {}
_shared_lock = threading.Lock()
SHARED_CONNECTOR_TTL_S = 10.0


def connector_for(db: Database, box: SecretBox, shop: str, vendor: str) -> ClosableConnector:
    """The connector for `vendor`, from the shop's stored credentials (shop: id or domain).

    Callers close it (`with closing(connector_for(...)) as client:`), but the client is shared
    per shop and vendor in the process and stays open for SHARED_CONNECTOR_TTL_S: building one
    per call (a TLS context, the credentials read and decrypted) cost more CPU than the call.
    A credential changed in this process takes effect at once (`forget_connectors`), one
    changed by another process within that time."""
    now = time.monotonic()
    key = (db.url, shop, vendor)
    with _shared_lock:
        cached = _shared.get(key)
        if cached is not None and now - cached[0] < SHARED_CONNECTOR_TTL_S:
            return cached[1]
    with db.read_session() as session:
        found = shops.find_shop(session, shop)
        shop_id, domain = found.id, found.domain
    client = _build(vendor, domain, load_credentials(db, box, shop_id, vendor))
    if isinstance(client, VendorClient):
        client.share()
        with _shared_lock:
            # A replaced client is left to the garbage collector: another thread may be using it.
            _shared[key] = (now, client)
    return client


def forget_connectors() -> None:
    """Drop the shared connectors: the next call builds them from the stored credentials."""
    with _shared_lock:
        _shared.clear()


# --- connecting ------------------------------------------------------------------------


def callback_url(base: str, vendor: str, domain: str) -> str:
    """Where `vendor` delivers webhooks for the shop. Shopify names the shop in a header;
    the others' deliveries do not, so their URL carries ?shop= (storeops.web.intake)."""
    url = f"{base.rstrip('/')}/webhooks/{vendor}"
    return url if vendor == "shopify" else f"{url}?shop={quote(domain, safe='')}"


def _register(db: Database, box: SecretBox, domain: str, name: str,
              credentials: Mapping[tuple[str, str], str]) -> tuple[str, bool]:
    """Register the shop or refresh its credentials; returns (shop id, created)."""
    with db.system_session() as session:
        try:
            shop_id = shops.find_shop(session, domain).id
        except NotFound:
            shop_id = None
        if shop_id is None:
            try:
                return shops.add_shop(session, box, domain=domain, name=name, credentials=dict(credentials)).id, True
            except InvalidInput:
                # Another process registered it between our read and our insert: update it.
                shop_id = shops.find_shop(session, domain).id
        for (vendor, cred), value in credentials.items():
            shops.set_credential(session, box, shop_id=shop_id, vendor=vendor, name=cred, value=value)
    forget_connectors()
    return shop_id, False


def _gorgias_secret(db: Database, box: SecretBox, domain: str) -> str:
    """Keep the Gorgias secret across restarts (the integrations already send it)."""
    with db.system_session() as session:
        try:
            shop_id = shops.find_shop(session, domain).id
        except NotFound:
            return secrets.token_urlsafe(32)
        stored = shops.get_credential(session, box, shop_id=shop_id, vendor="gorgias", name=WEBHOOK_SECRET)
    return stored.reveal() if stored is not None else secrets.token_urlsafe(32)


def connect_vendor(db: Database, box: SecretBox, shop_id: str, domain: str, vendor: str,
                   callback_base: str) -> VendorConnection:
    """check() the credentials, then ensure the subscriptions; errors are reported, not raised."""
    result = VendorConnection(vendor)
    try:
        with closing(_build(vendor, domain, load_credentials(db, box, shop_id, vendor))) as client:
            _CONNECT_POLICY.call(client.check)
            result.checked = True
            url = callback_url(callback_base, vendor, domain)
            result.topics = list(_CONNECT_POLICY.call(lambda: client.ensure_subscriptions(url)) or [])
    except Exception as exc:  # noqa: BLE001 - one vendor's failure must not stop the others
        result.error = str(exc) or repr(exc)
        log.warning("demo vendor not connected", vendor=vendor, error=result.error)
    return result


def connect_demo_shop(db: Database, box: SecretBox, sandboxes: Mapping[str, Mapping[str, Any]], callback_base: str,
                 *, domain: str | None = None, name: str = DEMO_SHOP_NAME) -> ShopConnection:
    """Register (or update) the shop with every sandbox's credentials and subscribe it."""
    shopify = sandboxes.get("shopify") or {}
    domain = shops.normalize_domain(domain or str(shopify.get("shop") or DEMO_SHOP))
    credentials = sandbox_credentials(sandboxes)
    if "gorgias" in sandboxes:
        credentials[("gorgias", WEBHOOK_SECRET)] = _gorgias_secret(db, box, domain)
    shop_id, created = _register(db, box, domain, name, credentials)
    connection = ShopConnection(shop_id, domain, created)
    for vendor in VENDORS:
        if vendor in sandboxes:
            connection.vendors[vendor] = connect_vendor(db, box, shop_id, domain, vendor, callback_base)
    log.info("demo shop connected", shop=domain, created=created,
             failed={name: v.error for name, v in connection.vendors.items() if v.error})
    return connection

