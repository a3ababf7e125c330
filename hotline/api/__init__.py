"""The HTTP API (FastAPI): REST under /api/v1, OpenAPI at /docs, health at /healthz."""
