"""The desk's use cases: what an agent does all day, and what the customer sees meanwhile.

``Desk`` sits over the routing engine (who serves whom), the live-chat hub (who hears what, across
processes) and the transcript (what was said). Routes and sockets stay thin: they call these methods.
``CustomerChat`` is the customer's side of one web-chat socket while a human serves it: messages go to
the agent instead of 小贝, and the socket hears the queue position, the agent joining, their messages,
and the end of the session, after which 小贝 answers again.
"""

from __future__ import annotations

import asyncio
import math
import time
import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from hotline.assistant import store as conversation_store
from hotline.catalog.catalog import Catalog
from hotline.desk.accounts import Agent
from hotline.desk.hub import ChatEvent, ChatLog, Hub
from hotline.domain.billing import Clock
from hotline.domain.errors import DomainError, InvalidInput, NotFound
from hotline.domain.msisdn import mask_msisdn
from hotline.routing.model import AgentState, Contact, ContactStatus, Event, Presence, RoutingError
from hotline.services import audit
from hotline.store.sql.database import Database

DATA = Path(__file__).with_name("data")
MAX_TEXT = 2000
LIVE = (ContactStatus.WAITING, ContactStatus.OFFERED, ContactStatus.ACTIVE)

# What the customer is told, by language. {n}: customers ahead, {m}: minutes, {name}: the agent.
CUSTOMER_TEXT = {
    "zh": {"ahead": "您前面还有{n}位客户，预计等待约{m}分钟。",
           "first": "您已排在第1位，预计等待约{m}分钟，请稍候。",
           "queued": "正在为您转接人工客服，请稍候。不想等待可回复「回电」，我们保留您的位置并致电您。",
           "callback": "好的，已为您保留排队位置。轮到您时，人工客服将致电{number}，请留意接听。",
           "callback_no_number": "回电需要您的手机号码：请先填写号码，再转人工。",
           "joined": "人工客服 {name} 为您服务。",
           "transferred": "正在为您转接其他客服，请稍候。",
           "ended": "本次人工服务已结束，感谢您的耐心。如还有问题，小贝继续为您服务。",
           "cancelled": "已为您取消人工服务排队，小贝继续为您服务。",
           "refused": "抱歉，人工客服当前繁忙，暂时无法接入，请稍后再试。小贝继续为您服务。"},
    "en": {"ahead": "There are {n} customers ahead of you; the estimated wait is about {m} minutes.",
           "first": "You are first in line; the estimated wait is about {m} minutes.",
           "queued": "Connecting you to an agent, please wait. Rather not wait? Reply \"call me back\": "
                     "we keep your place and call you.",
           "callback": "Done: your place is kept. When it is your turn, an agent will call {number}.",
           "callback_no_number": "A callback needs your mobile number: enter it first, then ask for an agent.",
           "joined": "Agent {name} is now serving you.",
           "transferred": "Transferring you to another agent, please wait.",
           "ended": "The agent has ended this chat. Thank you! Xiaobei is here if you need anything else.",
           "cancelled": "You have left the queue for an agent; Xiaobei is here to help.",
           "refused": "Sorry, all agents are busy right now; please try again later. Xiaobei is here to help."},
}
CANCEL_WORDS = {"取消转人工", "取消人工", "取消排队", "不排了", "cancel agent", "leave queue"}
CALLBACK_WORDS = {"回电", "给我回电", "请回电", "回拨", "给我回电话", "call me back", "callback"}

