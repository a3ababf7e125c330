"""The single place where hotline's parts are wired together from settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from types import SimpleNamespace
from typing import TYPE_CHECKING

from hotline.bss.products import load_products
from hotline.bss.reference import ReferenceBSS
from hotline.catalog.catalog import Catalog
from hotline.catalog.loader import load_catalog
from hotline.channels.sms.hall import SmsHall
from hotline.channels.sms.sessions import SmsStore
from hotline.config import Settings
from hotline.domain.billing import Clock
from hotline.services.base import HANDLERS
from hotline.services.flow import Flow
from hotline.services.identity import Codes
from hotline.services.outbox import Outbox
from hotline.services.payments import Payments, build_provider
from hotline.services.service import Services
from hotline.store.sql import migrate
from hotline.store.sql.database import Database

if TYPE_CHECKING:
    from hotline.api.keys import ApiKeys
    from hotline.assistant.dialogue import Assistant
    from hotline.bss.rollover import RolloverJobs
    from hotline.desk.hub import Hub
    from hotline.routing.engine import Router
    from hotline.routing.intake import Intake
    from hotline.routing.records import ContactRecords


@dataclass
class Hotline:
    settings: Settings
    db: Database
    bss: ReferenceBSS
    catalog: Catalog
    services: Services
    sms: SmsHall
    outbox: Outbox
    codes: Codes
    flow: Flow

    @cached_property
    def assistant(self) -> Assistant:
        """小贝, built on first use: loading (or, after a catalogue change, training) the NLU model."""
        from hotline.assistant.dialogue import Assistant
        from hotline.assistant.knowledge import KnowledgeBase
        from hotline.assistant.nlu import NLU
        from hotline.assistant.store import ConversationStore
        from hotline.services.handlers import PORTAL

        clock = self.services.clock
        nlu = NLU.build(self.catalog, self.bss.products, clock_today=clock.today)
        kb = KnowledgeBase.from_catalog(self.catalog, {"portal": PORTAL})
        return Assistant(self.services, nlu, kb, ConversationStore(self.db, self.outbox), clock, self.flow)

    @cached_property
    def apikeys(self) -> ApiKeys:
        """API credentials: hashed keys with scopes, and HOTLINE_API_TOKEN as the master credential."""
        from hotline.api.keys import ApiKeys
        return ApiKeys(self.db, self.services.clock, self.settings)

    @cached_property
    def rollovers(self) -> RolloverJobs:
        """Billing rollovers run in the background, one at a time, with their progress."""
        from hotline.bss.rollover import RolloverJobs
        return RolloverJobs(self.bss)

    @cached_property
    def router(self) -> Router:
        """The routing engine (ACD): state in memory for one process, in Redis when processes share it."""
        from hotline.routing.engine import build_router
        from hotline.routing.records import ContactRecords

        s = self.settings
        where = SimpleNamespace(redis_url=s.redis_url if s.routing_state == "redis" else "",
                                redis_prefix=f"{s.redis_prefix}:routing")
        router = build_router(where, clock=self.services.clock.timestamp)
        # Every contact and agent state is recorded from the router's events, from the first one on.
        self.__dict__["records"] = ContactRecords(self.db).attach(router)
        return router

    @cached_property
    def records(self) -> ContactRecords:
        """The router's durable records, for the wallboard and interval reports (made with the router)."""
        _ = self.router   # building the router makes the records
        return self.__dict__["records"]

    @cached_property
    def intake(self) -> Intake:
        """Hand-offs (from 小贝 and other channels) into the router's queues."""
        from hotline.routing.intake import Intake
        return Intake(self.db, self.router, self.catalog, self.bss)

    @cached_property
    def hub(self) -> Hub:
        """Live chat between customers and agents: in process, or Redis pub/sub across processes."""
        from hotline.desk.hub import MemoryHub, RedisHub
        s = self.settings
        return RedisHub(s.redis_url, prefix=f"{s.redis_prefix}:") if s.routing_state == "redis" else MemoryHub()

    def close(self) -> None:
        self.db.dispose()


def bootstrap(settings: Settings, *, clock: Clock | None = None, migrate_schema: bool = True) -> Hotline:
    db = Database(settings.sqlalchemy_url, threads=settings.db_threads)
    if migrate_schema:
        migrate.upgrade(db)
    clock = clock or Clock(settings.timezone)
    bss = ReferenceBSS(db, load_products(), clock,
                       kdf_n=settings.password_kdf_n, max_password_failures=settings.password_max_failures,
                       max_card_failures=settings.card_max_failures)
    catalog = load_catalog(handlers=HANDLERS, products=[(p.code, p.kind.value) for p in bss.products])
    outbox = Outbox(db, clock, settings)
    payments = Payments(db, clock, bss, build_provider(settings), outbox)   # online payment: links, notifications
    services = Services(bss, catalog, db, clock, outbox=outbox, payments=payments)
    codes = Codes(db, clock, outbox)     # one-time SMS codes, one policy for every channel
    flow = Flow(services, codes)         # the business flow every channel runs on
    sms = SmsHall(services, SmsStore(db), clock, rate_per_minute=settings.sms_rate_per_minute, flow=flow)
    hl = Hotline(settings, db, bss, catalog, services, sms, outbox, codes, flow)
    sms.assistant = lambda: hl.assistant
    return hl
