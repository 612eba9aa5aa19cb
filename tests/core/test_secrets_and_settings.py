"""Credentials at rest (key file, SecretBox, Secret), typed settings, and log redaction."""

from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path

import pytest
import structlog
from cryptography.fernet import Fernet
from pydantic import ValidationError

from storeops.core.errors import ConfigError
from storeops.core.logging import _redact, configure_logging
from storeops.core.secrets import Secret, SecretBox, load_or_create_key
from storeops.core.settings import Settings, get_settings, reload_settings

# --- the key file ------------------------------------------------------------------


def test_key_file_is_created_0600_on_first_use_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "not" / "there" / "yet"
    key = load_or_create_key(data_dir)
    path = data_dir / "secret.key"
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().strip() == key
    Fernet(key)  # a usable key
    assert load_or_create_key(data_dir) == key  # reused, not regenerated
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in data_dir.iterdir()] == ["secret.key"]  # no temp files left behind


def test_key_file_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        load_or_create_key(tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600


def test_configured_key_wins_and_no_file_is_written(tmp_path: Path) -> None:
    configured = Fernet.generate_key().decode()
    assert load_or_create_key(tmp_path, configured) == configured.encode()
    assert not (tmp_path / "secret.key").exists()


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    # `storeops serve` x N on one data dir: nobody may read a half-written key file.
    for round_ in range(30):
        data_dir = tmp_path / f"round-{round_}"
        barrier = threading.Barrier(8)
        keys: list[bytes | Exception] = []

        def start(data_dir: Path = data_dir, barrier: threading.Barrier = barrier,
                  keys: list[bytes | Exception] = keys) -> None:
            barrier.wait()
            try:
                keys.append(load_or_create_key(data_dir))
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                keys.append(exc)

        threads = [threading.Thread(target=start) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(keys)) == 1, keys
        assert keys[0] == (data_dir / "secret.key").read_bytes()


@pytest.mark.parametrize("content", [b"", b"not-a-fernet-key\n"], ids=["empty", "garbage"])
def test_a_damaged_key_file_is_a_clear_config_error_and_is_kept(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "secret.key"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="secret.key does not hold a valid Fernet key"):
        load_or_create_key(tmp_path)
    assert path.read_bytes() == content  # never silently replaced: old credentials need it


# --- SecretBox and Secret ----------------------------------------------------------


def test_two_boxes_with_the_same_key_round_trip(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path)
    writer, reader = SecretBox(key), SecretBox(load_or_create_key(tmp_path))
    plaintext = "shpat_0123456789abcdef-ünïcode-✓"
    token = writer.encrypt(plaintext)
    assert plaintext not in token
    assert token != writer.encrypt(plaintext)  # fresh IV each time
    revealed = reader.decrypt(token)
    assert isinstance(revealed, Secret)
    assert revealed.reveal() == plaintext
    assert revealed == Secret(plaintext) and revealed != Secret("other")


def test_a_wrong_key_raises_config_error_on_decrypt() -> None:
    token = SecretBox(Fernet.generate_key()).encrypt("the-value")
    other = SecretBox(Fernet.generate_key())
    with pytest.raises(ConfigError, match="cannot be decrypted with this secret key"):
        other.decrypt(token)
    with pytest.raises(ConfigError):
        other.decrypt("not even a token")


def test_a_tampered_ciphertext_raises_config_error() -> None:
    box = SecretBox(Fernet.generate_key())
    token = box.encrypt("the-value")
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(ConfigError):
        box.decrypt(tampered)


@pytest.mark.parametrize("key", [b"", b"short", b"x" * 44], ids=["empty", "short", "not-base64-of-32"])
def test_an_invalid_key_is_a_config_error(key: bytes) -> None:
    with pytest.raises(ConfigError, match="not a valid Fernet key"):
        SecretBox(key)


def test_secret_never_prints_its_value() -> None:
    value = "sk_live_do-not-print-me"
    secret = Secret(value)
    renderings = [repr(secret), str(secret), f"{secret}", f"{secret!r}", format(secret, ""),
                  "%s" % secret,  # noqa: UP031 - old-style formatting is how logging renders args
                  repr([secret]), str({"key": secret}), repr((secret,))]
    for rendered in renderings:
        assert value not in rendered, rendered
        assert "do-not-print" not in rendered
    assert repr(secret) == "Secret('**********')"
    assert secret.reveal() == value
    assert not hasattr(secret, "__dict__")  # nothing for vars()/debuggers to dump


def test_secret_in_an_exception_or_log_line_stays_hidden(capsys: pytest.CaptureFixture[str]) -> None:
    secret = Secret("hunter2-secret-value")
    configure_logging("info", json=True)
    try:
        structlog.get_logger("t").info("calling vendor", credential=secret, detail=f"using {secret}")
        err = repr(RuntimeError(secret))
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    captured = capsys.readouterr()
    assert "calling vendor" in captured.err
    assert "hunter2" not in captured.err + captured.out + err


# --- settings ----------------------------------------------------------------------


def test_defaults_put_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.data_dir == Path(".storeops")
    assert settings.database_url is None
    expected = (tmp_path / ".storeops" / "storeops.db").resolve()
    assert settings.resolved_database_url == f"sqlite:///{expected}"
    assert settings.is_sqlite
    assert settings.engine_database_url == f"sqlite:///{(tmp_path / '.storeops' / 'workflows.db').resolve()}"
    assert (settings.host, settings.port, settings.admin_token, settings.secret_key) == ("127.0.0.1", 8000, None, None)


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STOREOPS_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("STOREOPS_PORT", "9123")
    monkeypatch.setenv("STOREOPS_ADMIN_TOKEN", "env-token")
    monkeypatch.setenv("STOREOPS_LOG_JSON", "false")
    monkeypatch.setenv("STOREOPS_WEBHOOK_MAX_BYTES", "4096")
    settings = Settings()
    assert settings.data_dir == tmp_path / "d"
    assert settings.port == 9123 and settings.admin_token == "env-token"
    assert settings.log_json is False and settings.webhook_max_bytes == 4096
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'd' / 'storeops.db').resolve()}"


