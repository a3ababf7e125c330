"""The supervisor wallboard's API: live figures and interval reports (JSON or CSV). Supervisors and admins.

The page (/wallboard/) polls ``GET /api/v1/wallboard/live`` every 2 seconds with the desk session cookie.
The records part (today so far, last 30 minutes) is cached for ``LIVE_CACHE_S`` per process, so any
number of open wallboards costs one aggregation per period; the router part is read on every call.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from hotline.api.deps import HotlineDep
from hotline.desk.accounts import Agent
from hotline.desk.auth import require_role
from hotline.domain.errors import InvalidInput
from hotline.routing.reports import (
    INTERVALS,
    Reports,
    business_day,
    csv_filename,
    intervals_csv,
    live,
    load_queue_infos,
    queue_infos,
)

router = APIRouter(prefix="/wallboard", tags=["wallboard"])

SupervisorDep = Annotated[Agent, Depends(require_role("supervisor"))]   # supervisors and admins
LIVE_CACHE_S = 2.0


def _router(hl: Any) -> Any | None:
    """The routing engine of this process, when the application runs one."""
    return getattr(hl, "router", None)


def _now(hl: Any) -> float:
    r = _router(hl)
    if r is not None and callable(getattr(r, "clock", None)):
        return float(r.clock())
    return hl.services.clock.now().timestamp()


def _reports(request: Request, hl: Any) -> Reports:
    state = request.app.state
    reports = getattr(state, "wallboard_reports", None)
    if reports is None or reports.db is not hl.db:
        r = _router(hl)
        queues = queue_infos(r.config) if r is not None else load_queue_infos()
        reports = state.wallboard_reports = Reports(hl.db, hl.settings.timezone, queues)
        state.wallboard_cache = (None, 0.0, None)
    return reports


@router.get("/live", summary="Live wallboard figures, per queue and overall, each with its formula")
async def live_figures(request: Request, hl: HotlineDep, _: SupervisorDep) -> dict[str, Any]:
    reports = _reports(request, hl)
    now = _now(hl)
    key, at, windows = request.app.state.wallboard_cache
    wall = time.monotonic()
    if windows is None or key != business_day(now, reports.tz) or wall - at > LIVE_CACHE_S or now < windows["_now"]:
        windows = await reports.windows_async(now)
        windows["_now"] = now
        request.app.state.wallboard_cache = (business_day(now, reports.tz), wall, windows)
    return await asyncio.to_thread(live, _router(hl), windows, reports.queues, now, reports.tz)


@router.get("/intervals", summary="Interval report (15/30/60 min) per queue; format=csv for a download")
async def intervals(request: Request, hl: HotlineDep, _: SupervisorDep,
                    date: Annotated[dt.date | None, Query(description="First business day (default today)")] = None,
                    to: Annotated[dt.date | None, Query(description="Last business day (default: date)")] = None,
                    minutes: Annotated[int, Query(description="15, 30 or 60")] = 30,
                    queue: Annotated[str | None, Query(max_length=48)] = None,
                    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json") -> Any:
    reports = _reports(request, hl)
    now = _now(hl)
    first = date or business_day(now, reports.tz)
    last = to or first
    if minutes not in INTERVALS:
        raise InvalidInput("报表间隔只能是15、30或60分钟。", "The interval must be 15, 30 or 60 minutes.",
                           minutes=minutes)
    if last < first or (last - first).days > 31:
        raise InvalidInput("日期范围无效（结束不能早于开始，最长31天）。",
                           "Invalid date range (the end must not precede the start; 31 days at most).")
    report = await reports.intervals_async(first, last, minutes, now, queue=queue)
    if format == "csv":
        return Response(intervals_csv(report), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{csv_filename(report)}"'})
    return report