_ROUTING_MESSAGES = {
    "not_offered": ("该会话已不再分配给您（可能已超时或被其他客服接起）。",
                    "This contact is no longer offered to you (it timed out or was taken)."),
    "unknown_agent": ("您尚未签入排队系统，请刷新页面重新签入。", "You are not signed in to routing; reload the desk."),
    "unknown_contact": ("该会话不存在或已结束。", "No such contact, or it has ended."),
    "over_capacity": ("您的接待量已满，请先结束当前会话。", "You are at capacity; finish a contact first."),
    "unknown_queue": ("没有这个队列。", "No such queue."),
    "not_active": ("该会话当前不在服务中。", "This contact is not in progress with you."),
    "not_in_wrap_up": ("该会话不在话后处理中。", "This contact is not in wrap-up with you."),
    "agent_unavailable": ("该客服当前无法接收转接（不在线、忙碌或接待量已满）。",
                          "That agent cannot take a transfer now (away, busy or at capacity)."),
    "busy": ("请先结束当前会话再签出。", "Finish your contacts before logging out."),
    "not_waiting": ("该客户已不在排队。", "The customer is no longer waiting."),
}


class DeskError(DomainError):
    """A desk action the routing engine refused (not offered any more, over capacity …)."""

    code = "desk_error"
    status = 409

    @classmethod
    def of(cls, err: RoutingError) -> DeskError:
        zh, en = _ROUTING_MESSAGES.get(err.code, ("操作无法完成：当前状态不允许。", f"Not possible now ({err}).")
                                       )
        exc = cls(zh, en, reason=err.code)
        exc.code = err.code
        return exc


class HumanServiceOff(DomainError):
    code = "human_service_unavailable"
    status = 503


class NotYourContact(NotFound):
    code = "unknown_contact"


@dataclass(frozen=True)
class Code:
    code: str
    title_zh: str
    title_en: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "title_zh": self.title_zh, "title_en": self.title_en}


@dataclass(frozen=True)
class DeskData:
    wrapup: tuple[Code, ...]
    breaks: tuple[Code, ...]
    canned: tuple[dict[str, str], ...]


@lru_cache(maxsize=4)
def load_desk_data(folder: Path = DATA) -> DeskData:
    with open(folder / "wrapup.toml", "rb") as fh:
        codes = tomllib.load(fh)
    with open(folder / "canned.toml", "rb") as fh:
        canned = tomllib.load(fh)
    return DeskData(tuple(Code(c["code"], c["title_zh"], c["title_en"]) for c in codes["wrapup"]),
                    tuple(Code(c["code"], c["title_zh"], c["title_en"]) for c in codes["break"]),
                    tuple(dict(r) for r in canned["reply"]))


