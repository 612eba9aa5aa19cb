"""`storeops up --demo`: sandboxes, a connected demo shop, GET /api/v1/sandboxes.

The slow tests run real subprocesses: `storeops sandbox run` (the vendors, which keep
their state) and `storeops up --demo --sandboxes FILE` (storeops, which is SIGKILLed and
restarted on the same data dir and database), plus `storeops up --demo` on its own.
Every process is stopped in a `finally`.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from typer.testing import CliRunner

from storeops.cli.main import DemoError, app, callback_base, read_sandbox_map
from storeops.core.settings import Settings
from storeops.sandbox.runner import SANDBOXES

from conftest import ADMIN_TOKEN, LiveServer, free_port
from processes import Proc, processes, wait_healthy

# Shopify retries a failed delivery after 60 s, 120 s, 240 s ... (sandbox/shopify/webhooks.py);
# 60x vendor time makes that 1 s, 2 s, 4 s ..., so retries reach a restarted storeops quickly.
TIME_SCALE = 60


# --- fast: argument handling and the API without --demo --------------------------------------


def test_sandboxes_endpoint_is_404_without_demo(live_app: LiveServer) -> None:
    answer = httpx.get(f"{live_app.url}/api/v1/sandboxes", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert answer.status_code == 404 and "--demo" in answer.json()["detail"]
    assert httpx.get(f"{live_app.url}/api/v1/sandboxes").status_code == 401


def test_sandbox_map_is_read_from_the_line_sandbox_run_printed(tmp_path: Path) -> None:
    line = {"shopify": {"url": "http://127.0.0.1:1", "credentials": {}, "shop": "demo.myshopify.com"}}
    path = tmp_path / "sandboxes.json"
    path.write_text("some banner\n" + json.dumps(line) + "\n")
    assert read_sandbox_map(path) == line
    path.write_text('{"shopify": "no url"}\n')
    with pytest.raises(DemoError, match="no sandbox map"):
        read_sandbox_map(path)
    with pytest.raises(DemoError, match="cannot read"):
        read_sandbox_map(tmp_path / "missing.json")


def test_bad_sandboxes_option_fails_before_anything_starts(tmp_path: Path, storeops_env: dict[str, str]) -> None:
    env = {k: v for k, v in storeops_env.items() if k.startswith("STOREOPS_")}
    runner = CliRunner()
    (tmp_path / "empty.json").write_text("")
    no_demo = runner.invoke(app, ["up", "--sandboxes", str(tmp_path / "empty.json")], env=env)
    assert no_demo.exit_code == 2 and "--sandboxes only makes sense with --demo" in no_demo.output
    empty = runner.invoke(app, ["up", "--demo", "--sandboxes", str(tmp_path / "empty.json")], env=env)
    assert empty.exit_code == 2 and "holds no sandbox map" in empty.output


def test_a_taken_port_is_reported_before_the_sandboxes_start(storeops_env: dict[str, str]) -> None:
    env = {k: v for k, v in storeops_env.items() if k.startswith("STOREOPS_")}
    saved_structlog, root = structlog.get_config(), logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            result = CliRunner().invoke(app, ["up", "--demo", "--port", str(port)], env=env)
        finally:  # `up` configured logging for the process: put it back
            structlog.configure(**saved_structlog)
            root.handlers[:] = saved_handlers
            root.setLevel(saved_level)
    assert result.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "connected to the sandboxes" not in result.output


def test_callback_base_is_the_public_url_or_a_reachable_local_address(tmp_path: Path) -> None:
    assert callback_base(Settings(data_dir=tmp_path, public_url="https://ops.example.com/")) == \
        "https://ops.example.com"
    assert callback_base(Settings(data_dir=tmp_path, host="0.0.0.0", port=8123)) == "http://127.0.0.1:8123"
    assert callback_base(Settings(data_dir=tmp_path, host="::1", port=8123)) == "http://[::1]:8123"


# --- processes -------------------------------------------------------------------------------


def wait_for(what: str, check: Callable[[], bool], timeout_s: float, explain: Callable[[], str] = str) -> float:
    """Poll `check` until true; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        try:
            if check():
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}\n{explain()}")


def sandbox_map(proc: Proc) -> dict[str, dict[str, Any]]:
    """The JSON line `storeops sandbox run` prints first."""
    wait_for("the sandbox map line", lambda: proc.stdout().endswith("\n"), 60, proc.describe)
    return json.loads(proc.stdout().splitlines()[0])  # type: ignore[no-any-return]


