"""The operator's products and the billing cycle."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hotline.api.deps import HotlineDep
from hotline.domain.products import ProductKind

router = APIRouter(tags=["products"])


@router.get("/products", summary="Plans, packs, value-added services and features")
async def list_products(hl: HotlineDep, kind: ProductKind | None = None) -> list[dict[str, Any]]:
    return [p.model_dump(mode="json") for p in hl.bss.products if kind is None or p.kind is kind]


@router.get("/products/{code}", summary="One product")
async def get_product(code: str, hl: HotlineDep) -> dict[str, Any]:
    return hl.bss.products.get(code).model_dump(mode="json")


class RolloverIn(BaseModel):
    cycle: int | None = Field(None, ge=200001, le=209912, description="Target cycle YYYYMM; default: now")


@router.post("/billing/rollover", tags=["billing"], summary="Close cycles up to the target (月结)")
async def rollover(body: RolloverIn, hl: HotlineDep) -> dict[str, int]:
    return {"rolled": await hl.bss.rollover(body.cycle)}
