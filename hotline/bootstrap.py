"""The single place where hotline's parts are wired together from settings."""

from __future__ import annotations

from dataclasses import dataclass

from hotline.bss.products import load_products
from hotline.bss.reference import ReferenceBSS
from hotline.channels.sms.hall import SmsHall
from hotline.config import Settings
from hotline.domain.billing import Clock
from hotline.store.sql import migrate
from hotline.store.sql.database import Database


@dataclass
class Hotline:
    settings: Settings
    db: Database
    bss: ReferenceBSS
    sms: "SmsHall" = None  # type: ignore[assignment]

    def close(self) -> None:
        self.db.dispose()


def bootstrap(settings: Settings, *, clock: Clock | None = None, migrate_schema: bool = True) -> Hotline:
    db = Database(settings.sqlalchemy_url, threads=settings.db_threads)
    if migrate_schema:
        migrate.upgrade(db)
    bss = ReferenceBSS(db, load_products(), clock or Clock(settings.timezone),
                       kdf_n=settings.password_kdf_n, max_password_failures=settings.password_max_failures)
    hl = Hotline(settings, db, bss)
    hl.sms = SmsHall(hl)
    return hl
