"""The single place where hotline's parts are wired together from settings.

``bootstrap`` builds the core (database, BSS, catalogue, services, outbox, codes, the business flow);
the heavier parts (小贝's model, routing, the desk, the Kannel channel) are built here too, on first use,
as cached properties of the container. Nothing else assigns parts to it; tests may replace a part the
same way (assigning the attribute before first use).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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
from hotline.services.identity import CodeLimits, Codes
from hotline.services.keyfile import data_secret
from hotline.services.outbox import Outbox
from hotline.services.payments import Payments, build_provider
from hotline.services.sealed import Sealer
from hotline.services.service import Services
from hotline.store.sql import migrate
from hotline.store.sql.database import Database

if TYPE_CHECKING:
    from hotline.api.keys import ApiKeys
    from hotline.assistant.dialogue import Assistant
    from hotline.bss.rollover import RolloverJobs
    from hotline.channels.sms.kannel import KannelChannel
    from hotline.desk.accounts import Accounts
    from hotline.desk.customer import CustomerDesk
    from hotline.desk.desk import Desk
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
    outbox: Outbox
    codes: Codes
    flow: Flow
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list, init=False, repr=False)

    @cached_property
    def sms(self) -> SmsHall:
        """The SMS business hall; free text goes to 小贝, built on first use."""
        return SmsHall(self.services, SmsStore(self.db), self.services.clock,
                       rate_per_minute=self.settings.sms_rate_per_minute, flow=self.flow,
                       assistant=lambda: self.assistant)

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

    async def load_assistant(self) -> Assistant:
        """小贝, its model loaded off the event loop the first time."""
        if "assistant" not in vars(self):
            await asyncio.to_thread(lambda: self.assistant)
        return self.assistant

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

        s = self.settings
        where = SimpleNamespace(redis_url=s.redis_url if s.routing_state == "redis" else "",
                                redis_prefix=f"{s.redis_prefix}:routing")
        router = build_router(where, clock=self.services.clock.timestamp)
        # Every contact and agent state is recorded from the router's events, from the first one on.
        self.records.attach(router)
        return router

    @cached_property
    def records(self) -> ContactRecords:
        """The router's durable records, for the wallboard and interval reports (attached to the router)."""
        from hotline.routing.records import ContactRecords
        return ContactRecords(self.db)

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
        hub: Hub = RedisHub(s.redis_url, prefix=f"{s.redis_prefix}:") if s.routing_state == "redis" \
            else MemoryHub()
        self._closers.append(hub.close)
        return hub

    @cached_property
    def desk(self) -> Desk:
        """The agent desktop's live side: offers, chats, wrap-up, over the router and the hub."""
        from hotline.desk.desk import Desk
        desk = Desk(self.router, self.hub, self.db, self.catalog, self.services.clock)
        self.router.add_listener(desk.on_event)
        return desk

    @cached_property
    def desk_accounts(self) -> Accounts:
        """Agents' and supervisors' accounts and sessions."""
        from hotline.desk.accounts import Accounts
        return Accounts(self.db, self.services.clock, kdf_n=self.settings.password_kdf_n)

    @cached_property
    def customer_desk(self) -> CustomerDesk:
        """The desk's customer panel: businesses through the same flow and codes as every channel."""
        from hotline.desk.customer import CustomerDesk
        return CustomerDesk(self.services, self.db, codes=self.codes, flow=self.flow)

    @cached_property
    def kannel(self) -> KannelChannel:
        """The SMS hall behind the Kannel gateway: inbound get-url, replies through sendsms."""
        from hotline.channels.sms.kannel import KannelChannel
        channel = KannelChannel.from_settings(self)
        self._closers.append(channel.aclose)
        return channel

    async def aclose(self) -> None:
        """Close what was opened on first use (the hub's connections, the Kannel client)."""
        while self._closers:
            await self._closers.pop()()

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
    state_key = settings.state_key or data_secret(settings.data_dir, "state-key", make=Sealer.new_key())
    sealer = Sealer(state_key)           # secrets held between steps (a PIN, a queued code) are sealed
    outbox = Outbox(db, clock, settings, sealer=sealer)
    payments = Payments(db, clock, bss, build_provider(settings), outbox)   # online payment: links, notifications
    services = Services(bss, catalog, db, clock, outbox=outbox, payments=payments, sealer=sealer)
    limits = CodeLimits(min_interval_s=settings.otp_min_interval_s, per_hour=settings.otp_per_hour,
                        per_day=settings.otp_per_day, per_client_hour=settings.otp_per_client_hour,
                        wrong_per_day=settings.otp_wrong_per_day)
    codes = Codes(db, clock, outbox, limits=limits)   # one-time SMS codes, one policy for every channel
    flow = Flow(services, codes, sealer)   # the business flow every channel runs on
    return Hotline(settings, db, bss, catalog, services, outbox, codes, flow)
