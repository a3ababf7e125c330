"""Request-scoped dependencies: the wired application, the credential and its actor, the idempotency key.

``/api/v1`` is closed by default: a route that reads personal data or changes anything names the scope
it needs (``Reader``, ``Writer``, ``Biller``, ``Admin``); the request must carry
``Authorization: Bearer <API key>`` with that scope (401 without a valid one, 403 without the scope).
The acting party in the audit log is the credential (``apikey:<id>``), never a request header.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hotline.api.keys import ApiKey
from hotline.bootstrap import Hotline
from hotline.bss.port import Actor
from hotline.domain.errors import DomainError

API_CHANNEL = "api"


class MissingScope(DomainError):
    code = "missing_scope"
    status = 403


async def get_hotline(request: Request) -> Hotline:  # async: no thread hop per request
    return request.app.state.hotline


# The OpenAPI page's "Authorize" button; a missing or malformed header is answered by ``credential``.
bearer = HTTPBearer(auto_error=False, description="An API key (`hotline apikey create`) or HOTLINE_API_TOKEN")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def credential(request: Request, auth: BearerDep) -> ApiKey:
    """The API key (or the master token) presented with the request; 401 without a valid one."""
    cached = getattr(request.state, "api_key", None)
    if cached is not None:
        return cached
    hl: Hotline = request.app.state.hotline
    key = await hl.apikeys.authenticate(auth.credentials.strip() if auth is not None else "")
    if key is None:
        raise HTTPException(401, headers={"WWW-Authenticate": 'Bearer realm="hotline"'})
    request.state.api_key = key
    return key


def need(key: ApiKey, scope: str) -> None:
    """Refuse politely when the key lacks ``scope`` (for checks that depend on the request, e.g. unmask)."""
    if not key.allows(scope):
        raise MissingScope(f"该访问密钥没有“{scope}”权限。", f"This API key lacks the '{scope}' scope.",
                           scope=scope, key=key.prefix)


def scoped(scope: str) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency: the request's credential, which must grant ``scope``."""
    async def dependency(key: Annotated[ApiKey, Depends(credential)]) -> ApiKey:
        need(key, scope)
        return key
    dependency.__name__ = f"scope_{scope}"
    return dependency


async def check_token(request: Request, auth: BearerDep) -> None:
    """Guard for routers without scopes of their own: when ``HOTLINE_API_TOKEN`` is set (a private
    deployment), any valid credential is needed; otherwise they are open (the public catalogue)."""
    if request.app.state.hotline.settings.api_token:
        await credential(request, auth)


def actor_of(key: ApiKey) -> Actor:
    """Who acted, for orders and the audit log: the credential, whatever the request's headers say."""
    return Actor(API_CHANNEL, key.actor_id)


async def get_actor(key: Annotated[ApiKey, Depends(credential)]) -> Actor:
    """The acting party of an authenticated request (the credential; headers are not believed)."""
    return actor_of(key)


async def idempotency_key(idempotency_key: Annotated[str | None, Header(max_length=128)] = None) -> str:
    """The client's key makes a retry safe; without one each request is new."""
    return idempotency_key or f"auto-{uuid.uuid4()}"


HotlineDep = Annotated[Hotline, Depends(get_hotline)]
ActorDep = Annotated[Actor, Depends(get_actor)]
KeyDep = Annotated[str, Depends(idempotency_key)]
Reader = Annotated[ApiKey, Depends(scoped("read"))]
Writer = Annotated[ApiKey, Depends(scoped("write"))]
Biller = Annotated[ApiKey, Depends(scoped("billing"))]
Admin = Annotated[ApiKey, Depends(scoped("admin"))]
