"""Login with Amazon: trade the seller's refresh token for short-lived access tokens.

POST {lwa_url} (form-encoded) grant_type=refresh_token, refresh_token, client_id,
client_secret -> {"access_token", "token_type": "bearer", "expires_in": 3600, ...}
(Amazon's "Connecting to the Selling Partner API" guide). The access token goes into the
x-amz-access-token header of every SP-API call.

We cache it until `margin_s` before it expires, so a call never starts with a token
about to die; a 403 Unauthorized anyway (revoked, or clocks disagree) invalidates it and
the engine's retry calls refresh_auth(). LWA refusing the credentials (400 invalid_grant,
401 invalid_client, ...) is a ConfigError: a person must reconnect the seller account.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from storeops.connectors.http import retry_after_seconds
from storeops.core.errors import ConfigError, VendorError

LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
REFRESH_MARGIN_S = 60.0

PostForm = Callable[[str, dict[str, str]], httpx.Response]


class LwaTokens:
    def __init__(self, post_form: PostForm, *, token_url: str, client_id: str, client_secret: str,
                 refresh_token: str, clock: Callable[[], float] = time.monotonic,
                 margin_s: float = REFRESH_MARGIN_S) -> None:
        self.post_form = post_form
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.clock = clock
        self.margin_s = margin_s
        self.exchanges = 0
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def access_token(self) -> str:
        with self._lock:
            if self._token is None or self.clock() >= self._expires_at - self.margin_s:
                self._exchange()
            assert self._token is not None
            return self._token

    def refresh(self) -> str:
        with self._lock:
            self._exchange()
            assert self._token is not None
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _exchange(self) -> None:
        form = {"grant_type": "refresh_token", "refresh_token": self.refresh_token,
                "client_id": self.client_id, "client_secret": self.client_secret}
        started = self.clock()
        try:
            response = self.post_form(self.token_url, form)
        except httpx.TimeoutException as exc:
            raise VendorError("amazon", "Login with Amazon timed out") from exc
        except httpx.TransportError as exc:
            raise VendorError("amazon", f"Login with Amazon unreachable: {exc}") from exc
        self.exchanges += 1
        if response.status_code == 429 or response.status_code >= 500:
            raise VendorError("amazon", "Login with Amazon token exchange failed", status=response.status_code,
                              retry_after=retry_after_seconds(response.headers), body=response.text[:2000])
        if response.status_code >= 400:
            raise ConfigError(f"amazon: Login with Amazon refused the app's credentials: {_lwa_reason(response)}")
        try:
            body = response.json()
            token, expires_in = str(body["access_token"]), float(body["expires_in"])
        except (ValueError, KeyError, TypeError) as exc:
            raise VendorError("amazon", "Login with Amazon answered without an access token",
                              status=response.status_code, body=response.text[:2000]) from exc
        self._token = token
        self._expires_at = started + expires_in  # from before the call: errs on the early side


def _lwa_reason(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{body.get('error')}: {body.get('error_description')} (HTTP {response.status_code})"
    except ValueError:
        return f"HTTP {response.status_code}"
