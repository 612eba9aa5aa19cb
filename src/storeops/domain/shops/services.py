"""Register shops and keep their credentials, encrypted at rest."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storeops.core.clock import utcnow
from storeops.core.errors import InvalidInput, NotFound
from storeops.core.ids import new_id
from storeops.core.secrets import Secret, SecretBox
from storeops.db.models import Shop, ShopCredential

VENDORS = ("shopify", "shipbob", "gorgias", "klaviyo", "amazon")
_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}(\.[a-z0-9][a-z0-9-]{0,62})+$")
_CREDENTIAL_NAME = re.compile(r"^[a-z0-9_]{1,40}$")  # shop_credentials.name is VARCHAR(40)


@dataclass(frozen=True)
class ShopView:
    id: str
    domain: str
    name: str
    credentials: tuple[str, ...]  # "vendor.name" of each stored credential, never the value

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "domain": self.domain, "name": self.name, "credentials": list(self.credentials)}


def normalize_domain(domain: str) -> str:
    value = domain.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    if not _DOMAIN.match(value) or len(value) > 255:
        raise InvalidInput(f"{domain!r} is not a shop domain like example.myshopify.com", field="domain")
    return value


def add_shop(session: Session, box: SecretBox, *, domain: str, name: str = "",
             credentials: dict[tuple[str, str], str] | None = None) -> ShopView:
    """Register a shop with its credentials; a domain already registered is refused."""
    domain = normalize_domain(domain)
    if len(name) > 255:
        raise InvalidInput("a shop name has at most 255 characters", field="name")
    taken = InvalidInput(f"shop {domain} is already registered", field="domain")
    if session.scalar(select(Shop.id).where(Shop.domain == domain)) is not None:
        raise taken
    shop = Shop(id=new_id("shop"), domain=domain, name=name or domain.split(".")[0])
    try:
        # Two registrations racing each other both pass the check above; the unique
        # index on shops.domain decides, and the loser gets the same clear error.
        with session.begin_nested():
            session.add(shop)
            session.flush()
    except IntegrityError as exc:
        raise taken from exc
    for (vendor, cred_name), value in (credentials or {}).items():
        set_credential(session, box, shop_id=shop.id, vendor=vendor, name=cred_name, value=value)
    return view(session, shop)


def set_credential(session: Session, box: SecretBox, *, shop_id: str, vendor: str, name: str, value: str) -> None:
    if vendor not in VENDORS:
        raise InvalidInput(f"unknown vendor {vendor!r}; one of {', '.join(VENDORS)}", field="vendor")
    if not _CREDENTIAL_NAME.match(name):
        raise InvalidInput("a credential name is 1-40 lower-case letters, digits or _", field="name")
    if not value:
        raise InvalidInput(f"{vendor} {name} must not be empty", field=name)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    ciphertext = box.encrypt(value)
    statement = dialect.insert(ShopCredential).values(
        shop_id=shop_id, vendor=vendor, name=name, ciphertext=ciphertext, updated_at=utcnow()
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["shop_id", "vendor", "name"],
            set_={"ciphertext": ciphertext, "updated_at": utcnow()},
        )
    )


def get_credential(session: Session, box: SecretBox, *, shop_id: str, vendor: str, name: str) -> Secret | None:
    ciphertext = session.scalar(
        select(ShopCredential.ciphertext).where(
            ShopCredential.shop_id == shop_id, ShopCredential.vendor == vendor, ShopCredential.name == name
        )
    )
    return None if ciphertext is None else box.decrypt(ciphertext)


def find_shop(session: Session, key: str) -> Shop:
    """A shop by id or domain."""
    shop = session.get(Shop, key) or session.scalar(select(Shop).where(Shop.domain == key.strip().lower()))
    if shop is None:
        raise NotFound("shop", key)
    return shop


def view(session: Session, shop: Shop) -> ShopView:
    creds = session.execute(
        select(ShopCredential.vendor, ShopCredential.name)
        .where(ShopCredential.shop_id == shop.id)
        .order_by(ShopCredential.vendor, ShopCredential.name)
    ).all()
    return ShopView(shop.id, shop.domain, shop.name, tuple(f"{v}.{n}" for v, n in creds))


def list_shops(session: Session) -> list[ShopView]:
    return [view(session, shop) for shop in session.scalars(select(Shop).order_by(Shop.created_at, Shop.id))]
