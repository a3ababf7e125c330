"""The Kannel adapter on its own: decoding smsbox's get-url, the sendsms requests, the endpoint's bounds.

The real gateway is exercised end to end in tests/integration/test_kannel.py.
"""

from __future__ import annotations

import asyncio
import types
import urllib.parse
from typing import Any

import httpx
import pytest

from hotline.api.app import create_app
from hotline.channels.sms.kannel import (
    GET_URL_QUERY,
    InvalidInbound,
    KannelChannel,
    SendSmsClient,
    SendSmsError,
    concat_udh,
    decode_text,
    get_url,
    parse_inbound,
)
from hotline.channels.sms.message import InboundSms, OutboundSms
from hotline.config import Settings


def kannel_encode(data: bytes) -> str:
    """What smsbox's %b gives: octstr_url_encode, spaces as '+'."""
    return urllib.parse.quote_from_bytes(data, safe="").replace("%20", "+")


# --- input side


def test_ucs2_text_is_decoded_from_the_raw_bytes():
    text = "上网 流量\n查询𠀀"  # 上 = 4E 0A and the line break = 00 0A: %a would cut both at the 0A byte
    raw = text.encode("utf-16-be")
    assert decode_text(raw, 2, "UTF-16BE") == text
    query = f"from=13800138000&to=10086&text={kannel_encode(raw)}&coding=2&charset=UTF-16BE&id=abc-1"
    assert parse_inbound(query.encode()) == InboundSms("13800138000", "10086", text, "abc-1")


def test_other_codings_follow_the_charset_or_fall_back_without_loss():
    assert decode_text("余额 YE".encode(), 0, "UTF-8") == "余额 YE"          # 7-bit, or UCS-2 after mo-recode
    assert decode_text("été".encode("latin-1"), 0, "ISO-8859-1") == "été"
    assert decode_text("查询".encode(), 1, "8-BIT") == "查询"                 # 8-bit data that is UTF-8
    assert decode_text(b"\xe9t\xe9", 1, "8-BIT") == "été"                    # …or not: Latin-1
    assert decode_text(b"YE", None, "no-such-charset") == "YE"


def test_a_get_url_without_sender_or_text_is_refused():
    with pytest.raises(InvalidInbound):
        parse_inbound(b"to=10086&text=YE")
    with pytest.raises(InvalidInbound):
        parse_inbound(b"from=13800138000&to=10086")


def test_the_get_url_carries_the_escape_codes_and_the_token():
    assert GET_URL_QUERY == "from=%p&to=%P&text=%b&coding=%c&charset=%C&id=%I"
    assert get_url("http://10.0.0.5:8086/", "s3cr&t") == \
        "http://10.0.0.5:8086/api/v1/sms/kannel?from=%p&to=%P&text=%b&coding=%c&charset=%C&id=%I&token=s3cr%26t"


# --- output side


