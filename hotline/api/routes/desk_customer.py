"""The desk's customer panel over HTTP: 360° view, unmasking, verification, businesses and tickets.

Every route needs a desk session (the ``hotline_desk`` cookie or a bearer token); the agent behind
it is the actor of everything done here. Every route about a customer acts inside a contact the agent
is serving (``contact_id``; the number comes from the contact, and one named in the path must equal it),
checked in one place, ``hotline.desk.scope``; a supervisor may only *view* a number without a contact,
giving a reason (audited). Answers are never cached: they carry personal data.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from hotline.api.deps import HotlineDep
from hotline.bootstrap import Hotline
from hotline.desk.accounts import Agent
from hotline.desk.auth import AgentDep
from hotline.desk.customer import CustomerDesk
from hotline.desk.scope import AFTER_TALK, SERVING, Scope, in_contact, search_reasons, supervised
from hotline.routing.model import ContactStatus


async def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"


router = APIRouter(prefix="/desk", tags=["desk"], dependencies=[Depends(_no_store)])

Msisdn = Annotated[str, Field(description="11-digit China Mobile number")]
ContactId = Annotated[str | None, Field(max_length=64)]
ConversationId = Annotated[str | None, Field(max_length=40)]


def _desk(hl: Hotline) -> CustomerDesk:
    return hl.customer_desk


def _scope(hl: Hotline, agent: Agent, contact_id: str | None, msisdn: str | None,
           statuses: tuple[ContactStatus, ...] = SERVING) -> Scope:
    """The one check of every route here: the contact is this agent's and in progress, and the number
    (when the path or body names one) is the contact's."""
    return in_contact(getattr(hl, "router", None), agent, contact_id, msisdn, statuses=statuses)


async def _looking(hl: Hotline, agent: Agent, msisdn: str, contact_id: str | None, reason: str | None,
                   note: str) -> Scope:
    """A contact's scope, or, without a contact, a supervisor's audited look-up with a reason."""
    if contact_id or not reason:
        return _scope(hl, agent, contact_id, msisdn, AFTER_TALK)
    return await supervised(hl.db, hl.services.clock, agent, msisdn, reason, note)


Reason = Annotated[str | None, Query(max_length=32, description="Supervisors without a contact: why (audited)")]
Note = Annotated[str, Query(max_length=200)]
ContactQuery = Annotated[str | None, Query(max_length=64, description="The contact you are serving")]


class UnmaskIn(BaseModel):
    field: Literal["name", "id_number"]
    reason: str = Field(min_length=1, max_length=32, description="identity_check | registration | complaint | other")
    note: str = Field("", max_length=200, description="Free text; required (4+ characters) with reason 'other'")
    contact_id: ContactId = None


class VerifyIn(BaseModel):
    method: Literal["conversation", "password", "otp"]
    secret: str = Field("", max_length=32, description="The service password, or the code the customer reads back")
    conversation_id: ConversationId = None
    contact_id: ContactId = None


class SendCodeIn(BaseModel):
    contact_id: ContactId = None


class RunIn(BaseModel):
    contact_id: ContactId = None
    params: dict[str, Any] = Field(default_factory=dict, description="Slot values as the agent typed or picked them")
    key: str = Field("", max_length=64, description="The form's idempotency key: the same key never runs twice")
    lang: str = Field("zh", pattern=r"^(zh|en)")


class TicketIn(BaseModel):
    msisdn: str | None = Field(None, max_length=20)
    contact_id: ContactId = None
    conversation_id: ConversationId = None
    category: Literal["complaint", "fault", "suggestion", "inquiry"]
    summary: str = Field(min_length=2, max_length=200)
    detail: str = Field("", max_length=4000)
    priority: Literal["normal", "high", "urgent"] = "normal"
    key: str | None = Field(None, max_length=64, description="The form's idempotency key")


@router.get("/customers/{msisdn}", summary="The customer's 360° view, personal data masked (audited): inside your "
            "contact, or as a supervisor with a reason")
async def view(msisdn: Msisdn, hl: HotlineDep, agent: AgentDep, contact_id: ContactQuery = None,
               conversation_id: Annotated[str | None, Query(max_length=40)] = None,
               reason: Reason = None, note: Note = "") -> dict[str, Any]:
    scope = await _looking(hl, agent, msisdn, contact_id, reason, note)
    out = await _desk(hl).view(scope)
    out["search_reasons"] = search_reasons()
    return out


@router.post("/customers/{msisdn}/unmask", summary="One personal field in clear, with a reason (audited)")
async def unmask(msisdn: Msisdn, body: UnmaskIn, hl: HotlineDep, agent: AgentDep) -> dict[str, Any]:
    return await _desk(hl).unmask(_scope(hl, agent, body.contact_id, msisdn), body.field, body.reason, body.note)


