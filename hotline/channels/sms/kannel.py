"""Kannel adapter for the SMS business hall: smsbox's get-url in, sendsms out.

**Input side.** Kannel's smsbox calls ``GET /api/v1/sms/kannel`` once per message a subscriber
sends, from an ``sms-service`` whose ``get-url`` ends in :data:`GET_URL_QUERY`
(``from=%p&to=%P&text=%b&coding=%c&charset=%C&id=%I``). The text travels as ``%b``, the message
bytes exactly as received, with ``%c`` (0 GSM/7-bit, 1 8-bit, 2 UCS-2) and ``%C`` (their
charset) telling how to decode them. ``%a`` is not usable for Chinese: smsbox splits the raw bytes
into words at whitespace *bytes*, and UCS-2 text is full of them (上 is ``4E 0A``; a line break is
``00 0A``), so characters are cut in half and spaces collapse.

The handler asks the engine (``hl.sms.handle``) for the replies, answers ``202`` with an empty
body, and only then delivers the replies in the background. Answering after the engine has handled
the message (milliseconds) and before delivery keeps Kannel's guarantee: a message hotline failed to
take (``5xx``, overload ``503``, a crash) is retried by smsbox (``http-request-retry``), and the
message id (``%I``) makes such a retry harmless. The service never replies through smsbox's HTTP
answer (``max-messages = 0``, ``omit-empty = true``), because one message may need several replies
from different ports (0000's come from 10086977).

**Output side.** :class:`SendSmsClient` posts each reply to Kannel's ``/cgi-bin/sendsms`` (a
``text/plain; charset=UTF-8`` body with ``X-Kannel-*`` headers: 1.4.5 rejects form-encoded POSTs),
``X-Kannel-Coding: 2`` for UCS-2 and ``0`` for GSM-7. A reply of several parts is sent part by part,
each with a concatenation header (``05 00 03 ref total seq``) as ``X-Kannel-UDH``, so the message is
cut where hotline cut it (at line ends), not where Kannel would. The parts of a reply and the
replies to one message are sent in order; a transient failure (connection, timeout, ``5xx``,
``429``) is retried a bounded number of times with backoff, and a failure that remains is logged.
(A timeout after smsbox took a part means that part goes twice: a duplicate, never a loss.)
"""

from __future__ import annotations

import asyncio
import codecs
import hmac
import ipaddress
import logging
import random
import re
import urllib.parse
from collections import OrderedDict
from contextlib import asynccontextmanager
from typing import Protocol

import httpx
from fastapi import APIRouter, HTTPException, Request, Response

from hotline.channels.sms.message import InboundSms, OutboundSms
from hotline.domain.msisdn import mask_msisdn

log = logging.getLogger(__name__)

GET_URL_QUERY = "from=%p&to=%P&text=%b&coding=%c&charset=%C&id=%I"
"""The query smsbox's ``get-url`` must carry, in Kannel's escape codes (see the module doc)."""

CODING_GSM7, CODING_8BIT, CODING_UCS2 = 0, 1, 2
SEEN_IDS = 50_000  # message ids remembered to drop Kannel's retries of messages already handled


def get_url(base_url: str, token: str = "") -> str:
    """The ``get-url`` for smsbox's ``sms-service``: hotline's endpoint with the escape codes."""
    url = f"{base_url.rstrip('/')}/api/v1/sms/kannel?{GET_URL_QUERY}"
    return f"{url}&token={urllib.parse.quote(token, safe='')}" if token else url


# ---------------------------------------------------------------------------------------------
# Input side


class InvalidInbound(ValueError):
    """A get-url request that does not carry a message (a mis-configured sms-service)."""


