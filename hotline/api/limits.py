"""Size limits on what a client can make the server hold: HTTP request bodies and WebSocket frames.

Plain ASGI middleware, outside every route, so that no handler ever parses (or buffers) more than the
limit: a body declared too large is refused before it is read, one that grows too large while streaming
(chunked, or a lying Content-Length) is refused as soon as it passes the limit. Either way the client gets
a polite 413 and nothing runs. A WebSocket frame beyond its limit closes the socket with 1009 (message too
big). The ASGI server has its own, larger frame limit (uvicorn's ``ws_max_size``); this one is the app's.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hotline.api.errors import error_body

MAX_BODY_BYTES = 64 * 1024          # the largest request of the API is a few hundred bytes
MAX_FRAME_BYTES = 16 * 1024         # a chat message is at most 1,000 characters
WS_UNSUPPORTED_DATA = 1003
WS_MESSAGE_TOO_BIG = 1009


class BodyTooLarge(Exception):
    """Raised from ``receive`` once a request body passes the limit; answered 413 by the middleware."""


class SizeLimits:
    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES, max_frame: int = MAX_FRAME_BYTES) -> None:
        self.app = app
        self.max_body = max_body
        self.max_frame = max_frame

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    # ------------------------------------------------------------------ HTTP bodies
    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            await self._refuse(send)
            return
        received = 0
        exceeded = started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    exceeded = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:   # the app answered a body it could not read (the framework's 400): the answer is 413
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._refuse(send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        kb = self.max_body // 1024
        body = json.dumps(error_body("payload_too_large", f"请求内容过大（不能超过{kb}KB），请精简后重试。",
                                     f"The request body is too large (at most {kb} KB).")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    # ------------------------------------------------------------------ WebSocket frames
    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        closed = False

        async def limited_receive() -> Message:
            nonlocal closed
            message = await receive()
            if message["type"] == "websocket.receive" and _frame_size(message) > self.max_frame:
                if not closed:
                    closed = True
                    await send({"type": "websocket.close", "code": WS_MESSAGE_TOO_BIG})
                return {"type": "websocket.disconnect", "code": WS_MESSAGE_TOO_BIG}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal closed
            if closed:
                return   # the socket is closed already: whatever the app still says goes nowhere
            if message["type"] == "websocket.close":
                closed = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _frame_size(message: Message) -> int:
    text = message.get("text")
    if text is not None:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(message.get("bytes") or b"")


class UnsupportedFrame(Exception):
    """A WebSocket frame that is not what the socket speaks (binary, or text that is not JSON)."""


def json_frame(message: Message) -> Any:
    """The JSON value of a received text frame; ``UnsupportedFrame`` for a binary or non-JSON one."""
    text = message.get("text")
    if text is None:
        raise UnsupportedFrame("binary frame")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as err:   # RecursionError: nesting deeper than the parser goes
        raise UnsupportedFrame("not JSON") from err


async def receive_json(ws: WebSocket, *, lock: asyncio.Lock | None = None) -> Any:
    """The next frame's JSON value. A binary or non-JSON frame closes the socket with 1003 (unsupported
    data) instead of raising a parse error into the log; either way the caller sees ``WebSocketDisconnect``.
    ``lock`` is the one the caller's senders hold, so the close never interleaves with a send."""
    message = await _next(ws)
    try:
        return json_frame(message)
    except UnsupportedFrame:
        await _close_unsupported(ws, lock)
        raise WebSocketDisconnect(WS_UNSUPPORTED_DATA) from None


async def receive_text(ws: WebSocket, *, plain: frozenset[str] = frozenset(),
                       lock: asyncio.Lock | None = None) -> str:
    """The next text frame, which must be JSON or one of the ``plain`` words (a page's keep-alive
    ``ping``); anything else closes the socket with 1003, as ``receive_json`` does."""
    message = await _next(ws)
    text = message.get("text")
    if text is not None and text in plain:
        return str(text)
    try:
        json_frame(message)
    except UnsupportedFrame:
        await _close_unsupported(ws, lock)
        raise WebSocketDisconnect(WS_UNSUPPORTED_DATA) from None
    return str(text)


async def _next(ws: WebSocket) -> Message:
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code") or 1000, message.get("reason"))
    return message


async def _close_unsupported(ws: WebSocket, lock: asyncio.Lock | None) -> None:
    if lock is None:
        await ws.close(code=WS_UNSUPPORTED_DATA)
        return
    async with lock:
        await ws.close(code=WS_UNSUPPORTED_DATA)


def install(app: FastAPI) -> None:
    """Put the limits around the whole app (every route, page and socket)."""
    app.add_middleware(SizeLimits)


class RateLimit:
    """At most ``limit`` events per ``window`` seconds per key (a client address), in this process.

    For the few open endpoints an outsider can drive (the web chat). Fixed windows, and at most
    ``max_keys`` keys held (the oldest window dropped first), so a flood of addresses cannot grow it.
    Several workers each hold their own count: the bound per address is then ``limit`` × workers.
    """

    def __init__(self, limit: int, window: float = 60.0, *, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._seen: dict[str, tuple[float, int]] = {}

    def allow(self, key: str, now: float) -> bool:
        start, count = self._seen.get(key, (now, 0))
        if now - start >= self.window:
            start, count = now, 0
        if count >= self.limit:
            return False
        self._seen.pop(key, None)           # re-inserted last: the dict stays in order of last use
        self._seen[key] = (start, count + 1)
        while len(self._seen) > self.max_keys:
            self._seen.pop(next(iter(self._seen)))
        return True