def up_env(storeops_env: dict[str, str]) -> dict[str, str]:
    return {**storeops_env, "STOREOPS_LOG_LEVEL": "warning", "STOREOPS_LOG_JSON": "false"}


def inbox(base: str, token: str = ADMIN_TOKEN) -> dict[str, Any]:
    answer = httpx.get(f"{base}/api/v1/inbox", params={"vendor": "shopify", "limit": 1000}, timeout=30,
                       headers={"Authorization": f"Bearer {token}"})
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


# --- slow: the crash test against sandboxes that keep their state ----------------------------


@pytest.mark.slow
def test_up_demo_with_sandboxes_file_survives_sigkill_and_stores_every_order_once(
        tmp_path: Path, storeops_env: dict[str, str]) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    file = tmp_path / "sandboxes.json"
    env = up_env(storeops_env)
    up_args = ["up", "--demo", "--sandboxes", str(file), "--port", str(port), "--traffic", "0"]
    with processes() as procs:
        vendors = Proc("sandboxes", ["sandbox", "run", "--time-scale", str(TIME_SCALE)], env, tmp_path)
        procs.append(vendors)
        described = sandbox_map(vendors)
        file.write_text(json.dumps(described) + "\n")
        shopify = described["shopify"]["url"]

        first = Proc("up-1", up_args, env, tmp_path)
        procs.append(first)
        assert wait_healthy(base, first) < 60
        assert "connected to the sandboxes: shopify" in first.stdout()  # not started here
        listed = httpx.get(f"{base}/api/v1/sandboxes", headers=headers, timeout=30).json()
        assert listed == {vendor: entry["url"] for vendor, entry in described.items()}
        subs = httpx.get(f"{shopify}/_sandbox/state", timeout=30).json()["webhook_subscriptions"]
        assert {s["uri"] for s in subs} == {f"{base}/webhooks/shopify"}

        def shopify_state() -> dict[str, Any]:
            return httpx.get(f"{shopify}/_sandbox/state", timeout=30).json()  # type: ignore[no-any-return]

        checked: set[str] = set()  # the webhooks Shopify had sent when the inbox last held them all

        def all_stored_and_processed() -> bool:
            sent = {w["event_id"] for w in shopify_state()["webhooks"]["sent"]}
            events = inbox(base)["events"]
            # The inbox is read after the sandbox: storeops' own writes to Shopify (tags,
            # fulfillments) may have caused newer webhooks meanwhile, so "contains" it is.
            done = (sent <= {e["event_id"] for e in events}
                    and all(e["status"] in ("processed", "ignored") for e in events))
            if done:
                checked.clear()
                checked.update(sent)
            return done

        placed = httpx.post(f"{shopify}/_sandbox/checkouts", json={"count": 3, "abandon_rate": 0}, timeout=30).json()
        assert placed["completed"] >= 1
        wait_for("the first orders' webhooks processed", all_stored_and_processed, 30,
                 lambda: json.dumps(inbox(base)["counts"]))
        before_crash = {e["event_id"] for e in inbox(base)["events"]}
        assert sum(e["topic"] == "orders/create" for e in inbox(base)["events"]) == placed["completed"]

        first.sigkill()
        more = httpx.post(f"{shopify}/_sandbox/checkouts", json={"count": 3, "abandon_rate": 0}, timeout=30).json()
        # Shopify tries at once; storeops is down, so every delivery fails and is retried.
        wait_for("failed deliveries", lambda: any(d["status"] is None for d in
                                                  shopify_state()["webhooks"]["deliveries"]), 10)

        second = Proc("up-2", up_args, env, tmp_path)  # same FILE, same data dir and database
        procs.append(second)
        assert wait_healthy(base, second) < 60
        assert httpx.get(f"{base}/api/v1/sandboxes", headers=headers, timeout=30).json() == listed
        wait_for("the retried webhooks processed", all_stored_and_processed, 40,
                 lambda: json.dumps(inbox(base)["counts"]) + "\n" + second.describe())

        state = shopify_state()
        events = inbox(base)["events"]
        ids = [e["event_id"] for e in events]
        assert len(ids) == len(set(ids))  # stored exactly once
        # Every webhook sent up to the moment all were processed is stored (a later read of
        # the sandbox may list newer ones, caused by storeops' own writes, still in flight).
        assert checked and checked <= set(ids)
        assert before_crash < set(ids)
        orders_created = collections.Counter(e["topic"] for e in events)["orders/create"]
        assert orders_created == placed["completed"] + more["completed"]
        # Restarting subscribed nothing twice.
        assert len(state["webhook_subscriptions"]) == len(subs)
        retried = [d for d in state["webhooks"]["deliveries"] if d["attempt"] > 0 and d["ok"]]
        assert retried, "no delivery reached storeops through a vendor retry"


