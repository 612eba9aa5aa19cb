"""storeops subprocesses for tests: logs to files, always stopped, health waits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "storeops.cli.main"]


class Proc:
    """A storeops subprocess whose stdout/stderr go to files (no pipe can fill up)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path,
                 *, command: list[str] | None = None) -> None:
        """`command` replaces `python -m storeops.cli.main` (e.g. a `python -c ...` entry)."""
        self.name = name
        self.out_path = log_dir / f"{name}.out"
        self.err_path = log_dir / f"{name}.err"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.popen = subprocess.Popen([*(command or CLI), *args], env=env, stdout=out, stderr=err)
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def describe(self) -> str:
        return (f"--- {self.name} (rc={self.popen.poll()}) stdout:\n{self.stdout()[-3000:]}\n"
                f"--- {self.name} stderr:\n{self.stderr()[-3000:]}")

    def stop(self, timeout_s: float = 15) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)

    def sigkill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)


@contextmanager
def processes() -> Iterator[list[Proc]]:
    """Every Proc appended to the yielded list is stopped (terminate, then kill) on exit."""
    started: list[Proc] = []
    try:
        yield started
    finally:
        for proc in reversed(started):
            try:
                proc.stop()
            except Exception:  # noqa: BLE001 - keep stopping the others
                proc.popen.kill()


def python_entry(code: str) -> list[str]:
    """A Proc `command` running `code` (sys.argv[1:] are the Proc's args)."""
    return [sys.executable, "-c", code]


def stopped_cleanly(proc: Proc) -> bool:
    """uvicorn re-raises SIGTERM after its graceful shutdown, so -SIGTERM is a clean stop too."""
    return proc.popen.returncode in (0, -signal.SIGTERM)


def wait_healthy(base: str, proc: Proc, timeout_s: float = 60) -> float:
    """Seconds from the process start until /healthz answered 200."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise AssertionError(f"{proc.name} exited before it was healthy\n{proc.describe()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return time.monotonic() - proc.started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{proc.name} not healthy after {timeout_s}s\n{proc.describe()}")
