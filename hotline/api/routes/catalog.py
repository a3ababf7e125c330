"""The business catalogue, as every channel sees it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from hotline.api.deps import HotlineDep
from hotline.domain.errors import NotFound

router = APIRouter(tags=["catalogue"])


@router.get("/businesses", summary="Every business: code, names, category, SMS commands, auth, confirmation")
async def list_businesses(hl: HotlineDep, category: str | None = None) -> list[dict[str, Any]]:
    return [b.summary() for b in hl.catalog if category is None or b.category == category]


@router.get("/businesses/{code}", summary="One business")
async def get_business(code: str, hl: HotlineDep) -> dict[str, Any]:
    if code not in hl.catalog:
        raise NotFound(f"没有业务“{code}”。", f"There is no business '{code}'.", business=code)
    return hl.catalog.get(code).summary()