@router.get("/customers/{msisdn}/verification", summary="Whether you verified this customer in this contact")
async def verification(msisdn: Msisdn, hl: HotlineDep, agent: AgentDep,
                       contact_id: ContactQuery = None) -> dict[str, Any]:
    return await _desk(hl).verification(_scope(hl, agent, contact_id, msisdn))


@router.post("/customers/{msisdn}/verification", summary="Verify the customer: 小贝's verification, the service "
             "password (counts towards the daily lock) or the SMS code")
async def verify(msisdn: Msisdn, body: VerifyIn, hl: HotlineDep, agent: AgentDep) -> dict[str, Any]:
    desk = _desk(hl)
    scope = _scope(hl, agent, body.contact_id, msisdn)
    if body.method == "conversation":
        return await desk.verify_conversation(scope, body.conversation_id)
    if body.method == "password":
        return await desk.verify_password(scope, body.secret)
    return await desk.verify_code(scope, body.secret)


@router.post("/customers/{msisdn}/verification/code", summary="Text the customer a one-time code to read back")
async def send_code(msisdn: Msisdn, body: SendCodeIn, hl: HotlineDep, agent: AgentDep) -> dict[str, Any]:
    return await _desk(hl).send_code(_scope(hl, agent, body.contact_id, msisdn))


@router.get("/customers/{msisdn}/businesses", summary="The catalogue by category, searched by name or code")
async def businesses(msisdn: Msisdn, hl: HotlineDep, agent: AgentDep,
                     q: Annotated[str, Query(max_length=40)] = "",
                     category: Annotated[str | None, Query(max_length=32)] = None) -> list[dict[str, Any]]:
    return _desk(hl).businesses(q, category)     # the catalogue only: nothing about the customer


@router.get("/customers/{msisdn}/businesses/{code}", summary="A business's form, or a consultation's article")
async def describe(msisdn: Msisdn, code: str, hl: HotlineDep, agent: AgentDep,
                   contact_id: ContactQuery = None) -> dict[str, Any]:
    return await _desk(hl).describe(_scope(hl, agent, contact_id, msisdn), code)


@router.post("/customers/{msisdn}/businesses/{code}/preview", summary="What to confirm with the customer")
async def preview(msisdn: Msisdn, code: str, body: RunIn, hl: HotlineDep, agent: AgentDep) -> dict[str, Any]:
    return await _desk(hl).preview(_scope(hl, agent, body.contact_id, msisdn), code, body.params, body.lang)


@router.post("/customers/{msisdn}/businesses/{code}/run", summary="Run the business for the customer")
async def run(msisdn: Msisdn, code: str, body: RunIn, hl: HotlineDep, agent: AgentDep) -> dict[str, Any]:
    return await _desk(hl).run(_scope(hl, agent, body.contact_id, msisdn), code, body.params, body.key, body.lang)


@router.get("/customers/{msisdn}/tickets", summary="The customer's tickets, newest first")
async def customer_tickets(msisdn: Msisdn, hl: HotlineDep, agent: AgentDep, contact_id: ContactQuery = None,
                           reason: Reason = None, note: Note = "") -> list[dict[str, Any]]:
    scope = await _looking(hl, agent, msisdn, contact_id, reason, note)
    return [t.as_dict() for t in await _desk(hl).tickets.of(scope.msisdn)]


@router.get("/tickets/options", summary="Ticket categories and priorities, for the form")
async def ticket_options(agent: AgentDep) -> dict[str, Any]:
    return CustomerDesk.ticket_options()


@router.get("/tickets", summary="Tickets of a number, newest first")
async def list_tickets(hl: HotlineDep, agent: AgentDep, msisdn: Annotated[str, Query(max_length=20)],
                       contact_id: ContactQuery = None, reason: Reason = None,
                       note: Note = "") -> list[dict[str, Any]]:
    scope = await _looking(hl, agent, msisdn, contact_id, reason, note)
    return [t.as_dict() for t in await _desk(hl).tickets.of(scope.msisdn)]


@router.post("/tickets", status_code=201, summary="Open a ticket for the customer of your contact")
async def create_ticket(body: TicketIn, hl: HotlineDep, agent: AgentDep) -> dict[str, Any]:
    scope = _scope(hl, agent, body.contact_id, body.msisdn, AFTER_TALK)
    t = await _desk(hl).create_ticket(scope, category=body.category, summary=body.summary, detail=body.detail,
                                      priority=body.priority, key=body.key)
    return t.as_dict()
