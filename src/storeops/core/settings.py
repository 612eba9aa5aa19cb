"""One typed settings object, from STOREOPS_* environment variables and ./storeops.toml.

Precedence (highest first): explicit arguments, environment, storeops.toml, defaults.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# The drivers we ship: the stdlib sqlite3 module and psycopg 3 (sync engines only).
_DATABASE_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STOREOPS_", toml_file="storeops.toml", extra="ignore", validate_default=True,
        # A rejected database URL or token may hold a password: never echo inputs in errors.
        hide_input_in_errors=True,
    )

    data_dir: Path = Field(default=Path(".storeops"), description="where the SQLite files and keys live")
    database_url: str | None = Field(
        default=None, description="sqlite:///path or postgresql://...; default: SQLite in data_dir"
    )
    admin_token: str | None = Field(default=None, description="bootstrap admin API token (Bearer)")
    secret_key: str | None = Field(
        default=None, description="Fernet key for credentials at rest; default: data_dir/secret.key"
    )
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(default=None, description="URL vendors use to reach our webhooks")
    webhook_max_bytes: int = Field(default=1_048_576, ge=1024, description="bodies above this get 413")
    log_level: str = "info"
    log_json: bool = True
    worker_batch_size: int = Field(default=200, ge=1, le=5000)
    worker_poll_interval_s: float = Field(default=0.05, gt=0)
    inbox_lease_s: float = Field(default=60.0, gt=0, description="a claimed event is retried after this")
    executor_id: str | None = None
    triage_model_dir: Path | None = Field(
        default=None, description="a triage model from `storeops ai train-intents` (default: the shipped one)"
    )

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if value.startswith("postgres://"):  # Heroku-style URLs; SQLAlchemy only knows postgresql://
            value = "postgresql://" + value.removeprefix("postgres://")
        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in _DATABASE_SCHEMES:
            # Name only the scheme: the rest of a URL may hold a password.
            got = f", not {scheme}://..." if sep else ""
            raise ValueError(
                f"STOREOPS_DATABASE_URL must be sqlite:///path/to/file.db or postgresql://user@host/db{got}"
            )
        if scheme.startswith("sqlite") and rest.strip("/") in ("", ":memory:"):
            # Every connection would get its own empty database and nothing would survive
            # a restart: the inbox promises durability, so refuse it.
            raise ValueError("STOREOPS_DATABASE_URL: an in-memory SQLite database is not supported; "
                             "give a file path (sqlite:///path/to/file.db)")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def resolved_database_url(self) -> str:
        """The app database URL with the driver we use made explicit."""
        url = self.database_url or f"sqlite:///{(self.data_dir / 'storeops.db').resolve()}"
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def engine_database_url(self) -> str:
        """Where DBOS keeps workflow state: beside the app data (its own file on SQLite)."""
        if self.is_sqlite:
            return f"sqlite:///{(self.data_dir / 'workflows.db').resolve()}"
        return self.resolved_database_url.replace("postgresql+psycopg://", "postgresql://")

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reload_settings(**overrides: Any) -> Settings:
    """Drop the cached settings (tests and CLI flags change the environment)."""
    get_settings.cache_clear()
    settings = Settings(**overrides) if overrides else Settings()
    return settings