def _known_charset(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def decode_text(raw: bytes, coding: int | None, charset: str = "") -> str:
    """The text of a message from its bytes (``%b``), coding (``%c``) and charset (``%C``).

    UCS-2 is UTF-16BE (which also covers characters outside the BMP sent as surrogate pairs). Other
    codings are in ``charset`` when Kannel names a real one; smsbox says ``UTF-8`` for 7-bit text
    and, with ``mo-recode = true``, for UCS-2 text it has already recoded. 8-bit data and unnamed
    charsets are taken as UTF-8 when they are valid UTF-8, else as Latin-1, so nothing is lost.
    """
    if coding == CODING_UCS2:
        return raw.decode("utf-16-be", errors="replace")
    name = charset.strip().lower()
    if name and name not in ("8-bit", "binary") and _known_charset(name):
        return raw.decode(name, errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_inbound(query_string: bytes) -> InboundSms:
    """The message in smsbox's get-url query (see :data:`GET_URL_QUERY`).

    The query is split by hand, byte for byte: a framework's query parser decodes the escapes as
    UTF-8, which destroys UCS-2 text before its coding is known.
    """
    fields: dict[str, bytes] = {}
    for key, value in urllib.parse.parse_qsl(query_string.decode("latin-1"), keep_blank_values=True,
                                             encoding="latin-1"):
        fields.setdefault(key, value.encode("latin-1"))
    sender = fields.get("from", b"").decode("utf-8", errors="replace").strip()
    if not sender:
        raise InvalidInbound("the get-url has no sender (from=%p)")
    if "text" not in fields:
        raise InvalidInbound("the get-url has no text (text=%b)")
    raw_coding = fields.get("coding", b"").strip()
    coding = int(raw_coding) if raw_coding.lstrip(b"-").isdigit() else None
    text = decode_text(fields["text"], coding, fields.get("charset", b"").decode("ascii", errors="ignore"))
    return InboundSms(msisdn=sender, to=fields.get("to", b"").decode("utf-8", errors="replace").strip(),
                      text=text, message_id=fields.get("id", b"").decode("ascii", errors="ignore").strip())


# ---------------------------------------------------------------------------------------------
# Output side


class SendSmsError(Exception):
    """Kannel refused a message, or stayed unreachable through every retry."""


def concat_udh(ref: int, total: int, seq: int) -> bytes:
    """The user data header of part ``seq`` (1-based) of ``total``: IEI 00, 8-bit reference."""
    if not (0 <= ref <= 255 and 1 <= seq <= total <= 255):
        raise ValueError(f"bad concatenation header: ref={ref} total={total} seq={seq}")
    return bytes((5, 0, 3, ref, total, seq))


def _transient(status: int) -> bool:
    return status >= 500 or status == 429


class SendSmsClient:
    """Kannel's sendsms interface: one HTTP request per message part, retried when it may help."""

    def __init__(self, url: str, username: str, password: str, *, retries: int = 3, backoff: float = 0.2,
                 timeout: float = 10.0, connections: int = 32, client: httpx.AsyncClient | None = None) -> None:
        self.url = url
        self.username = username
        self.password = password
        self.retries = retries
        self.backoff = backoff
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, pool=None),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections))
        self._ref = random.randrange(256)

    def next_ref(self) -> int:
        """A concatenation reference; consecutive long replies never share one."""
        self._ref = (self._ref + 1) % 256
        return self._ref

    async def send(self, sms: OutboundSms) -> None:
        """Send ``sms`` as hotline segmented it, parts in order; raise :class:`SendSmsError`."""
        coding = CODING_UCS2 if sms.encoding == "ucs2" else CODING_GSM7
        parts = sms.parts or [sms.text]
        ref = self.next_ref() if len(parts) > 1 else None
        for seq, part in enumerate(parts, start=1):
            udh = concat_udh(ref, len(parts), seq) if ref is not None else None
            await self._post(sms.sender, sms.to, part, coding, udh)

    async def _post(self, sender: str, to: str, text: str, coding: int, udh: bytes | None) -> None:
        headers = {"Content-Type": "text/plain; charset=UTF-8", "X-Kannel-Username": self.username,
                   "X-Kannel-Password": self.password, "X-Kannel-From": sender, "X-Kannel-To": to,
                   "X-Kannel-Coding": str(coding)}
        if udh is not None:
            headers["X-Kannel-UDH"] = urllib.parse.quote_from_bytes(udh, safe="")
        body = text.encode("utf-8")
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(min(self.backoff * 2 ** (attempt - 1), 5.0))
            try:
                r = await self._client.post(self.url, content=body, headers=headers)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if r.is_success:
                return
            problem = f"HTTP {r.status_code} {r.text.strip()[:200]}"
            if not _transient(r.status_code):
                break
        raise SendSmsError(f"sendsms from {sender} to {mask_msisdn(to)} failed: {problem}")

    async def aclose(self) -> None:
        await self._client.aclose()


# ---------------------------------------------------------------------------------------------
# The channel: the engine between the two sides, with bounds


class Hall(Protocol):
    async def handle(self, msg: InboundSms) -> list[OutboundSms]: ...


class Overloaded(Exception):
    """More messages are waiting for the engine than the channel holds; Kannel should retry later."""


