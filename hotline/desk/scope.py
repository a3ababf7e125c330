"""Whom an agent may act on: the number of a live contact the router has given to this agent.

Why: an agent answers one customer at a time, and the customer's number comes from the contact (the
caller, the chat 小贝 handed off), never from what the agent types. Unmasking, verifying, sending a
code, running a business and opening a ticket therefore need a :class:`Scope`, and the only ways to get
one are :func:`in_contact` (the contact is the agent's and in progress; a number named by the request
must be the contact's) and :func:`supervised` (a supervisor looks a number up with a reason, audited,
to *view* it). Every desk route goes through these two functions: one place to read, one to test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from hotline.desk.accounts import Agent
from hotline.domain.billing import Clock
from hotline.domain.errors import DomainError, InvalidInput
from hotline.domain.msisdn import normalize_msisdn
from hotline.routing.model import ContactStatus
from hotline.services import audit
from hotline.store.sql.database import Database

SERVING = (ContactStatus.ACTIVE,)                         # acting for the customer: while talking
AFTER_TALK = (ContactStatus.ACTIVE, ContactStatus.WRAP_UP)  # the masked view and tickets: also in wrap-up
NOTE_MIN = 4
SEARCH_REASONS: dict[str, tuple[str, str]] = {
    "quality": ("质检抽查", "Quality check"),
    "complaint": ("投诉或争议处理", "Complaint or dispute"),
    "escalation": ("坐席求助或升级", "An agent's escalation"),
    "other": ("其他（请说明）", "Other (explain)"),
}


class OutOfScope(DomainError):
    """The agent asked about a customer outside their contacts."""

    code = "not_in_contact"
    status = 403


@dataclass(frozen=True)
class Scope:
    """One agent acting on one number, inside one contact (or a supervisor's audited look-up: no contact)."""

    agent: str
    msisdn: str
    contact_id: str | None
    conversation_id: str | None = None
    search_reason: str | None = None

    @property
    def in_contact(self) -> bool:
        return self.contact_id is not None


def in_contact(router: Any, agent: Agent, contact_id: str | None, msisdn: str | None = None, *,
               statuses: tuple[ContactStatus, ...] = SERVING) -> Scope:
    """The scope of ``contact_id`` for ``agent``: the contact must be assigned to them and in ``statuses``,
    have a number, and ``msisdn`` (when the request names one) must be that number. 403 otherwise."""
    contact = router.contact(contact_id) if contact_id and router is not None else None
    if contact is None or contact.agent_id != agent.login or contact.status not in statuses:
        raise OutOfScope("只能为您正在服务的客户办理：请在您接起的会话中操作。",
                         "You can act only for a customer you are serving: work inside a contact you accepted.",
                         contact_id=contact_id)
    if not contact.msisdn:
        raise OutOfScope("该会话尚未关联客户号码：请引导客户先在小贝验证号码。",
                         "This contact has no customer number: ask the customer to verify it with Xiaobei first.",
                         contact_id=contact_id)
    if msisdn is not None and _number(msisdn) != contact.msisdn:
        raise OutOfScope("号码与当前会话的客户不一致：只能为当前会话的客户办理。",
                         "That number is not this contact's customer: act only for the contact's number.",
                         contact_id=contact_id)
    return Scope(agent.login, contact.msisdn, contact.contact_id, (contact.context or {}).get("conversation_id"))


async def supervised(db: Database, clock: Clock, agent: Agent, msisdn: str, reason: str | None,
                     note: str = "") -> Scope:
    """A supervisor's look-up of a number outside any contact, to view it (masked): needs a reason; audited."""
    if not agent.has_role("supervisor"):
        raise OutOfScope("只能查看您正在服务的客户：请在会话中操作。",
                         "You can see only customers you are serving: work inside a contact.")
    reason = (reason or "").strip()
    note = " ".join((note or "").split())[:200]
    if reason not in SEARCH_REASONS:
        raise InvalidInput("查询会话以外的客户须选择原因。", "Choose why you look this customer up.",
                           allowed=list(SEARCH_REASONS))
    if reason == "other" and len(note) < NOTE_MIN:
        raise InvalidInput(f"选择“其他”时请说明原因（至少{NOTE_MIN}个字）。",
                           f"With 'other', explain the reason in at least {NOTE_MIN} characters.")
    number = _number(msisdn)

    def job(conn: Connection) -> None:
        audit.record(conn, at=clock.now(), channel="desk", actor=agent.login, action="desk.supervisor_search",
                     msisdn=number, detail={"reason": reason, "note": note})
    await db.run(job)
    return Scope(agent.login, number, None, None, reason)


def search_reasons() -> list[dict[str, str]]:
    return [{"code": k, "zh": v[0], "en": v[1]} for k, v in SEARCH_REASONS.items()]


def _number(msisdn: str) -> str:
    return normalize_msisdn(msisdn)
