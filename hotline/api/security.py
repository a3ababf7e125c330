"""Browser-facing protections, as one ASGI middleware: security headers and an Origin check.

Why: the desk and the wallboard authenticate with a cookie, which a browser attaches to requests another
site makes it send. SameSite=Strict stops most of that, but not a sibling sub-domain (same *site*), an
older browser, or a WebSocket handshake; so a state-changing request or a socket that carries the desk
cookie (or targets the desk or wallboard API) from a foreign ``Origin`` is refused (403, or the handshake
refused). Requests without ``Origin`` (curl, API clients with a bearer token, server-to-server callbacks)
are not browser requests made by another site and pass, unless ``Sec-Fetch-Site`` says cross-site.

Every HTTP response gets a Content-Security-Policy (pages load only their own scripts and styles: none is
inline, and the pages set text with ``textContent``), ``frame-ancestors 'none'`` (no click-jacking),
``X-Content-Type-Options: nosniff`` and a ``Referrer-Policy``. The interactive API docs, which load
Swagger's assets, get a policy of their own.

Install with ``install(app)``; pure ASGI, so streaming responses and WebSockets pass through untouched.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI

from hotline.desk.auth import COOKIE

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
COOKIE_AREAS = ("/api/v1/desk", "/api/v1/wallboard")   # routes whose callers sign in with the desk cookie
DOCS = ("/docs", "/redoc")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'{sockets}; media-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
           (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin"))
REFUSED = {"error": {"code": "cross_origin",
                     "message_zh": "请求来自其他网站，已拒绝。请直接在本系统页面中操作。",
                     "message_en": "This request came from another site and was refused; use this site's own pages.",
                     "detail": None}}
DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


class SecurityMiddleware:
    """Headers on every HTTP response; foreign origins refused for cookie-authenticated requests and sockets."""

    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = {_origin_key(o) for o in allowed_origins if o}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            if self._cross_site(scope) and _cookie_bound(scope):
                await send({"type": "websocket.close", "code": 1008, "reason": "cross-origin socket refused"})
                return
            await self.app(scope, receive, send)
            return
        if kind != "http":
            await self.app(scope, receive, send)
            return
        extra = self._headers(scope)
        if scope["method"] not in SAFE_METHODS and _cookie_bound(scope) and self._cross_site(scope):
            body = json.dumps(REFUSED, ensure_ascii=False).encode()
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode()), *extra]})
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *[(n, v) for n, v in extra if n not in present]]}
            await send(message)
        await self.app(scope, receive, send_with_headers)

    def _headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        path = scope.get("path", "")
        if path.startswith(DOCS):
            csp = DOCS_CSP
        else:
            host = _header(scope, b"host")
            # 'self' covers same-host sockets in current browsers; the explicit ws(s) source covers older ones.
            sockets = f" ws://{host} wss://{host}" if host and _plain_host(host) else ""
            csp = CSP.format(sockets=sockets)
        return [(b"content-security-policy", csp.encode()), *HEADERS]

    def _cross_site(self, scope: Scope) -> bool:
        """Whether a browser says the request comes from another origin than this server's."""
        origin = _header(scope, b"origin")
        if not origin:
            return _header(scope, b"sec-fetch-site") == "cross-site"
        if origin == "null":
            return True
        key = _origin_key(origin)
        if key in self.allowed:
            return False
        host = _header(scope, b"host")
        if not host:
            return True
        scheme = urlsplit(origin).scheme.lower()
        return key != _origin_key(f"{scheme}://{host}")


def install(app: FastAPI, allowed_origins: Iterable[str] = ()) -> None:
    """Add the middleware to ``app`` (``allowed_origins``: other origins trusted to call, e.g. a portal)."""
    app.add_middleware(SecurityMiddleware, allowed_origins=tuple(allowed_origins))


def _cookie_bound(scope: Scope) -> bool:
    """Requests a browser could make on an agent's behalf: they carry the desk cookie or target its API."""
    path = scope.get("path", "")
    if path.startswith(COOKIE_AREAS):
        return True
    cookies = _header(scope, b"cookie")
    return f"{COOKIE}=" in cookies


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return ""


def _origin_key(origin: str) -> str:
    """scheme://host:port with the default port made explicit, lower-cased: comparable origins."""
    parts = urlsplit(origin.strip().lower())
    scheme = parts.scheme
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = str(parts.port) if parts.port is not None else DEFAULT_PORTS.get(scheme, "")
    except ValueError:
        return f"invalid:{origin}"
    return f"{scheme}://{host}:{port}"


def _plain_host(host: str) -> bool:
    """A Host header that is safe to echo into a header value (no spaces, quotes or semicolons)."""
    return all(c.isalnum() or c in ".-:[]" for c in host)
