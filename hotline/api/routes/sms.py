"""The SMS business hall over HTTP: one inbound message in, its replies out (for gateways and tests)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from hotline.api.deps import HotlineDep, Writer
from hotline.channels.sms.message import InboundSms

router = APIRouter(tags=["sms"])


class InboundIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    sender: str = Field(alias="from", min_length=1, max_length=32, description="The subscriber's number")
    to: str = Field("10086", max_length=21, description="The service number it was sent to")
    text: str = Field(max_length=1000)
    id: str = Field("", max_length=100, description="The gateway's message id; the same id is handled once")


class ReplyOut(BaseModel):
    sender: str = Field(serialization_alias="from")
    to: str
    text: str
    segments: int


@router.post("/sms/inbound", summary="Handle one inbound SMS and return the replies",
             response_model=list[ReplyOut], response_model_by_alias=True)
async def inbound(body: InboundIn, hl: HotlineDep, cred: Writer) -> list[dict[str, Any]]:
    """For a gateway or a test harness holding a ``write`` key: the sender's number is taken as given."""
    replies = await hl.sms.handle(InboundSms(body.sender, body.to or "10086", body.text, body.id))
    return [{"sender": r.sender, "to": r.to, "text": r.text, "segments": r.segments} for r in replies]
