"""The desk's customer panel over HTTP: 360° view, unmasking, verification, businesses and tickets.

Every route needs a desk session (the ``hotline_desk`` cookie or a bearer token); the agent behind
it is the actor of everything done here. Answers are never cached: they carry personal data.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from hotline.api.deps import HotlineDep
from hotline.bootstrap import Hotline
from hotline.desk.auth import AgentDep
from hotline.desk.customer import CustomerDesk


async def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"


router = APIRouter(prefix="/desk", tags=["desk"], dependencies=[Depends(_no_store)])

Msisdn = Annotated[str, Field(description="11-digit China Mobile number")]
ContactId = Annotated[str | None, Field(max_length=64)]
ConversationId = Annotated[str | None, Field(max_length=40)]


def _desk(hl: Hotline) -> CustomerDesk:
    return CustomerDesk(hl.services, hl.db)


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


@router.get("/customers/{msisdn}", summary="The customer's 360° view, personal data masked (audited)")
async def view(msisdn: Msisdn, hl: HotlineDep, agent: AgentDep,
               contact_id: Annotated[str | None, Query(max_length=64)] = None,
               conversation_id: Annotated[str | None, Query(max_length=40)] = None) -> dict[str, Any]:
    return await _desk(hl).view(agent.login, msisdn, contact_id=contact_id, conversation_id=conversation_id)


@router.post("/customers/{msisdn}/unmask", summary="One personal field in clear, with a reason (audited)")
async def unmask(msisdn: Msisdn, body: UnmaskIn, hl: HotlineDep, agent: AgentDep) -> dict[str, Any]:
    return await _desk(hl).unmask(agent.login, msisdn, body.field, body.reason, body.note,
                                  contact_id=body.contact_id)


@router.get("/customers/{msisdn}/verification", summary="Whether you have verified this customer, and until when")
async def verification(msisdn: Msisdn, hl: HotlineDep, agent: AgentDep) -> dict[str, Any]:
    return await _desk(hl).verification(agent.login, msisdn)


@router.post("/customers/{msisdn}/verification", summary="Verify the customer: 小贝's verification, the service "
             "password (counts towards the daily lock) or the SMS code")
async def verify(msisdn: Msisdn, body: VerifyIn, hl: HotlineDep, agent: AgentDep) -> dict[str, Any]:
    desk = _desk(hl)
    if body.method == "conversation":
        return await desk.verify_conversation(agent.login, msisdn, body.conversation_id or "",
                                              contact_id=body.contact_id)
    if body.method == "password":
        return await desk.verify_password(agent.login, msisdn, body.secret, contact_id=body.contact_id)
    return await desk.verify_code(agent.login, msisdn, body.secret, contact_id=body.contact_id)


@router.post("/customers/{msisdn}/verification/code", summary="Text the customer a one-time code to read back")
async def send_code(msisdn: Msisdn, body: SendCodeIn, hl: HotlineDep, agent: AgentDep) -> dict[str, Any]:
    return await _desk(hl).send_code(agent.login, msisdn, contact_id=body.contact_id)


@router.get("/customers/{msisdn}/businesses", summary="The catalogue by category, searched by name or code")
async def businesses(msisdn: Msisdn, hl: HotlineDep, agent: AgentDep,
                     q: Annotated[str, Query(max_length=40)] = "",
                     category: Annotated[str | None, Query(max_length=32)] = None) -> list[dict[str, Any]]:
    return _desk(hl).businesses(q, category)


@router.get("/customers/{msisdn}/businesses/{code}", summary="A business's form, or a consultation's article")
async def describe(msisdn: Msisdn, code: str, hl: HotlineDep, agent: AgentDep) -> dict[str, Any]:
    return await _desk(hl).describe(agent.login, msisdn, code)


@router.post("/customers/{msisdn}/businesses/{code}/preview", summary="What to confirm with the customer")
async def preview(msisdn: Msisdn, code: str, body: RunIn, hl: HotlineDep, agent: AgentDep) -> dict[str, Any]:
    return await _desk(hl).preview(agent.login, msisdn, code, body.params, body.lang)


@router.post("/customers/{msisdn}/businesses/{code}/run", summary="Run the business for the customer")
async def run(msisdn: Msisdn, code: str, body: RunIn, hl: HotlineDep, agent: AgentDep) -> dict[str, Any]:
    return await _desk(hl).run(agent.login, msisdn, code, body.params, body.key, body.lang)


@router.get("/customers/{msisdn}/tickets", summary="The customer's tickets, newest first")
async def customer_tickets(msisdn: Msisdn, hl: HotlineDep, agent: AgentDep) -> list[dict[str, Any]]:
    return [t.as_dict() for t in await _desk(hl).tickets.of(msisdn)]


@router.get("/tickets/options", summary="Ticket categories and priorities, for the form")
async def ticket_options(agent: AgentDep) -> dict[str, Any]:
    return CustomerDesk.ticket_options()


@router.get("/tickets", summary="Tickets of a number, newest first")
async def list_tickets(hl: HotlineDep, agent: AgentDep,
                       msisdn: Annotated[str, Query(max_length=20)]) -> list[dict[str, Any]]:
    return [t.as_dict() for t in await _desk(hl).tickets.of(msisdn)]


@router.post("/tickets", status_code=201, summary="Open a ticket (a stub: the care issue follows it up)")
async def create_ticket(body: TicketIn, hl: HotlineDep, agent: AgentDep) -> dict[str, Any]:
    t = await _desk(hl).create_ticket(agent.login, category=body.category, summary=body.summary, msisdn=body.msisdn,
                                      detail=body.detail, priority=body.priority, contact_id=body.contact_id,
                                      conversation_id=body.conversation_id, key=body.key)
    return t.as_dict()