class _Defaulting(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Desk:
    def __init__(self, router: Any, hub: Hub, db: Database, catalog: Catalog, clock: Clock | None = None,
                 data: DeskData | None = None) -> None:
        self.router = router
        self.hub = hub
        self.db = db
        self.catalog = catalog
        self.clock = clock or Clock()
        self.data = data or load_desk_data()
        self.chatlog = ChatLog(db)
        self._watchers: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    # ------------------------------------------------------------------ waking sockets
    def on_event(self, event: Event) -> None:
        """The router's listener: wake the sockets of the agents and the contact concerned.

        Safe from any thread (the server's dispatch loop may run the router off the event loop)."""
        keys = []
        for agent_id in (event.agent_id, (event.data or {}).get("to_agent")):
            if agent_id:
                keys.append(f"agent:{agent_id}")
        if event.contact_id:
            keys.append(f"contact:{event.contact_id}")
        for key in keys:
            for loop, ev in list(self._watchers.get(key, ())):
                try:
                    loop.call_soon_threadsafe(ev.set)
                except RuntimeError:      # that loop is closed: its socket is gone
                    pass

    def watch(self, *keys: str) -> asyncio.Event:
        ev = asyncio.Event()
        loop = asyncio.get_running_loop()
        for key in keys:
            self._watchers.setdefault(key, set()).add((loop, ev))
        return ev

    def unwatch(self, ev: asyncio.Event, *keys: str) -> None:
        for key in keys:
            watchers = self._watchers.get(key)
            if watchers:
                for item in [w for w in watchers if w[1] is ev]:
                    watchers.discard(item)
                if not watchers:
                    self._watchers.pop(key, None)

    # ------------------------------------------------------------------ time
    def now(self) -> float:
        """The router's clock (epoch seconds): countdowns and waits are measured on it."""
        return getattr(self.router, "clock", time.time)()

    # ------------------------------------------------------------------ signing in and presence
    def sign_in(self, agent: Agent, *, refresh: bool = False) -> None:
        """Make the agent known to the router (offline until they choose to be available); ``refresh``
        gives the router the account's current skills and capacity, keeping the agent's state."""
        if refresh or self.router.agent(agent.login) is None:
            self.router.login(agent.profile())

    def sign_out(self, agent: Agent) -> None:
        view = self.router.agent(agent.login)
        if view is None:
            return
        if view.contacts:
            raise DeskError("请先结束并小结当前会话再签出。", "Finish and wrap up your contacts before logging out.",
                            reason="has_contacts")
        self._routing(self.router.logout, agent.login)

    def set_presence(self, agent: Agent, presence: str, reason: str | None = None) -> dict[str, Any]:
        try:
            p = Presence(presence)
        except ValueError:
            raise InvalidInput("状态须为 available / break / offline。",
                               "Presence is available, break or offline.") from None
        if p is Presence.BREAK:
            codes = {c.code for c in self.data.breaks}
            if reason not in codes:
                raise InvalidInput("请选择小休原因。", f"Choose a break reason: {', '.join(sorted(codes))}.")
        else:
            reason = None
        self.sign_in(agent)
        self._routing(self.router.set_presence, agent.login, p, reason)
        return self.view(agent)

    # ------------------------------------------------------------------ what the agent sees
    def view(self, agent: Agent) -> dict[str, Any]:
        """The agent's state, offers (with their deadline) and contacts: what the desk shows and pushes."""
        av = self.router.agent(agent.login)
        now = self.now()
        out: dict[str, Any] = {"agent": {"login": agent.login, "name": agent.name, "role": agent.role},
                               "server_time": now, "state": AgentState.OFFLINE.value,
                               "presence": Presence.OFFLINE.value, "reason": None, "state_since": None,
                               "offers": [], "contacts": [], "signed_in": av is not None}
        if av is None:
            return out
        out.update(state=str(av.state), presence=str(av.presence), reason=av.reason, state_since=av.state_since,
                   missed=av.missed)
        for cid in av.offers:
            c = self.router.contact(cid)
            if c is not None and c.status is ContactStatus.OFFERED:
                q = self.router.config.queues.get(c.queue)
                timeout = q.offer_timeout if q else 15.0
                summary = self._summary(c, now)
                summary["expires_at"] = (c.offered_at or now) + timeout
                summary["offer_timeout"] = timeout
                out["offers"].append(summary)
        for cid in av.contacts:
            c = self.router.contact(cid)
            if c is not None:
                summary = self._summary(c, now)
                if c.status is ContactStatus.WRAP_UP:
                    q = self.router.config.queues.get(c.queue)
                    summary["wrap_up_until"] = (c.finished_at or c.ended_at or now) + (q.wrap_up_seconds if q else 30)
                out["contacts"].append(summary)
        return out

    def _summary(self, c: Contact, now: float) -> dict[str, Any]:
        q = self.router.config.queues.get(c.queue)
        b = self.catalog.by_code.get(c.business) if c.business else None
        ctx = c.context or {}
        return {"contact_id": c.contact_id, "status": str(c.status), "channel": str(c.channel), "queue": c.queue,
                "queue_title_zh": q.title_zh if q else c.queue, "queue_title_en": q.title_en if q else c.queue,
                "tier": c.tier, "language": c.language, "urgent": c.urgent, "msisdn": c.msisdn,
                "msisdn_masked": mask_msisdn(c.msisdn) if c.msisdn else None, "business": c.business,
                "business_name_zh": b.name_zh if b else None, "business_name_en": b.name_en if b else None,
                "conversation_id": ctx.get("conversation_id"), "reason": ctx.get("reason"),
                "enqueued_at": c.enqueued_at, "answered_at": c.answered_at,
                "waited_s": round(((c.answered_at or now) - c.enqueued_at), 1), "transfers": c.transfers}

    # ------------------------------------------------------------------ offers
    async def accept(self, agent: Agent, contact_id: str) -> dict[str, Any]:
        contact = self._routing(self.router.accept, agent.login, contact_id)
        cid = (contact.context or {}).get("conversation_id")
        if cid:
            await self._system(contact, "joined", CUSTOMER_TEXT["zh"]["joined"].format(name=agent.name), agent)
            await self.db.run(conversation_store.set_handoff_status, (contact.context or {}).get("handoff_id"),
                              "active")
        return await self.context(agent, contact_id)

    def reject(self, agent: Agent, contact_id: str) -> None:
        self._routing(self.router.reject, agent.login, contact_id)

    # ------------------------------------------------------------------ contacts
    def _mine(self, agent: Agent, contact_id: str, *, offered_ok: bool = False) -> Contact:
        c = self.router.contact(contact_id)
        ok = c is not None and (c.agent_id == agent.login or (offered_ok and agent.login in (c.offered_to or ()))
                                or (offered_ok and agent.has_role("supervisor")))
        if not ok:
            raise NotYourContact("该会话不存在或不属于您。", "No such contact among yours.", contact_id=contact_id)
        return c

    async def context(self, agent: Agent, contact_id: str) -> dict[str, Any]:
        """All the agent needs to serve the contact: who, what the assistant understood, what was said."""
        c = self._mine(agent, contact_id, offered_ok=True)
        now = self.now()
        ctx = c.context or {}
        out = self._summary(c, now)
        out.update(slots=ctx.get("slots") or {}, sentiment=ctx.get("sentiment") or {},
                   handoff_id=ctx.get("handoff_id"), agent_id=c.agent_id,
                   category=c.category, skill_level_needed=c.skill_level_needed)
        cid = ctx.get("conversation_id")
        transcript = await self.chatlog.since(cid) if cid else []
        if not transcript:    # a contact without a stored conversation: the context's copy
            transcript = [{"seq": None, "role": m.get("role"), "text": m.get("text"), "at": m.get("at")}
                          for m in ctx.get("transcript") or []]
        out["transcript"] = transcript
        await self.db.run(_audit, agent.login, "desk_contact_view", c.msisdn, contact_id, self.clock)
        return out

    async def send(self, agent: Agent, contact_id: str, text: str) -> dict[str, Any]:
        """The agent says something to the customer: stored, then relayed to the customer's socket."""
        text = (text or "").strip()
        if not text or len(text) > MAX_TEXT:
            raise InvalidInput(f"消息须为1-{MAX_TEXT}个字符。", f"A message is 1 to {MAX_TEXT} characters.")
        c = self._mine(agent, contact_id)
        if c.status is not ContactStatus.ACTIVE:
            raise DeskError("会话已结束，不能再发送消息。", "The chat has ended: no more messages.",
                            reason="not_active")
        cid = (c.context or {}).get("conversation_id")
        if not cid:
            raise DeskError("该会话不是在线文字会话。", "This contact is not a chat.", reason="not_chat")
        seq = await self.chatlog.append(cid, "agent", text, now=self.clock.now())
        event = ChatEvent(cid, "message", "agent", text, agent.name, agent.login, contact_id, seq, self.now())
        await self.hub.publish(event)
        return _event_dict(event)

    async def finish(self, agent: Agent, contact_id: str) -> dict[str, Any]:
        """End the talk: the customer is told and goes back to 小贝; the agent's wrap-up starts."""
        c = self._mine(agent, contact_id)
        self._routing(self.router.finish, agent.login, contact_id)
        cid = (c.context or {}).get("conversation_id")
        if cid:
            await self.db.run(conversation_store.release_handoff, cid, self.clock.now())
            await self._system(c, "ended", CUSTOMER_TEXT["zh"]["ended"], agent)
            await self.db.run(conversation_store.set_handoff_status, (c.context or {}).get("handoff_id"), "done")
        return self.view(agent)

    def wrap_up(self, agent: Agent, contact_id: str, code: str, notes: str = "") -> dict[str, Any]:
        if code not in {c.code for c in self.data.wrapup}:
            raise InvalidInput("请选择小结代码。", "Choose a wrap-up code.", codes=[c.code for c in self.data.wrapup])
        notes = (notes or "").strip()
        if len(notes) > MAX_TEXT:
            raise InvalidInput(f"备注不超过{MAX_TEXT}个字符。", f"Notes are at most {MAX_TEXT} characters.")
        self._mine(agent, contact_id)
        self._routing(self.router.wrap_up, agent.login, contact_id, code, notes)
        return self.view(agent)

    async def transfer(self, agent: Agent, contact_id: str, *, queue: str | None = None,
                       to_agent: str | None = None) -> dict[str, Any]:
        if bool(queue) == bool(to_agent):
            raise InvalidInput("请选择转接的队列或客服（二选一）。",
                               "Transfer to a queue or to an agent (one of them).")
        if queue and queue not in self.router.config.queues:
            raise InvalidInput("没有这个队列。", "No such queue.", queue=queue)
        if to_agent == agent.login:
            raise InvalidInput("不能转给自己。", "You cannot transfer to yourself.")
        c = self._mine(agent, contact_id)
        self._routing(self.router.transfer, agent.login, contact_id, queue=queue, to_agent=to_agent)
        if (c.context or {}).get("conversation_id"):
            await self._system(c, "transferred", CUSTOMER_TEXT["zh"]["transferred"], agent,
                               data={"queue": queue, "to_agent": to_agent})
        return self.view(agent)

    # ------------------------------------------------------------------ lists for the desk
    def queues(self) -> list[dict[str, Any]]:
        waiting: dict[str, int] = {}
        for c in self.router.waiting():
            waiting[c.queue] = waiting.get(c.queue, 0) + 1
        return [{"name": q.name, "title_zh": q.title_zh, "title_en": q.title_en, "skill": q.skill,
                 "waiting": waiting.get(q.name, 0)} for q in self.router.config.queues.values()]

    def agents(self) -> list[dict[str, Any]]:
        """Signed-in agents, for a transfer to a person."""
        return [{"login": a.agent_id, "name": a.name, "state": str(a.state), "skills": dict(a.profile.skills),
                 "languages": list(a.profile.languages)}
                for a in self.router.agents() if a.state is not AgentState.OFFLINE]

    def codes(self) -> dict[str, Any]:
        return {"wrapup": [c.as_dict() for c in self.data.wrapup], "breaks": [c.as_dict() for c in self.data.breaks]}

    def canned(self, agent: Agent, contact_id: str | None = None, lang: str | None = None) -> list[dict[str, str]]:
        """Canned replies with their placeholders filled for the contact (in the customer's language)."""
        values = _Defaulting(agent_name=agent.name)
        c = self.router.contact(contact_id) if contact_id else None
        if c is not None and (c.agent_id == agent.login or agent.login in (c.offered_to or ())):
            lang = lang or c.language
            b = self.catalog.by_code.get(c.business) if c.business else None
            values["customer"] = mask_msisdn(c.msisdn) if c.msisdn else ""
            values["business"] = (b.name_en if (lang or "zh").startswith("en") else b.name_zh) if b else None
        en = (lang or "zh").startswith("en")
        if not values.get("business"):
            values["business"] = "your request" if en else "您的问题"
        values.setdefault("customer", "")
        out = []
        for r in self.data.canned:
            out.append({"id": r["id"], "group": r.get("group", ""), "title": r["title_en" if en else "title_zh"],
                        "text": r["text_en" if en else "text_zh"].format_map(values)})
        return out

    # ------------------------------------------------------------------ helpers
    def _routing(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RoutingError as err:
            raise DeskError.of(err) from None

    async def _system(self, c: Contact, kind: str, text: str, agent: Agent, data: dict | None = None) -> None:
        cid = (c.context or {}).get("conversation_id")
        assert cid, "callers post only into a contact's chat"
        seq = await self.chatlog.append(cid, "system", text, now=self.clock.now())
        await self.hub.publish(ChatEvent(cid, kind, "system", text, agent.name, agent.login, c.contact_id, seq,
                                         self.now(), data or {}))

    # ------------------------------------------------------------------ the customer's side
    async def live_contact(self, conversation_id: str) -> tuple[str | None, Contact | None, str | None]:
        """The conversation's newest hand-off: (contact id, the router's contact, the row's status)."""
        row = await self.db.run(conversation_store.latest_handoff, conversation_id, write=False)
        if row is None:
            return None, None, None
        contact_id = f"h{row[0]}"
        return contact_id, self.router.contact(contact_id), row[1]


def _event_dict(e: ChatEvent) -> dict[str, Any]:
    return {"conversation_id": e.conversation_id, "kind": e.kind, "role": e.role, "text": e.text, "name": e.name,
            "agent_id": e.agent_id, "contact_id": e.contact_id, "seq": e.seq, "at": e.at, "data": e.data}


# ---------------------------------------------------------------------------------------- SQL jobs

def _audit(conn: Connection, login: str, action: str, msisdn: str | None, detail: str, clock: Clock) -> None:
    audit.record(conn, at=clock.now(), channel="desk", actor=login, action=action, msisdn=msisdn,
                 detail={"contact_id": detail} if detail else {})


# ---------------------------------------------------------------------------------------- the customer's socket

def customer_text(key: str, lang: str | None, **values: Any) -> str:
    table = CUSTOMER_TEXT["en" if (lang or "zh").startswith("en") else "zh"]
    return table[key].format(**values)


def queue_text(position: int, wait_s: float, lang: str | None) -> str:
    minutes = max(1, math.ceil(wait_s / 60))
    if position <= 1:
        return customer_text("first", lang, m=minutes)
    return customer_text("ahead", lang, n=position - 1, m=minutes)


class CustomerChat:
    """The customer's side of one web-chat socket while (and after) a human serves the conversation.

    ``send`` writes one JSON object to the socket. Live events go out as ``{"type": "live", "event": ...}``;
    a customer message taken for the agent is acknowledged with ``{"type": "ack", "message_id": ...}``.
    """

    POLL = 1.0   # seconds between looks at the queue position (other processes move it too)

    def __init__(self, desk: Desk, send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self.desk = desk
        self.send = send
        self.lang = "zh"
        self.conversation_id: str | None = None
        self.contact_id: str | None = None
        self._task: asyncio.Task | None = None
        self._checked: str | None = None     # conversation id already looked up on this socket

    async def follow_if_live(self, conversation_id: str, *, announce: bool = False) -> bool:
        """Look the conversation up (once per socket, or again when told) and follow it if a human has it."""
        contact_id, contact, row_status = await self.desk.live_contact(conversation_id)
        self._checked = conversation_id
        live = contact is not None and contact.status in LIVE or (contact is None and row_status == "waiting")
        if not live:
            if row_status is not None and (contact is not None or row_status != "waiting"):
                # The last hand-off is over (served, refused, left, or forgotten by an in-memory router
                # that restarted): the conversation is 小贝's again.
                await self.desk.db.run(conversation_store.release_handoff, conversation_id, self.desk.clock.now())
                if announce and (row_status == "refused" or (contact and contact.status is ContactStatus.REFUSED)):
                    self.conversation_id = conversation_id
                    await self._say("refused")
            return False
        assert contact_id is not None   # live: there is a hand-off row, and it names the contact
        await self._follow(conversation_id, contact_id, announce)
        return True

    async def intercept(self, conversation_id: str | None, text: str, client_id: str | None,
                        lang: str | None) -> bool:
        """Take a customer message for the agent serving them; False lets 小贝 answer it.

        While the customer waits in the queue 小贝 still answers (as it promised at the hand-off), and the
        transcript the agent sees keeps those turns; "取消转人工" leaves the queue."""
        if lang:
            self.lang = lang
        if not conversation_id:
            return False
        if conversation_id != self.conversation_id and self._checked != conversation_id:
            await self.follow_if_live(conversation_id)
        if self.conversation_id != conversation_id or self.contact_id is None:
            return False
        contact = self.desk.router.contact(self.contact_id)
        status = contact.status if contact is not None else None
        if status is ContactStatus.ACTIVE:
            seq = await self.desk.chatlog.append(conversation_id, "customer", text, now=self.desk.clock.now(),
                                                 client_id=client_id)
            await self.send({"type": "ack", "message_id": client_id, "conversation_id": conversation_id,
                             "seq": seq})
            if seq is not None:
                await self.desk.hub.publish(ChatEvent(conversation_id, "message", "customer", text, None, None,
                                                      self.contact_id, seq, self.desk.now()))
            return True
        if status is ContactStatus.WAITING and text.strip().lower() in CALLBACK_WORDS:
            await self.desk.chatlog.append(conversation_id, "customer", text, now=self.desk.clock.now(),
                                           client_id=client_id)
            await self.send({"type": "ack", "message_id": client_id, "conversation_id": conversation_id})
            if not contact.msisdn:
                await self._say("callback_no_number")
                return True
            try:      # the contact keeps its place in the queue; the agent who gets it calls the customer
                self.desk.router.request_callback(self.contact_id, contact.msisdn)
            except RoutingError:
                return True
            await self.send({"type": "live", "event": "callback",
                             "text": customer_text("callback", self.lang, number=mask_msisdn(contact.msisdn))})
            return True
        if status in (ContactStatus.WAITING, ContactStatus.OFFERED, None) and \
                text.strip().lower() in CANCEL_WORDS:
            if contact is not None:
                try:
                    self.desk.router.abandon(self.contact_id)
                except RoutingError:
                    pass
            elif self.contact_id.startswith("h") and self.contact_id[1:].isdigit():   # not queued yet: never
                await self.desk.db.run(conversation_store.cancel_handoff, int(self.contact_id[1:]))
            await self.desk.chatlog.append(conversation_id, "customer", text, now=self.desk.clock.now(),
                                           client_id=client_id)
            await self.send({"type": "ack", "message_id": client_id, "conversation_id": conversation_id})
            await self._say("cancelled")
            await self._stop(release=True)
            return True
        return False

    async def after_turn(self, result: dict[str, Any], lang: str | None) -> None:
        """After 小贝's turn: a hand-off in it (or before it) means following the queue from now on."""
        if lang:
            self.lang = lang
        state = result.get("state") or {}
        if result.get("handoff") or state.get("handed_off"):
            await self.follow_if_live(result["conversation_id"], announce=True)

    async def _follow(self, conversation_id: str, contact_id: str, announce: bool) -> None:
        if self.conversation_id == conversation_id and self._task is not None and not self._task.done():
            return
        await self._stop()
        self.conversation_id, self.contact_id = conversation_id, contact_id
        sub = await self.desk.hub.subscribe(conversation_id)
        self._task = asyncio.create_task(self._pump(sub, contact_id, announce))

    async def _pump(self, sub, contact_id: str, announce: bool) -> None:
        """Relay the agent's side to the customer and keep the queue position fresh."""
        waker = self.desk.watch(f"contact:{contact_id}")
        shown: tuple | None = None
        joined = False
        first = True
        seen = False
        try:
            while True:
                contact = self.desk.router.contact(contact_id)
                status = contact.status if contact is not None else None
                seen = seen or contact is not None
                if status is None and seen:          # the router forgot it (a restart of an in-memory router)
                    await self._say("refused")
                    await self.desk.db.run(conversation_store.release_handoff, self.conversation_id,
                                           self.desk.clock.now())
                    return
                if status in (ContactStatus.WAITING, ContactStatus.OFFERED) or status is None:
                    pos = self.desk.router.position(contact_id) if contact is not None else None
                    key = ("pos", pos[0], max(1, math.ceil(pos[1] / 60))) if pos else ("queued",)
                    if key != shown:
                        text = queue_text(pos[0], pos[1], self.lang) if pos else customer_text("queued", self.lang)
                        notice = announce and pos is not None
                        await self.send({"type": "live", "event": "waiting", "text": text,
                                         "position": pos[0] if pos else None,
                                         "wait_s": round(pos[1]) if pos else None, "notice": notice})
                        announce = announce and not notice
                        shown = key
                elif status is ContactStatus.ACTIVE and first and contact.agent_id:
                    # Joined before this socket listened (a reconnect): say who serves them.
                    agent = self.desk.router.agent(contact.agent_id)
                    name = agent.name if agent else contact.agent_id
                    await self.send({"type": "live", "event": "joined", "name": name,
                                     "text": customer_text("joined", self.lang, name=name), "notice": False})
                    joined = True
                elif status in (ContactStatus.REFUSED, ContactStatus.ABANDONED):
                    await self._say("refused" if status is ContactStatus.REFUSED else "cancelled")
                    await self.desk.db.run(conversation_store.release_handoff, self.conversation_id,
                                           self.desk.clock.now())
                    return
                elif status in (ContactStatus.WRAP_UP, ContactStatus.DONE) and not joined:
                    return
                first = False
                waker.clear()
                event = await self._next(sub, waker)
                if event is None:
                    continue
                if event.kind == "message" and event.role == "agent":
                    await self.send({"type": "live", "event": "message", "role": "agent", "name": event.name,
                                     "text": event.text, "seq": event.seq})
                elif event.kind == "joined":
                    joined = True
                    await self.send({"type": "live", "event": "joined", "name": event.name, "seq": event.seq,
                                     "text": customer_text("joined", self.lang, name=event.name), "notice": True})
                elif event.kind == "transferred":
                    joined, shown = False, None
                    await self.send({"type": "live", "event": "transferred", "seq": event.seq,
                                     "text": customer_text("transferred", self.lang)})
                elif event.kind == "ended":
                    await self.send({"type": "live", "event": "ended", "seq": event.seq,
                                     "text": customer_text("ended", self.lang)})
                    self.contact_id = None
                    return
        except asyncio.CancelledError:
            raise
        finally:
            self.desk.unwatch(waker, f"contact:{contact_id}")
            await sub.close()

    async def _next(self, sub, waker: asyncio.Event) -> ChatEvent | None:
        """The next hub event, or None after a router event or POLL seconds. Reads are short rather
        than cancelled: cancelling a Redis pub/sub read mid-way drops its connection."""
        loop = asyncio.get_running_loop()
        end = loop.time() + self.POLL
        while True:
            event = await sub.get(max(0.01, min(0.25, end - loop.time())))
            if event is not None:
                return event
            if waker.is_set() or loop.time() >= end:
                return None

    async def _say(self, key: str) -> None:
        await self.send({"type": "live", "event": key if key in ("transferred", "callback_no_number") else "ended",
                         "text": customer_text(key, self.lang)})

    async def _stop(self, release: bool = False) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        if release and self.conversation_id:
            await self.desk.db.run(conversation_store.release_handoff, self.conversation_id,
                                   self.desk.clock.now())
        self.contact_id = None

    async def close(self) -> None:
        await self._stop()


def desk_of(hl: Any) -> Desk:
    """The desk the container built (``Hotline.desk``); an app without routing has none."""
    desk = getattr(hl, "desk", None)
    if desk is None:
        raise HumanServiceOff("人工服务暂未开通。", "Human service is not enabled on this server.")
    return desk


def live_desk(hl: Any) -> Desk | None:
    """The desk when human service is wired, else None (the web chat then stays with 小贝 alone)."""
    try:
        return desk_of(hl)
    except HumanServiceOff:
        return None
