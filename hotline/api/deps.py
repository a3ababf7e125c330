"""Request-scoped dependencies: the wired application, the acting party, the idempotency key."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from hotline.bootstrap import Hotline
from hotline.bss.port import Actor


async def get_hotline(request: Request) -> Hotline:  # async: no thread hop per request
    return request.app.state.hotline


async def check_token(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    token = request.app.state.hotline.settings.api_token
    if token and authorization != f"Bearer {token}":
        raise HTTPException(401, headers={"WWW-Authenticate": "Bearer"})


async def get_actor(x_hotline_channel: Annotated[str, Header(max_length=16)] = "api",
              x_hotline_actor: Annotated[str, Header(max_length=64)] = "anonymous") -> Actor:
    """Who is acting, for the audit log: the channel and the agent or subscriber behind it."""
    return Actor(x_hotline_channel, x_hotline_actor)


async def idempotency_key(idempotency_key: Annotated[str | None, Header(max_length=128)] = None) -> str:
    """The client's key makes a retry safe; without one each request is new."""
    return idempotency_key or f"auto-{uuid.uuid4()}"


HotlineDep = Annotated[Hotline, Depends(get_hotline)]
ActorDep = Annotated[Actor, Depends(get_actor)]
KeyDep = Annotated[str, Depends(idempotency_key)]
