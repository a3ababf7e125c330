"""The operator's products (public) and the billing cycle (``billing`` scope)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from hotline.api.deps import Biller, HotlineDep, actor_of
from hotline.domain.products import ProductKind

router = APIRouter(tags=["products"])


@router.get("/products", summary="Plans, packs, value-added services and features")
async def list_products(hl: HotlineDep, kind: ProductKind | None = None) -> list[dict[str, Any]]:
    return [p.model_dump(mode="json") for p in hl.bss.products if kind is None or p.kind is kind]


@router.get("/products/{code}", summary="One product")
async def get_product(code: str, hl: HotlineDep) -> dict[str, Any]:
    return hl.bss.products.get(code).model_dump(mode="json")


class RolloverIn(BaseModel):
    cycle: int | None = Field(None, ge=200001, le=209912,
                              description="Target cycle YYYYMM (the current one or earlier); default: now")


@router.post("/billing/rollover", tags=["billing"], status_code=202,
             summary="Close ended cycles up to the target (月结), in the background")
async def rollover(body: RolloverIn, hl: HotlineDep, cred: Biller, response: Response) -> dict[str, Any]:
    """Starts a job and answers at once with its id; ``GET /billing/rollover/{job_id}`` shows its progress.
    Only cycles that have ended can be closed (a later target is refused), one job at a time."""
    job = await hl.rollovers.start(body.cycle, requested_by=actor_of(cred).id)
    response.headers["Location"] = f"/api/v1/billing/rollover/{job.id}"
    return job.as_dict()


@router.get("/billing/rollover/{job_id}", tags=["billing"], summary="A rollover job's progress")
async def rollover_progress(job_id: Annotated[str, Path(max_length=32)], hl: HotlineDep,
                            cred: Biller) -> dict[str, Any]:
    return hl.rollovers.get(job_id).as_dict()
