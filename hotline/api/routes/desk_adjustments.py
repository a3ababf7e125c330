"""Balance adjustments at the desk: agents request them inside a contact, supervisors decide the big ones.

Agents cannot recharge; an adjustment (调账) is the only way an agent changes a balance, with a reason,
applied at once within the agent's limits (``HOTLINE_ADJUST_MAX_FEN`` per adjustment,
``HOTLINE_ADJUST_DAILY_FEN`` a day) and otherwise pending until another supervisor approves it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from hotline.api.deps import HotlineDep
from hotline.bootstrap import Hotline
from hotline.desk.adjustments import Adjustments
from hotline.desk.auth import AgentDep, SupervisorDep
from hotline.desk.scope import in_contact


async def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"


router = APIRouter(prefix="/desk", tags=["desk"], dependencies=[Depends(_no_store)])


class AdjustmentIn(BaseModel):
    contact_id: str = Field(min_length=1, max_length=64, description="The contact you are serving")
    msisdn: str | None = Field(None, max_length=20, description="Optional: must be the contact's number")
    amount_fen: int = Field(description="+ credit, - debit, in fen; never zero")
    reason: str = Field(min_length=1, max_length=200)
    key: str = Field(min_length=1, max_length=64, description="The form's idempotency key")


class DecisionIn(BaseModel):
    note: str = Field("", max_length=200)


def _adjustments(hl: Hotline) -> Adjustments:
    s = hl.settings
    return Adjustments(hl.db, hl.services.clock, hl.bss, max_fen=s.adjust_max_fen, daily_fen=s.adjust_daily_fen)


@router.post("/adjustments", summary="Adjust the contact's customer's balance (applied, or pending approval)")
async def request(body: AdjustmentIn, hl: HotlineDep, agent: AgentDep, response: Response) -> dict[str, Any]:
    scope = in_contact(getattr(hl, "router", None), agent, body.contact_id, body.msisdn)
    out = await _adjustments(hl).request(scope, body.amount_fen, body.reason, key=body.key)
    response.status_code = 201 if out["status"] == "applied" else 202
    return out


@router.get("/adjustments/mine", summary="Your adjustments, newest first")
async def mine(hl: HotlineDep, agent: AgentDep) -> list[dict[str, Any]]:
    return await _adjustments(hl).list(agent=agent.login)


@router.get("/adjustments", summary="Adjustments (supervisors), newest first; ?status=pending for the queue")
async def listing(hl: HotlineDep, agent: SupervisorDep,
                  status: Annotated[Literal["pending", "approved", "applied", "rejected"] | None,
                                    Query()] = None) -> list[dict[str, Any]]:
    return await _adjustments(hl).list(status=status)


@router.post("/adjustments/{adjustment_id}/approve", summary="Approve a pending adjustment (applied at once)")
async def approve(adjustment_id: int, body: DecisionIn, hl: HotlineDep, agent: SupervisorDep) -> dict[str, Any]:
    return await _adjustments(hl).decide(agent, adjustment_id, approve=True, note=body.note)


@router.post("/adjustments/{adjustment_id}/reject", summary="Reject a pending adjustment")
async def reject(adjustment_id: int, body: DecisionIn, hl: HotlineDep, agent: SupervisorDep) -> dict[str, Any]:
    return await _adjustments(hl).decide(agent, adjustment_id, approve=False, note=body.note)
