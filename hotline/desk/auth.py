"""Who is at the desk: FastAPI dependencies resolving a desk session to its agent, and role checks.

The browser carries the session in the HttpOnly, SameSite=Strict cookie ``hotline_desk``; API clients send
``Authorization: Bearer <token>``. Routes take ``agent: AgentDep`` (any signed-in account) or
``agent: Annotated[Agent, Depends(require_role("supervisor"))]`` (supervisors and admins).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket
from starlette.requests import HTTPConnection

from hotline.desk.accounts import Accounts, Agent
from hotline.domain.errors import DomainError

COOKIE = "hotline_desk"


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


def accounts_of(hl) -> Accounts:
    """The desk accounts the container built (``Hotline.desk_accounts``)."""
    accounts: Accounts = hl.desk_accounts
    return accounts


def session_token(conn: HTTPConnection) -> str | None:
    """The desk session token a request or WebSocket carries: the bearer header first, then the cookie."""
    header = conn.headers.get("authorization") or ""
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return conn.cookies.get(COOKIE) or None


async def optional_agent(request: Request) -> Agent | None:
    token = session_token(request)
    agent = await accounts_of(request.app.state.hotline).resolve(token)
    if agent is not None:
        request.state.desk_token = token
    return agent


async def current_agent(agent: Annotated[Agent | None, Depends(optional_agent)]) -> Agent:
    """The signed-in agent, or 401."""
    if agent is None:
        raise HTTPException(401, headers={"WWW-Authenticate": "Bearer"})
    return agent


async def websocket_agent(ws: WebSocket) -> Agent | None:
    """The agent behind a desk WebSocket (cookie or bearer header), or None: the caller closes it."""
    return await accounts_of(ws.app.state.hotline).resolve(session_token(ws))


def require_role(role: str) -> Callable:
    """A dependency admitting accounts of ``role`` or above (agent < supervisor < admin); 403 otherwise."""
    async def check(agent: Annotated[Agent, Depends(current_agent)]) -> Agent:
        if not agent.has_role(role):
            raise Forbidden("您的角色无权执行此操作。", f"This needs the {role} role or above.", role=role)
        return agent
    check.__name__ = f"require_{role}"
    return check


AgentDep = Annotated[Agent, Depends(current_agent)]
SupervisorDep = Annotated[Agent, Depends(require_role("supervisor"))]
AdminDep = Annotated[Agent, Depends(require_role("admin"))]