def test_storeops_toml_in_the_working_dir_is_read_and_env_wins(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "storeops.toml").write_text(
        'port = 9000\nhost = "0.0.0.0"\nlog_level = "debug"\n'
        'database_url = "postgres://app@db.internal/shop"\nworker_batch_size = 50\n'
    )
    monkeypatch.chdir(project)
    from_toml = Settings()
    assert (from_toml.port, from_toml.host, from_toml.log_level, from_toml.worker_batch_size) == (
        9000, "0.0.0.0", "debug", 50)
    assert from_toml.database_url == "postgresql://app@db.internal/shop"

    monkeypatch.setenv("STOREOPS_PORT", "9100")
    monkeypatch.setenv("STOREOPS_DATABASE_URL", "sqlite:////srv/storeops/app.db")
    both = Settings()
    assert both.port == 9100  # env over toml
    assert both.host == "0.0.0.0"  # toml where env is silent
    assert both.resolved_database_url == "sqlite:////srv/storeops/app.db"
    assert Settings(port=9200).port == 9200  # explicit arguments over both

    # the cached process-wide settings see the same sources
    assert reload_settings().port == 9100
    assert get_settings().port == 9100
    get_settings.cache_clear()


def test_a_toml_value_that_is_invalid_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "storeops.toml").write_text('worker_batch_size = 0\n')
    with pytest.raises(ValidationError, match="worker_batch_size"):
        Settings()


@pytest.mark.parametrize(("given", "resolved"), [
    ("postgres://app:pw@db.internal:5432/shop", "postgresql+psycopg://app:pw@db.internal:5432/shop"),
    ("postgresql://app@db.internal/shop", "postgresql+psycopg://app@db.internal/shop"),
    ("postgresql+psycopg://app@db.internal/shop", "postgresql+psycopg://app@db.internal/shop"),
    ("sqlite:////srv/app.db", "sqlite:////srv/app.db"),
])
def test_database_urls_are_normalized(given: str, resolved: str) -> None:
    settings = Settings(database_url=given)
    assert settings.resolved_database_url == resolved
    assert settings.is_sqlite == resolved.startswith("sqlite")
    if not settings.is_sqlite:
        assert settings.engine_database_url == resolved.replace("postgresql+psycopg://", "postgresql://")


def test_postgres_scheme_from_the_environment_is_normalized(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOREOPS_DATABASE_URL", "postgres://app@db.internal/shop")
    assert Settings().database_url == "postgresql://app@db.internal/shop"


@pytest.mark.parametrize("url", [
    "mysql://app:hunter2@db.internal/shop", "mongodb://app:hunter2@db.internal", "sqlitefoo:///x.db",
    "postgresql+asyncpg://app:hunter2@db.internal/shop", "db.internal/shop", "sqlite://", "sqlite:///:memory:",
])
def test_other_database_urls_are_rejected_clearly(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(database_url=url)
    message = str(caught.value)
    assert "STOREOPS_DATABASE_URL" in message
    assert "sqlite:///" in message and ("postgresql://" in message or "in-memory" in message)
    assert "hunter2" not in message  # a rejected URL's password is not echoed


def test_a_rejected_url_from_the_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOREOPS_DATABASE_URL", "mysql://localhost/shop")
    with pytest.raises(ValidationError, match="STOREOPS_DATABASE_URL must be sqlite"):
        Settings()


# --- log redaction -----------------------------------------------------------------


def test_redaction_blanks_sensitive_keys() -> None:
    event: dict[str, object] = {
        "event": "calling shopify", "shop": "a.myshopify.com", "status": 200,
        "secret": "s1", "webhook_secret": "s2", "access_token": "t1", "TOKEN": "t2", "db_password": "p1",
        "Authorization": "Bearer x", "api_key": "k1", "hmac": "h1", "x_shopify_hmac_sha256": "h2",
    }
    redacted = _redact(None, "info", dict(event))
    for key in ("secret", "webhook_secret", "access_token", "TOKEN", "db_password", "Authorization", "api_key",
                "hmac", "x_shopify_hmac_sha256"):
        assert redacted[key] == "**********", key
    assert redacted["event"] == "calling shopify"
    assert redacted["shop"] == "a.myshopify.com" and redacted["status"] == 200


def test_redaction_runs_in_the_configured_pipeline(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", json=True)
    try:
        structlog.get_logger("t").info("rotated", shop="a.myshopify.com", access_token="shpat_live_value",
                                       password="pw-value")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    err = capsys.readouterr().err
    assert '"shop": "a.myshopify.com"' in err
    assert "shpat_live_value" not in err and "pw-value" not in err
    assert err.count("**********") == 2


def test_redaction_reaches_into_nested_mappings() -> None:
    event: dict[str, object] = {"event": "webhook", "headers": {"authorization": "Bearer x", "x-topic": "t"}}
    redacted = _redact(None, "info", event)
    assert redacted["headers"] == {"authorization": "**********", "x-topic": "t"}
