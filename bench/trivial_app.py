"""The yardstick of the ``sms`` benchmark: the most trivial endpoint of the same framework.

``uvicorn bench.trivial_app:app`` serves ``GET /ping`` → ``{"ok": true}`` (and ``/healthz`` for the
readiness probe) with FastAPI, on the same uvicorn, event loop and HTTP parser as hotline, so that
``sms`` can report hotline's SMS rate as a share of what the framework does with no work at all.
Nothing from hotline is imported.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI(title="trivial", openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
