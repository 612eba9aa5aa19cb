"""Login with Amazon (LWA) token exchange and SP-API access-token checks.

LWA (POST https://api.amazon.com/auth/o2/token, form-encoded) trades an app's refresh
token for an access token valid 3600 s; every SP-API call then carries it in the
x-amz-access-token header. Shapes follow Amazon's "Connecting to the Selling Partner
API" guide:

    200 {"access_token": "Atza|...", "refresh_token": "Atzr|...", "token_type": "bearer", "expires_in": 3600}
    400 {"error": "invalid_grant", "error_description": "..."}        bad refresh token
    401 {"error": "invalid_client", "error_description": "..."}       bad client id / secret

SP-API answers an expired, unknown or missing access token with 403 (not 401; see
amzn/selling-partner-api-models#4122), code "Unauthorized", and the reason in "details"
(wording from amzn/selling-partner-api-docs#2147).
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ACCESS_TOKEN_TTL_S = 3600
UNAUTHORIZED_MESSAGE = "Access to requested resource is denied."
EXPIRED_DETAILS = "The access token you provided has expired."
INVALID_DETAILS = "The access token you provided is revoked, malformed or invalid."


@dataclass(frozen=True, slots=True)
class AppCredentials:
    client_id: str
    client_secret: str
    refresh_token: str
    seller_id: str


@dataclass(frozen=True, slots=True)
class AccessToken:
    seller_id: str
    expires_at: float  # sandbox (vendor) seconds


def make_credentials(seed: int) -> AppCredentials:
    """Stable per seed (its own Random, so a reset does not change them)."""
    rng = random.Random(f"amazon-credentials-{seed}")
    alnum = string.ascii_uppercase + string.digits
    return AppCredentials(
        client_id="amzn1.application-oa2-client." + f"{rng.getrandbits(128):032x}",
        client_secret="amzn1.oa2-cs.v1." + f"{rng.getrandbits(256):064x}",
        refresh_token="Atzr|" + "".join(rng.choices(string.ascii_letters + string.digits, k=120)),
        seller_id="A" + "".join(rng.choices(alnum, k=13)),
    )


def lwa_error(error: str, description: str) -> dict[str, str]:
    return {"error_description": description, "error": error}


class LoginWithAmazon:
    """Issues and checks access tokens; `now` is the sandbox's (scaled) clock."""

    def __init__(self, app: AppCredentials, rng: random.Random, now: Callable[[], float]) -> None:
        self.app = app
        self.rng = rng
        self.now = now
        self.tokens: dict[str, AccessToken] = {}
        self.exchanges = 0

    def exchange(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant_type = form.get("grant_type", "")
        if not grant_type:
            return 400, lwa_error("invalid_request", "The request is missing a required parameter : grant_type")
        if grant_type != "refresh_token":
            # This sandbox plays a self-authorized seller app: no authorization-code flow.
            return 400, lwa_error("unsupported_grant_type",
                                  "The authorization grant type is not supported by the authorization server")
        for name in ("refresh_token", "client_id", "client_secret"):
            if not form.get(name):
                return 400, lwa_error("invalid_request", f"The request is missing a required parameter : {name}")
        if form["client_id"] != self.app.client_id or form["client_secret"] != self.app.client_secret:
            return 401, lwa_error("invalid_client", "Client authentication failed")
        if form["refresh_token"] != self.app.refresh_token:
            return 400, lwa_error("invalid_grant", "The request has an invalid grant parameter : refresh_token")
        token = "Atza|" + "".join(self.rng.choices(string.ascii_letters + string.digits + "-_", k=200))
        self.tokens[token] = AccessToken(self.app.seller_id, self.now() + ACCESS_TOKEN_TTL_S)
        self.exchanges += 1
        return 200, {"access_token": token, "refresh_token": self.app.refresh_token,
                     "token_type": "bearer", "expires_in": ACCESS_TOKEN_TTL_S}

    def seller_for(self, token: str | None) -> tuple[str | None, str]:
        """(seller id, "") for a live token, else (None, the 403 details text)."""
        if not token:
            return None, ""
        issued = self.tokens.get(token)
        if issued is None:
            return None, INVALID_DETAILS
        if self.now() >= issued.expires_at:
            return None, EXPIRED_DETAILS
        return issued.seller_id, ""
