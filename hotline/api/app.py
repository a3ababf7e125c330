"""The FastAPI application."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

import hotline
from hotline.api import errors, limits, security
from hotline.api.deps import HotlineDep, check_token
from hotline.api.routes import (
    assistant,
    catalog,
    desk,
    desk_adjustments,
    desk_customer,
    payments,
    products,
    sms,
    subscribers,
    wallboard,
)
from hotline.bootstrap import Hotline, bootstrap
from hotline.channels.sms import kannel
from hotline.config import Settings, load_settings
from hotline.routing.loop import run_routing

UI = Path(__file__).resolve().parent.parent / "ui"   # static pages, no build step
CHAT_PAGE = UI / "chat"             # 在线客服, for customers
DESK_PAGE = UI / "desk"             # the agent desktop
WALLBOARD_PAGE = UI / "wallboard"   # the supervisors' wallboard


def create_app(hl: Hotline | None = None, settings: Settings | None = None) -> FastAPI:
    """An app over ``hl``, or over one wired from ``settings`` at start-up (and closed at shutdown)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        own = hl is None
        app.state.hotline = hl or bootstrap(settings or load_settings())
        routing = asyncio.create_task(run_routing(app.state.hotline), name="routing")
        outbox = asyncio.create_task(app.state.hotline.outbox.run(), name="outbox")   # SMS delivery, purge
        try:
            yield
        finally:
            routing.cancel()
            outbox.cancel()
            with suppress(asyncio.CancelledError):
                await routing
            with suppress(asyncio.CancelledError):
                await outbox
            await app.state.hotline.outbox.aclose()
            if hasattr(app.state.hotline, "aclose"):
                await app.state.hotline.aclose()   # the hub, the Kannel client: what was opened
            if own:
                app.state.hotline.close()

    app = FastAPI(title="hotline", version=hotline.__version__, lifespan=lifespan,
                  description="Omnichannel customer service for mobile operators: the reference back end "
                              "(subscribers, products, balances, usage, bills, orders). Money is in fen.")
    errors.install(app)
    security.install(app)   # security headers; foreign origins refused on cookie-authenticated calls
    limits.install(app)     # request bodies and WebSocket frames bounded (413, close 1009)
    app.state.chat_rate = limits.RateLimit(60, 60.0)   # web-chat messages a minute per client address
    if hl is not None:
        app.state.hotline = hl

    @app.get("/healthz", tags=["health"])
    async def healthz(hl_: HotlineDep) -> dict[str, str]:
        await hl_.db.run(lambda c: c.execute(text("SELECT 1")), write=False)
        return {"status": "ok", "database": hl_.db.url.get_backend_name()}

    guard = [Depends(check_token)]
    app.include_router(subscribers.router, prefix="/api/v1", dependencies=guard)
    app.include_router(products.router, prefix="/api/v1", dependencies=guard)
    app.include_router(catalog.router, prefix="/api/v1", dependencies=guard)
    app.include_router(sms.router, prefix="/api/v1", dependencies=guard)
    app.include_router(assistant.router, prefix="/api/v1", dependencies=guard)
    app.include_router(assistant.public, prefix="/api/v1")
    kannel.redact_access_log()
    app.include_router(kannel.router, prefix="/api/v1")  # its own token: Kannel sends no headers
    # The desk and the wallboard: people signed in with a desk session (cookie or bearer), not the API token.
    app.include_router(desk.router, prefix="/api/v1")
    app.include_router(desk_customer.router, prefix="/api/v1")
    app.include_router(wallboard.router, prefix="/api/v1")
    app.include_router(desk_adjustments.router, prefix="/api/v1")   # agents adjust, supervisors approve
    # Money in: pay links and cards (API key), the provider's signed notification, the demo checkout page.
    app.include_router(payments.router, prefix="/api/v1")
    app.include_router(payments.notify, prefix="/api/v1")
    app.include_router(payments.pay_page)
    # The customers' web chat (GET /chat redirects to /chat/); it talks to /api/v1/assistant/ws.
    app.mount("/chat", StaticFiles(directory=CHAT_PAGE, html=True), name="chat")
    app.mount("/desk", StaticFiles(directory=DESK_PAGE, html=True), name="desk")
    app.mount("/wallboard", StaticFiles(directory=WALLBOARD_PAGE, html=True), name="wallboard")
    return app
