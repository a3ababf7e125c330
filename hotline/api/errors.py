"""Every error answers with a stable code and both a zh-CN and an English message."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hotline.domain.errors import DomainError

_HTTP_MESSAGES = {
    401: ("请先登录或提供有效的访问令牌。", "Authentication required: provide a valid token."),
    404: ("请求的资源不存在。", "The requested resource does not exist."),
    405: ("不支持该请求方法。", "This method is not allowed here."),
}


def error_body(code: str, zh: str, en: str, detail: object = None) -> dict:
    return {"error": {"code": code, "message_zh": zh, "message_en": en, "detail": detail}}


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message_zh, exc.message_en, exc.detail),
                            status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            body = error_body("malformed_json", "请求内容不是有效的JSON格式。", "The request body is not valid JSON.")
            return JSONResponse(body, status_code=400)
        fields = [".".join(str(x) for x in e["loc"] if x != "body") for e in errors]
        detail = [{"field": f, "problem": e["msg"]} for f, e in zip(fields, errors)]
        body = error_body("invalid_input", f"请求参数有误：{'、'.join(fields)}。",
                          f"Invalid request field(s): {', '.join(fields)}.", detail)
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        zh, en = _HTTP_MESSAGES.get(exc.status_code, ("请求无法处理。", str(exc.detail)))
        return JSONResponse(error_body(f"http_{exc.status_code}", zh, en), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