class KannelChannel:
    """Hands inbound messages to the engine and delivers its replies, both concurrently but bounded.

    At most ``concurrency`` messages are with the engine and at most ``concurrency`` messages' replies
    are being delivered at once; beyond ``max_pending`` waiting messages :meth:`receive` refuses
    (``503``: Kannel keeps the message and retries). Ids of handled messages are remembered so that a
    retry of a message already taken is acknowledged without handling it twice.
    """

    def __init__(self, hall: Hall, sender: SendSmsClient, *, concurrency: int = 32, max_pending: int = 1000) -> None:
        self.hall = hall
        self.sender = sender
        self.max_pending = max_pending
        self._engine_slots = asyncio.Semaphore(concurrency)
        self._delivery_slots = asyncio.Semaphore(concurrency)
        self._waiting = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._deliveries: set[asyncio.Task] = set()

    @classmethod
    def from_settings(cls, hl) -> KannelChannel:
        s = hl.settings
        sender = SendSmsClient(s.kannel_sendsms_url, s.kannel_username, s.kannel_password,
                               retries=s.kannel_retries, connections=s.kannel_concurrency)
        return cls(hl.sms, sender, concurrency=s.kannel_concurrency, max_pending=s.kannel_max_pending)

    async def receive(self, msg: InboundSms) -> None:
        """Let the engine handle ``msg`` and start delivering its replies; raise :class:`Overloaded`."""
        key = msg.message_id
        if key and key in self._seen:
            log.info("kannel: message %s from %s already taken, retry ignored", key, mask_msisdn(msg.msisdn))
            return
        if self._waiting >= self.max_pending:
            raise Overloaded
        if key:
            self._remember(key)
        self._waiting += 1
        try:
            async with self._engine_slots:
                replies = await self.hall.handle(msg)
        except BaseException:
            if key:
                self._seen.pop(key, None)  # not taken: Kannel's retry must be handled
            raise
        finally:
            self._waiting -= 1
        if replies:
            task = asyncio.create_task(self._deliver(msg, replies))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)

    def _remember(self, key: str) -> None:
        self._seen[key] = None
        if len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)

    async def _deliver(self, msg: InboundSms, replies: list[OutboundSms]) -> None:
        async with self._delivery_slots:
            for reply in replies:
                try:
                    await self.sender.send(reply)
                except SendSmsError as exc:
                    log.error("kannel: reply to message %s not delivered: %s", msg.message_id or "-", exc)
                except Exception:
                    log.exception("kannel: reply to message %s not delivered", msg.message_id or "-")

    @property
    def pending_deliveries(self) -> int:
        return len(self._deliveries)

    async def aclose(self, drain_timeout: float = 10.0) -> None:
        """Let deliveries under way finish (within ``drain_timeout``), then close the client."""
        if self._deliveries:
            done, pending = await asyncio.wait(set(self._deliveries), timeout=drain_timeout)
            for task in pending:
                task.cancel()
            if pending:
                log.error("kannel: %d replies' deliveries cancelled at shutdown", len(pending))
                await asyncio.wait(pending, timeout=1.0)
        await self.sender.aclose()


# ---------------------------------------------------------------------------------------------
# The HTTP endpoint


@asynccontextmanager
async def _lifespan(app):
    yield
    channel = getattr(app.state, "kannel", None)
    if channel is not None:
        app.state.kannel = None
        await channel.aclose()


router = APIRouter(tags=["sms"], lifespan=_lifespan)


def _channel(request: Request) -> KannelChannel:
    """The container's channel (a test may put its own on ``app.state.kannel``)."""
    channel = getattr(request.app.state, "kannel", None)
    return channel if channel is not None else request.app.state.hotline.kannel


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RedactToken(logging.Filter):
    """Masks the gateway's ``token=`` in access-log lines (the get-url carries it in the query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(_TOKEN.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


_TOKEN = re.compile(r"([?&]token=)[^&\s]*")


def redact_access_log() -> None:
    """Keep the gateway's token out of the server's access log (once per process)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactToken) for f in access.filters):
        access.addFilter(RedactToken())


@router.get("/sms/kannel", status_code=202, response_class=Response,
            summary="Kannel smsbox get-url: one inbound SMS",
            responses={202: {"description": "Taken; replies follow through sendsms"}})
async def kannel_inbound(request: Request) -> Response:
    """Kannel's ``sms-service`` calls this for each message; see ``deploy/kannel/`` for the config.

    Query: ``from=%p&to=%P&text=%b&coding=%c&charset=%C&id=%I&token=<HOTLINE_KANNEL_TOKEN>``: the gateway's own
    credential, never the API's master token. Without one set, only a gateway on this machine (loopback) is
    heard, as in the embedded demo. Answers ``202`` with an empty body.
    """
    settings = request.app.state.hotline.settings
    if not settings.kannel_enabled:
        raise HTTPException(404)
    expected = settings.kannel_token
    if expected:
        if not hmac.compare_digest(request.query_params.get("token", "").encode(), expected.encode()):
            raise HTTPException(401)
    elif not _loopback(request.client.host if request.client else ""):
        raise HTTPException(401)
    try:
        msg = parse_inbound(request.scope.get("query_string", b""))
    except InvalidInbound as exc:
        log.error("kannel: %s", exc)
        raise HTTPException(400, str(exc)) from None
    try:
        await _channel(request).receive(msg)
    except Overloaded:
        log.warning("kannel: overloaded, message from %s refused for a retry", mask_msisdn(msg.msisdn))
        return Response(status_code=503, headers={"Retry-After": "5"}, media_type="text/plain")
    except Exception:
        log.exception("kannel: message %s from %s not handled", msg.message_id or "-", mask_msisdn(msg.msisdn))
        return Response(status_code=500, media_type="text/plain")
    return Response(status_code=202, media_type="text/plain")