class SendSms:
    """A stand-in for Kannel's sendsms: records requests, answers from a script (then 202)."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else 202
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer, text="0: Accepted for delivery" if answer == 202 else "no")

    def client(self, retries: int = 3) -> SendSmsClient:
        return SendSmsClient("http://kannel/cgi-bin/sendsms", "hotline", "pw", retries=retries, backoff=0.001,
                             client=httpx.AsyncClient(transport=httpx.MockTransport(self)))


def sent(request: httpx.Request) -> tuple:
    h = request.headers
    udh = urllib.parse.unquote_to_bytes(h["X-Kannel-UDH"]) if "X-Kannel-UDH" in h else None
    return h["X-Kannel-From"], h["X-Kannel-To"], h["X-Kannel-Coding"], udh, request.content.decode()


def test_udh_is_the_8bit_concatenation_header():
    assert concat_udh(0xC8, 3, 2) == bytes.fromhex("050003c80302")
    with pytest.raises(ValueError):
        concat_udh(1, 2, 3)


async def test_each_part_of_a_long_reply_goes_with_its_header_in_order():
    kannel = SendSms()
    client = kannel.client()
    reply = OutboundSms("10086", "13800138000", "第一行\n第二行", ["第一行\n", "第二行"], "ucs2")
    await client.send(reply)
    await client.send(OutboundSms("10086977", "13800138000", "YE ok", ["YE ok"], "gsm7"))
    (a, b, c) = [sent(r) for r in kannel.requests]
    ref = a[3][3]
    assert a == ("10086", "13800138000", "2", bytes((5, 0, 3, ref, 2, 1)), "第一行\n")
    assert b == ("10086", "13800138000", "2", bytes((5, 0, 3, ref, 2, 2)), "第二行")
    assert c == ("10086977", "13800138000", "0", None, "YE ok")
    r = kannel.requests[0]
    assert r.method == "POST" and r.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert (r.headers["X-Kannel-Username"], r.headers["X-Kannel-Password"]) == ("hotline", "pw")
    await client.send(reply)
    assert sent(kannel.requests[3])[3][3] == (ref + 1) % 256  # the next long reply has its own reference


async def test_transient_failures_are_retried_a_bounded_number_of_times():
    kannel = SendSms(503, httpx.ConnectError("refused"), 202)
    await kannel.client().send(OutboundSms("10086", "13800138000", "余额", ["余额"], "ucs2"))
    assert len(kannel.requests) == 3

    kannel = SendSms(*[503] * 10)
    with pytest.raises(SendSmsError, match="503"):
        await kannel.client(retries=2).send(OutboundSms("10086", "13800138000", "余额", ["余额"], "ucs2"))
    assert len(kannel.requests) == 3


async def test_a_refusal_is_not_retried():
    kannel = SendSms(403)
    with pytest.raises(SendSmsError, match="403"):
        await kannel.client().send(OutboundSms("10086", "13800138000", "余额", ["余额"], "ucs2"))
    assert len(kannel.requests) == 1


# --- the endpoint


class Hall:
    def __init__(self, *, gate: asyncio.Event | None = None, fail: bool = False) -> None:
        self.seen: list[InboundSms] = []
        self.gate = gate
        self.fail = fail

    async def handle(self, msg: InboundSms) -> list[OutboundSms]:
        self.seen.append(msg)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("engine down")
        return [OutboundSms.build("10086977", msg.msisdn, f"回复{n}：{msg.text}", "") for n in (1, 2)]


def app_with(hall: Hall, kannel: SendSms, **settings):
    values: dict[str, Any] = dict(kannel_enabled=True, kannel_token="tok") | settings
    hl = types.SimpleNamespace(settings=Settings(**values), sms=hall)
    app = create_app(hl)  # type: ignore[arg-type]
    app.state.kannel = KannelChannel(hall, kannel.client(), concurrency=4, max_pending=1)
    return app


def inbound_url(text: str, msg_id: str = "id-1", token: str = "tok") -> str:
    raw = kannel_encode(text.encode("utf-16-be"))
    return (f"/api/v1/sms/kannel?from=13800138000&to=10086&text={raw}&coding=2&charset=UTF-16BE"
            f"&id={msg_id}&token={token}")


async def call(app, *urls):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://hotline") as c:
        return await asyncio.gather(*(c.get(u) for u in urls))


async def test_a_message_is_taken_with_an_empty_202_and_its_replies_follow_in_order():
    hall, kannel = Hall(), SendSms()
    app = app_with(hall, kannel)
    (r,) = await call(app, inbound_url("查 余额"))
    assert (r.status_code, r.content) == (202, b"")
    assert hall.seen == [InboundSms("13800138000", "10086", "查 余额", "id-1")]
    await app.state.kannel.aclose()
    assert [sent(q)[4] for q in kannel.requests] == ["回复1：查 余额", "回复2：查 余额"]
    assert {sent(q)[0] for q in kannel.requests} == {"10086977"}


async def test_kannel_retrying_a_message_already_taken_changes_nothing():
    hall, kannel = Hall(), SendSms()
    app = app_with(hall, kannel)
    first, again = await call(app, inbound_url("YE"), inbound_url("YE"))
    assert (first.status_code, again.status_code) == (202, 202)
    await app.state.kannel.aclose()
    assert len(hall.seen) == 1 and len(kannel.requests) == 2


async def test_disabled_or_wrong_token_or_malformed():
    hall, kannel = Hall(), SendSms()
    (r,) = await call(app_with(hall, kannel, kannel_enabled=False), inbound_url("YE"))
    assert r.status_code == 404
    (r,) = await call(app_with(hall, kannel), inbound_url("YE", token="nope"))
    assert r.status_code == 401
    (r,) = await call(app_with(hall, kannel), "/api/v1/sms/kannel?to=10086&text=YE&token=tok")
    assert r.status_code == 400
    (r,) = await call(app_with(hall, kannel, api_token="api"), inbound_url("YE", token="api"))
    assert r.status_code == 401                 # the API's master token is not the gateway's credential
    open_app = app_with(hall, kannel, kannel_token="", api_token="api")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(open_app, client=("203.0.113.9", 40000)),
                                 base_url="http://hotline") as c:
        assert (await c.get(inbound_url("YE", token="api"))).status_code == 401   # no token set: loopback only
    (r,) = await call(open_app, inbound_url("YE", token=""))
    assert r.status_code == 202                 # a gateway on this machine, as in the embedded demo
    assert len(hall.seen) == 1


def test_the_gateway_token_is_masked_in_the_access_log():
    import logging

    from hotline.channels.sms.kannel import RedactToken
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/api/v1/sms/kannel?from=1&token=s3cret&id=2", "1.1", 202),
                               None)
    RedactToken().filter(record)
    assert "s3cret" not in record.getMessage() and "token=***" in record.getMessage()


async def test_beyond_the_bound_kannel_is_told_to_retry_later():
    gate = asyncio.Event()
    hall, kannel = Hall(gate=gate), SendSms()
    app = app_with(hall, kannel)  # max_pending=1
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://hotline") as c:
        first = asyncio.create_task(c.get(inbound_url("YE", "id-1")))
        while not hall.seen:
            await asyncio.sleep(0.001)
        second = await c.get(inbound_url("YE", "id-2"))
        assert second.status_code == 503 and second.headers["Retry-After"]
        gate.set()
        assert (await first).status_code == 202
    await app.state.kannel.aclose()


async def test_an_engine_failure_is_a_500_and_the_retry_is_handled():
    hall, kannel = Hall(fail=True), SendSms()
    app = app_with(hall, kannel)
    (r,) = await call(app, inbound_url("YE"))
    assert r.status_code == 500
    hall.fail = False
    (r,) = await call(app, inbound_url("YE"))
    assert r.status_code == 202 and len(hall.seen) == 2
    await app.state.kannel.aclose()
    assert len(kannel.requests) == 2
