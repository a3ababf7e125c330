"""小贝 over HTTP and WebSocket: a message in, the replies and the conversation's state out."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field, ValidationError

from hotline.api.deps import HotlineDep
from hotline.api.limits import receive_json

router = APIRouter(tags=["assistant"])
public = APIRouter(tags=["assistant"])   # the web chat's socket: customers, not API clients


class MessageIn(BaseModel):
    conversation_id: str | None = Field(None, min_length=8, max_length=40, pattern=r"^[A-Za-z0-9:_-]+$",
                                        description="Omit to start a conversation; the reply names it (and "
                                                    "gives its secret once)")
    secret: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                               description="The conversation's secret, from the reply that started it: without "
                                           "it a conversation id starts a new conversation")
    msisdn: str | None = Field(None, max_length=20, description="The customer's number, if known; "
                               "personal data still needs a one-time code or the service password")
    text: str = Field(max_length=1000)
    lang: str | None = Field(None, pattern=r"^(zh|en)(-[A-Za-z]{2,4})?$")
    message_id: str | None = Field(None, max_length=64, description="The client's id: a retry is answered once")


class ReplyOut(BaseModel):
    text: str
    choices: list[str] = []
    article: str | None = None


class TurnOut(BaseModel):
    conversation_id: str
    secret: str | None = None
    replies: list[ReplyOut]
    intent: str | None
    confidence: float | None
    state: dict[str, Any]
    handoff: dict[str, Any] | None


async def _turn(hl, body: MessageIn, client: str) -> dict[str, Any]:
    assistant = await _assistant(hl)
    result = await assistant.handle(body.text, conversation_id=body.conversation_id, msisdn=body.msisdn,
                                    channel="web", lang=body.lang, client_id=body.message_id, secret=body.secret,
                                    client=client)
    return result.as_dict()


def _client(conn: Request | WebSocket) -> str:
    """The client's address, for the limits on what an outsider can trigger (codes)."""
    return f"ip:{conn.client.host}" if conn.client else "ip:unknown"


async def _assistant(hl):
    """The assistant, loading its model off the event loop the first time."""
    return await hl.load_assistant()


@router.post("/assistant/messages", summary="Send 小贝 one message", response_model=TurnOut)
async def message(body: MessageIn, hl: HotlineDep, request: Request) -> dict[str, Any]:
    return await _turn(hl, body, _client(request))


@router.get("/assistant/conversations/{conversation_id}", summary="A conversation's transcript and hand-offs")
async def conversation(conversation_id: str, hl: HotlineDep) -> dict[str, Any]:
    assistant = await _assistant(hl)
    transcript = await assistant.store.transcript(conversation_id)
    if not transcript:
        raise HTTPException(404, "no such conversation")
    return {"conversation_id": conversation_id, "transcript": transcript,
            "handoffs": await assistant.store.handoffs(conversation_id)}


@public.websocket("/assistant/ws")
async def live(ws: WebSocket) -> None:
    """Live chat: each JSON message ``{"text", "conversation_id"?, "msisdn"?, "lang"?}`` is answered with
    the same object ``POST /assistant/messages`` returns; the conversation id is kept across messages.

    Once the conversation is handed off to a human, the customer's messages go to the agent instead (each
    answered ``{"type": "ack", "message_id"}``) and the socket also pushes ``{"type": "live", "event":
    "waiting" | "joined" | "message" | "transferred" | "ended", "text", ...}``: the queue position, the agent
    joining, their messages and the end of the session, after which 小贝 answers again. A page that
    reconnects sends ``{"type": "resume", "conversation_id", "secret"}`` to hear its live chat again: the
    secret comes once, in the reply that started the conversation."""
    await ws.accept()
    hl = ws.app.state.hotline
    conversation_id: str | None = None
    secret: str | None = None     # the conversation's secret, once this socket has proven or been given it
    lock = asyncio.Lock()

    async def send(obj: dict[str, Any]) -> None:
        async with lock:
            await ws.send_json(obj)

    human = _customer_chat(hl, send)
    try:
        while True:
            raw = await receive_json(ws, lock=lock)   # not JSON: closed with 1003, no traceback
            if not isinstance(raw, dict):
                await send({"error": "invalid message", "detail": "a JSON object is expected"})
                continue
            if not ws.app.state.chat_rate.allow(_client(ws), time.monotonic()):
                await send({"error": "rate limited", "detail": "您发送消息过于频繁，请稍后再试。 "
                                                               "You are sending messages too quickly; please wait."})
                continue
            if raw.get("type") == "resume":
                cid, key = raw.get("conversation_id"), raw.get("secret")
                if not (isinstance(cid, str) and _CONVERSATION_ID.fullmatch(cid) and isinstance(key, str)
                        and await (await _assistant(hl)).owns(cid, "web", key)):
                    await send({"error": "unknown conversation",
                                "detail": "会话不存在或已结束，请重新开始对话。 The conversation is unknown or over."})
                    continue
                conversation_id, secret = cid, key
                if human is not None:
                    if raw.get("lang") in ("zh", "en"):
                        human.lang = raw["lang"]
                    await human.follow_if_live(cid)
                continue
            named = raw.get("conversation_id")
            if named and named != conversation_id:   # another conversation: only with its own secret
                given = raw.get("secret")
            else:
                named, given = conversation_id, raw.get("secret") or secret
            try:
                body = MessageIn.model_validate({**raw, "conversation_id": named, "secret": given})
            except ValidationError as err:
                await send({"error": "invalid message", "detail": err.errors(include_url=False,
                                                                              include_context=False)})
                continue
            mine = body.conversation_id is not None and (
                (body.conversation_id == conversation_id and body.secret == secret)
                or await (await _assistant(hl)).owns(body.conversation_id, "web", body.secret))
            if mine and human is not None and await human.intercept(body.conversation_id, body.text,
                                                                    body.message_id, body.lang):
                conversation_id, secret = body.conversation_id, body.secret
                continue
            out = await _turn(hl, body, _client(ws))
            if out["conversation_id"] != body.conversation_id:   # a new conversation: its secret came with it
                secret = out.get("secret")
            elif mine:
                secret = body.secret
            conversation_id = out["conversation_id"]
            await send(out)
            if human is not None:
                await human.after_turn(out, body.lang)
    except WebSocketDisconnect:
        return
    finally:
        if human is not None:
            await human.close()


_CONVERSATION_ID = re.compile(r"[A-Za-z0-9:_-]{8,40}")


def _customer_chat(hl, send):
    """The human side of the web chat, when the server has human service (a router) wired."""
    from hotline.desk.desk import CustomerChat, live_desk
    desk = live_desk(hl)
    return CustomerChat(desk, send) if desk is not None else None
