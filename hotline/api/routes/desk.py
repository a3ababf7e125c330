"""The agent desktop's API: sign in, presence, offers, the contacts' context, live chat, wrap-up, transfer.

Thin: each route resolves the agent from the desk session and calls ``hotline.desk.desk.Desk``. The
WebSocket ``/desk/ws`` pushes the agent's view whenever it changes and the customers' messages live.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field

from hotline.api.deps import HotlineDep
from hotline.api.limits import receive_text
from hotline.desk.accounts import Session
from hotline.desk.auth import COOKIE, AdminDep, AgentDep, accounts_of, session_token, websocket_agent
from hotline.desk.desk import Desk, desk_of

router = APIRouter(prefix="/desk", tags=["desk"])


def get_desk(hl: HotlineDep) -> Desk:
    return desk_of(hl)


DeskDep = Annotated[Desk, Depends(get_desk)]


# ------------------------------------------------------------------------------------------ bodies

class LoginIn(BaseModel):
    login: str = Field(min_length=1, max_length=32)
    password: str = Field(min_length=1, max_length=128)
    bearer: bool = Field(False, description="Also return the session token in the body (API clients)")


class PresenceIn(BaseModel):
    presence: Literal["available", "break", "offline"]
    reason: str | None = Field(None, max_length=32, description="Required for a break: a code of /desk/codes")


class MessageIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class WrapUpIn(BaseModel):
    code: str = Field(min_length=1, max_length=32)
    notes: str = Field("", max_length=2000)


class TransferIn(BaseModel):
    queue: str | None = Field(None, max_length=32)
    agent: str | None = Field(None, max_length=32, description="A signed-in agent's login")


class AccountIn(BaseModel):
    login: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=128)
    role: Literal["agent", "supervisor", "admin"] = "agent"
    skills: dict[str, int] = {}
    languages: list[str] = ["zh"]
    capacity: dict[str, int] = {}


class AccountPatch(BaseModel):
    active: bool | None = None
    password: str | None = Field(None, min_length=8, max_length=128)


# ------------------------------------------------------------------------------------------ sessions

def _set_cookie(response: Response, request: Request, session: Session) -> None:
    max_age = int((session.expires_at - dt.datetime.now(dt.UTC)).total_seconds())
    response.set_cookie(COOKIE, session.token, max_age=max(max_age, 60), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")


@router.post("/login", summary="Sign in: sets the session cookie; the agent becomes known to routing (offline)")
async def login(body: LoginIn, request: Request, response: Response, hl: HotlineDep) -> dict[str, Any]:
    address = request.client.host if request.client else None
    session = await accounts_of(hl).login(body.login, body.password, address=address)
    desk = desk_of(hl)
    desk.sign_in(session.agent, refresh=True)
    _set_cookie(response, request, session)
    out = {"agent": session.agent.as_dict(), "expires_at": session.expires_at.isoformat(),
           "view": desk.view(session.agent)}
    if body.bearer:
        out["token"] = session.token
    return out


@router.post("/logout", summary="Sign out of routing and end the session")
async def logout(request: Request, response: Response, agent: AgentDep, desk: DeskDep, hl: HotlineDep) -> dict:
    desk.sign_out(agent)
    await accounts_of(hl).logout(getattr(request.state, "desk_token", None))
    response.delete_cookie(COOKIE, path="/")
    return {"logged_out": agent.login}


@router.get("/me", summary="Who is signed in, and their view")
async def me(agent: AgentDep, desk: DeskDep) -> dict[str, Any]:
    desk.sign_in(agent)
    return {"agent": agent.as_dict(), "view": desk.view(agent)}


@router.put("/me/presence", summary="Available, break (with a reason) or offline")
async def presence(body: PresenceIn, agent: AgentDep, desk: DeskDep) -> dict[str, Any]:
    return desk.set_presence(agent, body.presence, body.reason)


@router.get("/codes", summary="Wrap-up codes and break reasons")
async def codes(agent: AgentDep, desk: DeskDep) -> dict[str, Any]:
    return desk.codes()


# ------------------------------------------------------------------------------------------ offers and contacts

@router.post("/offers/{contact_id}/accept", summary="Take an offered contact: its context comes back")
async def accept(contact_id: str, agent: AgentDep, desk: DeskDep) -> dict[str, Any]:
    return await desk.accept(agent, contact_id)


@router.post("/offers/{contact_id}/reject", summary="Decline an offer: the contact keeps its place in the queue")
async def reject(contact_id: str, agent: AgentDep, desk: DeskDep) -> dict[str, Any]:
    desk.reject(agent, contact_id)
    return desk.view(agent)


@router.get("/contacts/{contact_id}", summary="A contact's context: transcript, business, slots, sentiment, wait")
async def context(contact_id: str, agent: AgentDep, desk: DeskDep) -> dict[str, Any]:
    return await desk.context(agent, contact_id)


@router.post("/contacts/{contact_id}/messages", summary="Say something to the customer")
async def send(contact_id: str, body: MessageIn, agent: AgentDep, desk: DeskDep) -> dict[str, Any]:
    return await desk.send(agent, contact_id, body.text)


@router.post("/contacts/{contact_id}/finish", summary="End the talk; the wrap-up starts")
async def finish(contact_id: str, agent: AgentDep, desk: DeskDep) -> dict[str, Any]:
    return await desk.finish(agent, contact_id)


@router.post("/contacts/{contact_id}/wrapup", summary="Wrap up with a code and notes")
async def wrapup(contact_id: str, body: WrapUpIn, agent: AgentDep, desk: DeskDep) -> dict[str, Any]:
    return desk.wrap_up(agent, contact_id, body.code, body.notes)


@router.post("/contacts/{contact_id}/transfer", summary="Transfer to another queue or to an agent")
async def transfer(contact_id: str, body: TransferIn, agent: AgentDep, desk: DeskDep) -> dict[str, Any]:
    return await desk.transfer(agent, contact_id, queue=body.queue, to_agent=body.agent)


@router.get("/canned", summary="Canned replies, filled in for a contact")
async def canned(agent: AgentDep, desk: DeskDep, contact_id: str | None = None,
                 lang: Literal["zh", "en"] | None = None) -> list[dict[str, str]]:
    return desk.canned(agent, contact_id, lang)


@router.get("/queues", summary="Queues (to transfer to) with their waiting contacts")
async def queues(agent: AgentDep, desk: DeskDep) -> list[dict[str, Any]]:
    return desk.queues()


@router.get("/agents", summary="Signed-in agents (to transfer to)")
async def agents(agent: AgentDep, desk: DeskDep) -> list[dict[str, Any]]:
    return desk.agents()


# ------------------------------------------------------------------------------------------ accounts (admin)

@router.get("/accounts", summary="Every desk account (admin)")
async def list_accounts(admin: AdminDep, hl: HotlineDep) -> list[dict[str, Any]]:
    return [a.as_dict() for a in await accounts_of(hl).list()]


@router.post("/accounts", status_code=201, summary="Create a desk account (admin)")
async def create_account(body: AccountIn, admin: AdminDep, hl: HotlineDep) -> dict[str, Any]:
    agent = await accounts_of(hl).create(body.login, body.name, body.password, body.role, skills=body.skills,
                                         languages=body.languages, capacity=body.capacity, actor=admin.login)
    return agent.as_dict()


@router.patch("/accounts/{login}", summary="Disable or enable an account, or set its password (admin); either "
              "ends the account's sessions and live sockets")
async def patch_account(login: str, body: AccountPatch, admin: AdminDep, hl: HotlineDep) -> dict[str, Any]:
    accounts = accounts_of(hl)
    if body.password is not None:
        await accounts.set_password(login, body.password, actor=admin.login)
    if body.active is not None:
        agent = await accounts.set_active(login, body.active, actor=admin.login)
        if not body.active:
            desk = desk_of(hl)
            if desk.router.agent(login) is not None and not desk.router.agent(login).contacts:
                desk.router.logout(login)
        return agent.as_dict()
    found = await accounts.get(login)
    return found.as_dict() if found else {}


# ------------------------------------------------------------------------------------------ the live socket

PUSH_EVERY = 1.0   # seconds: the view is recomputed at least this often (other processes change it too)
SESSION_CHECK_EVERY = 5.0   # seconds: how soon a revoked session (password change, disable) closes the socket
REVOKED = 4401      # the close code for a socket without a live session; the page then signs out


@router.websocket("/ws")
async def desk_socket(ws: WebSocket) -> None:
    """Pushes ``{"type": "view", ...}`` whenever the agent's view changes and ``{"type": "message", ...}`` for
    every live-chat event of the agent's contacts. Authenticated by the session cookie (or bearer header); the
    session is checked again every ``SESSION_CHECK_EVERY`` seconds and on every message, and the socket closes
    with 4401 once it is revoked (password changed, account disabled, signed out) or expired."""
    agent = await websocket_agent(ws)
    if agent is None:
        await ws.close(code=REVOKED, reason="no live desk session")
        return
    token = session_token(ws)
    accounts = accounts_of(ws.app.state.hotline)
    desk = desk_of(ws.app.state.hotline)
    await ws.accept()
    desk.sign_in(agent)
    lock = asyncio.Lock()

    async def send(obj: dict[str, Any]) -> None:
        async with lock:
            await ws.send_text(json.dumps(obj, ensure_ascii=False))

    sub = await desk.hub.subscribe()
    keys = (f"agent:{agent.login}",)
    waker = desk.watch(*keys)
    following: dict[str, str] = {}        # conversation id -> contact id

    async def views() -> None:
        last = None
        while True:
            waker.clear()
            view = desk.view(agent)
            want = {c["conversation_id"]: c["contact_id"] for c in view["contacts"] if c.get("conversation_id")}
            for cid in set(want) - set(following):
                await sub.add(cid)
            for cid in set(following) - set(want):
                await sub.remove(cid)
            following.clear()
            following.update(want)
            key = {k: v for k, v in view.items() if k != "server_time"}
            if key != last:
                last = key
                await send({"type": "view", **view})
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(waker.wait(), PUSH_EVERY)

    async def relay() -> None:
        while True:
            event = await sub.get(0.5)
            if event is not None:
                await send({"type": "message", "conversation_id": event.conversation_id,
                            "contact_id": following.get(event.conversation_id, event.contact_id),
                            "kind": event.kind, "role": event.role, "text": event.text, "name": event.name,
                            "seq": event.seq, "at": event.at})

    async def live_session() -> bool:
        current = await accounts.resolve(token)
        return current is not None and current.login == agent.login

    async def receive() -> None:
        while True:
            msg = await receive_text(ws, plain=frozenset({"ping"}), lock=lock)   # else JSON, or closed 1003
            if not await live_session():
                return
            if msg == "ping":
                await send({"type": "pong"})

    async def guard() -> None:
        while await live_session():
            await asyncio.sleep(SESSION_CHECK_EVERY)   # a period, not a wait for something to happen

    tasks = [asyncio.create_task(t()) for t in (views, relay, receive, guard)]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        ended = [t for t in done if t in tasks[2:] and not t.cancelled() and t.exception() is None]
        if ended:     # receive or guard found the session gone: say so, then close
            async with lock:
                with contextlib.suppress(Exception):
                    await ws.close(code=REVOKED, reason="desk session revoked or expired")
    except WebSocketDisconnect:
        pass
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
        desk.unwatch(waker, *keys)
        await sub.close()
