"""Configuration: environment variables ``HOTLINE_*``, then an optional TOML file, then defaults.

The file is read from ``HOTLINE_CONFIG`` (or ``./hotline.toml`` when it exists); keys are the field
names below, e.g. ``database_url = "postgresql://..."``. Environment variables win over the file.
"""

from __future__ import annotations

import os
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _file_values() -> dict[str, Any]:
    path = os.environ.get("HOTLINE_CONFIG") or ("hotline.toml" if Path("hotline.toml").exists() else "")
    if not path:
        return {}
    with open(path, "rb") as fh:
        return tomllib.load(fh)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore")

    data_dir: Path = Field(Path("./var"), description="Where the embedded SQLite database lives.")
    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite in data_dir.")
    host: str = "127.0.0.1"
    port: int = 8086
    timezone: str = Field("Asia/Shanghai", description="Business days and billing cycles follow this zone.")
    db_threads: int = Field(8, ge=1, description="Database worker threads (connections) per process.")
    password_kdf_n: int = Field(2**14, description="scrypt cost for service passwords (power of two).")
    password_max_failures: int = 3
    seed_demo: bool = Field(True, description="Seed the demo population on first start of `serve`.")
    demo_subscribers: int = Field(2000, ge=0, description="Synthetic subscribers seeded beside the demo ones.")
    sms_rate_per_minute: int = Field(20, ge=1, description="Inbound SMS per number per minute before a polite refusal.")
    api_token: str = Field("", description="If set, the API requires `Authorization: Bearer <token>`.")
    log_level: str = "info"
    kannel_enabled: bool = Field(False, description="Serve Kannel's smsbox get-url at /api/v1/sms/kannel.")
    kannel_sendsms_url: str = Field("http://127.0.0.1:13013/cgi-bin/sendsms", description="Kannel's sendsms.")
    kannel_username: str = Field("hotline", description="sendsms-user username.")
    kannel_password: str = Field("", description="sendsms-user password.")
    kannel_token: str = Field("", description="The get-url's token=... (the gateway's own credential); "
                                              "empty: loopback only.")
    kannel_concurrency: int = Field(32, ge=1, description="Inbound SMS with the engine / replies in delivery at once.")
    kannel_max_pending: int = Field(1000, ge=1, description="Inbound SMS waiting beyond this are refused (503).")
    kannel_retries: int = Field(3, ge=0, description="sendsms retries after a transient failure.")
    routing_state: str = Field("memory", pattern="^(memory|redis)$",
                               description="Routing state: memory (one process) or redis (shared by processes).")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis for routing state and live chat.")
    redis_prefix: str = Field("hotline", description="Prefix of every Redis key hotline writes.")
    routing_interval: float = Field(0.2, gt=0, le=5, description="Seconds between routing passes.")
    outbox_gateway: str = Field("", pattern="^(|demo|kannel)$",
                                description="Outbound SMS: demo (local demo inbox) or kannel (sendsms); "
                                            "empty means kannel when kannel_enabled, else demo.")
    outbox_retention_days: float = Field(7.0, gt=0, description="Outbound SMS records are purged after this.")
    outbox_concurrency: int = Field(16, ge=1, description="Outbound SMS being delivered at once.")
    outbox_max_attempts: int = Field(5, ge=1, description="Delivery attempts before an SMS is marked failed.")
    outbox_backoff: float = Field(2.0, ge=0, description="Seconds before the first retry, doubled each time.")
    outbox_interval: float = Field(0.5, gt=0, le=60, description="Seconds between idle delivery passes.")
    payment_provider: str = Field("reference", description="Online payment: reference (the embedded pay page) "
                                  "or package.module:factory for a real provider's adapter.")
    otp_min_interval_s: int = Field(60, ge=0, description="One-time codes: seconds between two to one number.")
    otp_per_hour: int = Field(5, ge=1, description="One-time codes to one number in a rolling hour.")
    otp_per_day: int = Field(10, ge=1, description="One-time codes to one number in a day.")
    otp_per_client_hour: int = Field(20, ge=1, description="One-time codes asked from one client address an hour.")
    otp_wrong_per_day: int = Field(5, ge=1, description="Wrong codes for one number a day before it is locked.")
    state_key: str = Field("", description="Fernet key sealing secrets a customer gives mid-flow (a card PIN, a new "
                           "password) in the stored session; empty: one is made into data_dir/state-key.")
    payment_secret: str = Field("", description="The reference provider's HMAC key (32+ characters); empty: one "
                                "is made into data_dir/payment-secret.")
    payment_base_url: str = Field("", description="Where pay links point; empty: http://host:port.")
    card_max_failures: int = Field(5, ge=1, le=20, description="Wrong top-up card PINs a day, per number and per "
                                   "card, before card top-ups lock until tomorrow.")
    adjust_max_fen: int = Field(5_000, ge=0, description="An agent's balance adjustment above this needs a "
                                "supervisor's approval (fen).")
    adjust_daily_fen: int = Field(20_000, ge=0, description="An agent's adjustments a day beyond this need a "
                                  "supervisor's approval (fen).")

    @cached_property
    def sqlalchemy_url(self) -> str:
        """The database URL with the sync driver this project uses (sqlite3 or psycopg 3)."""
        url = self.database_url
        if not url:
            return f"sqlite:///{(self.data_dir / 'hotline.db').resolve()}"
        for prefix in ("postgres://", "postgresql://", "postgresql+asyncpg://", "postgresql+psycopg2://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url


def load_settings(**overrides: Any) -> Settings:
    """Settings from file + environment; keyword overrides win (used by the CLI and tests)."""
    values = {k: v for k, v in _file_values().items()}
    env_keys = {k[len("HOTLINE_"):].lower() for k in os.environ if k.startswith("HOTLINE_")}
    for key in env_keys:
        values.pop(key, None)  # environment wins over the file
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
