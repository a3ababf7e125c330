"""The server's routing pass: take hand-offs in, time out offers and wrap-ups, route, record.

Each `hotline` process runs one; with Redis state several processes do, safely: intake is idempotent per
hand-off and every routing decision is one atomic script in Redis. The router's calls are quick and stay
on the event loop (the memory state is not shared with threads); database work goes through the pool.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hotline.bootstrap import Hotline

log = logging.getLogger("hotline.routing")

DECISIONS_PER_PASS = 500   # bounds one pass, so a burst never holds the event loop for long


async def routing_pass(hl: Hotline) -> int:
    """One pass; returns the offers made. Failures are logged, and the next pass tries again."""
    offers = 0
    try:
        await hl.intake.poll()
        hl.router.tick()
        offers = len(hl.router.dispatch(limit=DECISIONS_PER_PASS))
    except Exception:
        log.exception("routing pass failed")
    try:
        await hl.records.flush_async()
    except Exception:
        log.exception("routing records flush failed; the batch is retried")
    return offers


async def run_routing(hl: Hotline) -> None:
    """Passes every ``settings.routing_interval`` seconds until cancelled (at shutdown, with a last flush)."""
    try:
        while True:
            offers = await routing_pass(hl)
            if offers < DECISIONS_PER_PASS:       # more work waiting: go again at once
                await asyncio.sleep(hl.settings.routing_interval)
    finally:
        try:
            await hl.records.flush_async()
        except Exception:
            log.exception("routing records: the last flush failed")