# --- slow: the demo on its own ---------------------------------------------------------------


@pytest.mark.slow
def test_up_demo_alone_starts_sandboxes_and_simulator_and_prints_its_token(
        tmp_path: Path, storeops_env: dict[str, str]) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in up_env(storeops_env).items() if k != "STOREOPS_ADMIN_TOKEN"}
    with processes() as procs:
        demo = Proc("demo", ["up", "--demo", "--port", str(port)], env, tmp_path)
        procs.append(demo)
        assert wait_healthy(base, demo) < 60
        out = demo.stdout()
        token = next(line.rsplit(" ", 1)[1] for line in out.splitlines() if line.startswith("storeops admin token"))
        assert f"dashboard {base}/" in out
        assert "demo shop demo.myshopify.com connected to the sandboxes (started here, seed " in out

        listed = httpx.get(f"{base}/api/v1/sandboxes", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert listed.status_code == 200 and set(listed.json()) == set(SANDBOXES)
        for url in listed.json().values():
            assert httpx.get(f"{url}/_sandbox/stats", timeout=30).status_code == 200
        shopify = listed.json()["shopify"]
        subs = httpx.get(f"{shopify}/_sandbox/state", timeout=30).json()["webhook_subscriptions"]
        assert subs and {s["uri"] for s in subs} == {f"{base}/webhooks/shopify"}

        # The store simulator (default traffic) places orders; they arrive through the subscription.
        wait_for("a simulated order's orders/create", lambda: any(
            e["topic"] == "orders/create" for e in inbox(base, token)["events"]), 30, demo.describe)

        demo.popen.send_signal(signal.SIGTERM)
        demo.popen.wait(timeout=20)
        assert demo.popen.returncode == 0, demo.describe()


# --- slow: stopping while a workflow sleeps -------------------------------------------------


@pytest.mark.slow
def test_sigterm_stops_up_promptly_while_a_payment_sequence_sleeps(
        tmp_path: Path, storeops_env: dict[str, str], sandboxes: dict[str, dict[str, Any]]) -> None:
    """An unpaid order starts the payment sequence, whose first act is a durable sleep of an
    hour. SIGTERM must still end `up` within seconds (once it waited out the sleep: the engine's
    executor threads are joined at interpreter exit), and the sequence stays pending in the
    database for the next start."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    file = tmp_path / "sandboxes.json"
    file.write_text(json.dumps(sandboxes) + "\n")
    args = ["up", "--demo", "--sandboxes", str(file), "--port", str(port), "--traffic", "0"]
    with processes() as procs:
        demo = Proc("up", args, up_env(storeops_env), tmp_path)
        procs.append(demo)
        assert wait_healthy(base, demo) < 60
        body = {"count": 1, "seed": 3, "overrides": [{"lines": [{"sku": "MH01-XS-Orange", "quantity": 1}],
                                                      "payment": "pending"}]}
        placed = httpx.post(f"{sandboxes['shopify']['url']}/_sandbox/checkouts", json=body, timeout=30).json()
        assert placed["checkouts"][0]["financial_status"] == "pending", placed

        def sleeping() -> bool:
            listed = httpx.get(f"{base}/api/v1/workflows", params={"status": "PENDING"}, headers=headers,
                               timeout=30).json()
            return any(w["name"].endswith("orders.payment_retry") for w in listed)

        wait_for("the payment sequence to start its first wait", sleeping, 30, demo.describe)
        demo.popen.send_signal(signal.SIGTERM)
        started = time.monotonic()
        with contextlib.suppress(subprocess.TimeoutExpired):
            demo.popen.wait(timeout=20)
        assert demo.popen.poll() == 0, f"not stopped {time.monotonic() - started:.0f}s after SIGTERM\n" + \
            demo.describe()
