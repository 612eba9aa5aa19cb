"""The conformance suite every connector adopts (after Airbyte's CDK acceptance tests).

A vendor's test module subclasses `ConnectorConformance` and fills in five hooks:

    class TestShipbobConformance(ConnectorConformance):
        vendor = "shipbob"
        def make_sandbox(self): return ShipbobSandbox(seed=1)
        def make_connector(self, sandbox, *, valid=True): ...
        def cheap_call(self, connector): connector.check()
        def read_all(self, connector): return connector.list_products()   # a paginated read
        def expected_all(self, sandbox): return len(sandbox.products)      # what read_all must return

The sandbox must hold more records than one page for the pagination test (seed it so).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from storeops.core.errors import ConfigError, VendorError
from storeops.engine.errors import Action, FailureType, classify
from storeops.engine.retry import RetryPolicy
from storeops.sandbox.common import VendorSandbox

from sandbox_runtime import running


class ConnectorConformance:
    vendor: str = ""

    # --- hooks -----------------------------------------------------------------------
    def make_sandbox(self) -> VendorSandbox:
        raise NotImplementedError

    def make_connector(self, sandbox: VendorSandbox, *, valid: bool = True) -> Any:
        raise NotImplementedError

    def cheap_call(self, connector: Any) -> Any:
        return connector.check()

    def read_all(self, connector: Any) -> list[Any]:
        raise NotImplementedError

    def expected_all(self, sandbox: VendorSandbox) -> int:
        raise NotImplementedError

    # --- fixtures --------------------------------------------------------------------
    @pytest.fixture
    def sandbox(self) -> Iterator[VendorSandbox]:
        with running(self.make_sandbox()) as sandbox:
            yield sandbox

    def set_faults(self, sandbox: VendorSandbox, **faults: Any) -> None:
        httpx.post(f"{sandbox.base_url}/_sandbox/faults", json=faults, timeout=5).raise_for_status()

    # --- the suite -------------------------------------------------------------------
    def test_check_passes_with_valid_credentials(self, sandbox: VendorSandbox) -> None:
        self.cheap_call(self.make_connector(sandbox))

    def test_auth_failure_is_a_config_error(self, sandbox: VendorSandbox) -> None:
        connector = self.make_connector(sandbox, valid=False)
        with pytest.raises((ConfigError, VendorError)) as caught:
            self.cheap_call(connector)
        if isinstance(caught.value, VendorError):
            assert caught.value.status in (401, 403)
            assert classify(caught.value).failure_type is FailureType.CONFIG

    def test_429_waits_as_told_then_succeeds(self, sandbox: VendorSandbox) -> None:
        connector = self.make_connector(sandbox)
        self.set_faults(sandbox, fail_next=1, statuses=[429], retry_after_s=2)
        waits: list[float] = []
        policy = RetryPolicy(max_attempts=3)
        result_marker = object()

        def call() -> object:
            self.cheap_call(connector)
            return result_marker

        assert policy.call(call, sleep=waits.append) is result_marker
        assert waits and waits[0] >= 2.0, f"did not wait as told: {waits}"

    def test_5xx_is_classified_transient(self, sandbox: VendorSandbox) -> None:
        connector = self.make_connector(sandbox)
        self.set_faults(sandbox, fail_next=1, statuses=[503])
        with pytest.raises(VendorError) as caught:
            self.cheap_call(connector)
        resolution = classify(caught.value)
        assert (resolution.action, resolution.failure_type) == (Action.RETRY, FailureType.TRANSIENT)
        self.cheap_call(connector)  # and the next call goes through

    def test_pagination_reads_everything(self, sandbox: VendorSandbox) -> None:
        records = self.read_all(self.make_connector(sandbox))
        assert len(records) == self.expected_all(sandbox)
        assert len(records) > 1
