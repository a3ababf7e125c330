"""The SMS business hall behind the real Kannel gateway.

A subscriber's message goes fakesmsc → bearerbox → smsbox → hotline (get-url), and every reply comes
back hotline → smsbox (sendsms) → bearerbox → fakesmsc. What fakesmsc receives is compared with what
the engine answers when it is called in-process on a second database, seeded the same way and read
with the same fixed clock, fed the same messages in the same order: the test holds for whatever the
engine answers, and checks that the gateway path adds, loses, reorders or re-encodes nothing —
sender port, recipient, text, and the parts exactly as hotline cut them (concatenation headers).

Everything runs on loopback on free ports, each wait is bounded, and every process is stopped at the
end. Needs Debian's ``kannel`` and ``kannel-extras`` (fakesmsc); without them the module is skipped
with the reason (a failure under ``HOTLINE_REQUIRE_ALL=1``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from conftest import TEST_KDF_N, need
from hotline.bootstrap import Hotline, bootstrap
from hotline.bss.seed import seed_demo_if_empty
from hotline.channels.sms.kannel import get_url
from hotline.channels.sms.message import InboundSms, OutboundSms
from hotline.config import Settings
from hotline.domain.billing import FixedClock
from hotline.store.sql.tables import subscribers

BEARERBOX = shutil.which("bearerbox") or "/usr/sbin/bearerbox"
SMSBOX = shutil.which("smsbox") or "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
STDBUF = shutil.which("stdbuf") or "/usr/bin/stdbuf"

REPO = Path(__file__).resolve().parents[2]  # the server runs this checkout's code
CLOCK_AT = dt.datetime(2026, 11, 15, 10, 0)
SYNTHETIC = 300          # synthetic subscribers seeded beside the demo ones; the burst comes from them
BURST = 300              # messages sent at once in the burst
SERVICE = "10086"
ZHANG, LI, WANG = "13800138000", "13900139000", "13700137000"
FAKESMSC_LINE_MAX = 255  # fakesmsc reads stdin with fgets into 256 bytes: a longer line is cut

START_TIMEOUT = 60.0
EXCHANGE_TIMEOUT = 30.0
BURST_TIMEOUT = 240.0

# hotline as `hotline serve` runs it (settings from HOTLINE_* variables, backlog 4096), with the fixed
# clock the reference uses.
SERVER = """
import datetime as dt, sys
import uvicorn
from hotline.api.app import create_app
from hotline.bootstrap import bootstrap
from hotline.config import load_settings
from hotline.domain.billing import FixedClock
hl = bootstrap(load_settings(), clock=FixedClock(dt.datetime.fromisoformat(sys.argv[2])))
try:
    uvicorn.run(create_app(hl), host="127.0.0.1", port=int(sys.argv[1]), backlog=4096, log_level="warning")
finally:
    hl.close()
"""


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_until(what: str, check, timeout: float, diagnostics=lambda: "", interval: float = 0.1):
    """Poll ``check()`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s\n{diagnostics()}")
        time.sleep(interval)


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"({path.name}: none)"
    return f"--- {path.name} ---\n" + "\n".join(text[-lines:])


# ---------------------------------------------------------------------------------------------
# What fakesmsc receives


@dataclasses.dataclass
class Mt:
    """One message as fakesmsc received it (the SMSC side of a mobile-terminated message)."""
    sender: str
    to: str
    kind: str           # text | ucs-2 | data | udh
    data: bytes
    udh: bytes | None = None

    def decoded(self, encoding: str) -> str:
        """The text: UTF-16BE for UCS-2 (with a UDH fakesmsc shows only bytes), else Kannel's UTF-8."""
        return self.data.decode("utf-16-be" if encoding == "ucs2" else "utf-8", errors="replace")


_SENT = re.compile(r"Sent SMS .*?\[to:(?P<to>[^\]]*)\] \[flags:-?\d+:(?P<coding>-?\d+):.*"
                   r"\[udh:[1-9]\d*:(?P<udh>[0-9A-Fa-f]+)\]\s*$")
_GOT = re.compile(rb"Got message \d+: <(.*)>\s*$")


def unquote_plus(data: bytes) -> bytes:
    """Kannel's URL encoding (octstr_url_encode): ``+`` is a space, ``%XX`` a byte."""
    return urllib.parse.unquote_to_bytes(data.replace(b"+", b" "))
_MT = re.compile(rb"^(\S+) (\S+) (text|ucs-2|data|udh) (.*)$", re.S)


def parse_mt(payload: bytes, previous: Mt | None) -> Mt | None:
    """A fakesmsc line as a message; ``None`` when it continues the previous one.

    fakesmsc's protocol is one message per line and it prints GSM text raw, so a line break in a
    single GSM-7 message reaches it as two lines: the second joins the first.
    """
    m = _MT.match(payload)
    if m is None:
        if previous is not None and previous.kind == "text":
            previous.data += b"\n" + payload
            return None
        return Mt("?", "?", "garbage", payload)
    sender, to, kind, rest = m.group(1).decode(), m.group(2).decode(), m.group(3).decode(), m.group(4)
    if kind == "udh":
        udh, _, data = rest.partition(b" data ")
        return Mt(sender, to, kind, unquote_plus(data), unquote_plus(udh))
    if kind in ("ucs-2", "data"):
        return Mt(sender, to, kind, unquote_plus(rest))
    return Mt(sender, to, kind, rest)


class FakeSmsc:
    """fakesmsc in interactive mode: messages go in on its stdin, what it receives is collected.

    It reads stdin with stdio's ``fgets`` after ``select`` on the descriptor, so lines that arrive
    together would wait in stdio's buffer for the next select; ``stdbuf -i0`` makes it read one line
    at a time. ``-i 0`` removes its default pause of one second between messages. When idle it reads
    what bearerbox sent only once a second (its stdin poll times out); an empty line wakes it sooner.
    """

    def __init__(self, port: int, log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen([STDBUF, "-i0", FAKESMSC, "-H", "127.0.0.1", "-r", str(port), "-i", "0",
                                      "-m", "-1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, bufsize=0)
        self.received: list[Mt] = []
        self.sent = 0
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="fakesmsc-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with open(self.log, "wb") as out:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                out.write(line)
                m = _GOT.search(line.rstrip(b"\r\n"))
                if m is None:
                    continue
                with self._cond:
                    mt = parse_mt(m.group(1), self.received[-1] if self.received else None)
                    if mt is not None:
                        self.received.append(mt)
                    self._cond.notify_all()

    def send(self, lines: list[str]) -> None:
        data = b""
        for line in lines:
            raw = line.encode("utf-8") + b"\n"
            assert len(raw) < FAKESMSC_LINE_MAX, f"fakesmsc would cut this line: {line!r}"
            data += raw
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.sent += len(lines)

    def count(self) -> int:
        with self._cond:
            return len(self.received)

    def wait_for(self, total: int, timeout: float, diagnostics) -> list[Mt]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < total:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    got = len(self.received)
                    pytest.fail(f"fakesmsc received {got} of {total} messages within {timeout:.0f} s\n"
                                f"{diagnostics()}")
                self._cond.wait(min(left, 0.05))
                assert self.proc.stdin is not None
                self.proc.stdin.write(b"\n")  # an empty line: fakesmsc reads its socket now, not in 1 s
            return list(self.received)


def mo_line(msisdn: str, text: str, to: str = SERVICE, *, as_ucs2: bool | None = None) -> str:
    """A fakesmsc input line: ASCII as GSM text, anything else as UCS-2 (as a phone sends Chinese)."""
    if as_ucs2 is None:
        as_ucs2 = not text.isascii()
    if as_ucs2:
        return f"{msisdn} {to} ucs2 {urllib.parse.quote_from_bytes(text.encode('utf-16-be'), safe='')}"
    return f"{msisdn} {to} text {text}"


# ---------------------------------------------------------------------------------------------
# The stack


KANNEL_CONF = """\
group = core
admin-port = {admin}
admin-interface = 127.0.0.1
admin-password = {secret}
status-password = {secret}
admin-allow-ip = "127.0.0.1"
smsbox-port = {smsbox}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
log-file = "{dir}/bearerbox.log"
log-level = 1
access-log = "{dir}/bearerbox-access.log"
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = {fake}
our-host = 127.0.0.1
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox}
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
log-file = "{dir}/smsbox.log"
log-level = 1
access-log = "{dir}/smsbox-access.log"
http-request-retry = 3
http-queue-delay = 1

group = sendsms-user
username = hotline
password = {secret}
user-allow-ip = "127.0.0.1"
concatenation = true
max-messages = 10

group = sms-service
keyword = default
get-url = "{get_url}"
max-messages = 0
omit-empty = true
accept-x-kannel-headers = true
"""


@dataclasses.dataclass
class Exchange:
    """One inbound message, the replies the reference engine gave, and what fakesmsc received."""
    msisdn: str
    text: str
    expected: list[OutboundSms]
    delivered: list[Mt]

    def by_reply(self) -> list[tuple[OutboundSms, list[Mt]]]:
        """Each expected reply with the messages delivered for its parts."""
        out, i = [], 0
        for reply in self.expected:
            out.append((reply, self.delivered[i:i + reply.segments]))
            i += reply.segments
        return out


class Stack:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.loop = asyncio.new_event_loop()
        self.reference: Hotline | None = None
        self.fakesmsc: FakeSmsc | None = None
        self.admin = self.status_url = ""
        self._ids = 0

    # --- lifecycle

    def start(self) -> None:
        admin, smsbox_port, fake, sendsms, web = free_ports(5)
        secret = secrets.token_hex(8)
        token = secrets.token_hex(8)
        self.status_url = f"http://127.0.0.1:{admin}/status.txt?password={secret}"

        # Two databases, seeded alike: one behind the gateway, one for the reference engine.
        for name in ("server", "reference"):
            hl = bootstrap(self._settings(self.root / name), clock=FixedClock(CLOCK_AT))
            seed_demo_if_empty(hl.db, hl.bss.products, clock=hl.bss.clock, kdf_n=TEST_KDF_N, synthetic=SYNTHETIC)
            if name == "server":
                hl.close()
            else:
                self.reference = hl
        assert self.reference is not None
        self.synthetic = self.reference.db.run_sync(
            lambda c: [r.msisdn for r in c.execute(select(subscribers.c.msisdn).order_by(subscribers.c.id))],
            write=False)
        self.synthetic = [m for m in self.synthetic if m not in (ZHANG, LI, WANG)]

        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        env.update(HOTLINE_DATA_DIR=str(self.root / "server"), HOTLINE_PASSWORD_KDF_N=str(TEST_KDF_N),
                   HOTLINE_DB_THREADS="4", HOTLINE_KANNEL_ENABLED="true", HOTLINE_KANNEL_TOKEN=token,
                   HOTLINE_KANNEL_SENDSMS_URL=f"http://127.0.0.1:{sendsms}/cgi-bin/sendsms",
                   HOTLINE_KANNEL_USERNAME="hotline", HOTLINE_KANNEL_PASSWORD=secret,
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])))
        self._spawn("hotline", [sys.executable, "-c", SERVER, str(web), CLOCK_AT.isoformat()], env=env,
                    cwd=self.root)
        wait_until("hotline answers /healthz", lambda: self._http_ok(f"http://127.0.0.1:{web}/healthz"),
                   START_TIMEOUT, self.diagnostics)

        conf = self.root / "kannel.conf"
        conf.write_text(KANNEL_CONF.format(admin=admin, smsbox=smsbox_port, fake=fake, sendsms=sendsms,
                                           secret=secret, dir=self.root,
                                           get_url=get_url(f"http://127.0.0.1:{web}", token)))
        self._spawn("bearerbox", [BEARERBOX, str(conf)])
        wait_until("bearerbox answers its status page", lambda: self._http_ok(self.status_url),
                   START_TIMEOUT, self.diagnostics)
        self._spawn("smsbox", [SMSBOX, str(conf)])
        wait_until("smsbox connected to bearerbox", lambda: re.search(r"smsbox:.*on-line", self.status()),
                   START_TIMEOUT, self.diagnostics)
        wait_until("smsbox answers sendsms", lambda: self._http_answers(f"http://127.0.0.1:{sendsms}/cgi-bin/sendsms"),
                   START_TIMEOUT, self.diagnostics)
        self.fakesmsc = FakeSmsc(fake, self.root / "fakesmsc.log")
        self.procs.append(("fakesmsc", self.fakesmsc.proc))
        wait_until("fakesmsc connected to bearerbox", lambda: re.search(r"FAKE:\d+ \(online", self.status()),
                   START_TIMEOUT, self.diagnostics)

    def stop(self) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for _name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()
        if self.reference is not None:
            self.reference.close()
        self.loop.close()

    def _settings(self, data_dir: Path) -> Settings:
        data_dir.mkdir()
        return Settings(data_dir=data_dir, password_kdf_n=TEST_KDF_N, db_threads=4, demo_subscribers=SYNTHETIC)

    def _spawn(self, name: str, args: list[str], **kw) -> None:
        out = open(self.root / f"{name}.out", "wb")
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, **kw)
        out.close()
        self.procs.append((name, proc))

    def _http_ok(self, url: str) -> bool:
        self._check_alive()
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def _http_answers(self, url: str) -> bool:
        self._check_alive()
        try:
            httpx.get(url, timeout=2)
            return True
        except httpx.TransportError:
            return False

    def _check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                pytest.fail(f"{name} exited with {proc.returncode}\n{self.diagnostics()}")

    def status(self) -> str:
        try:
            r = httpx.get(self.status_url, timeout=2)
            return r.text if r.status_code == 200 else ""
        except httpx.TransportError:
            return ""

    def diagnostics(self) -> str:
        names = ["hotline.out", "bearerbox.out", "bearerbox.log", "smsbox.out", "smsbox.log", "fakesmsc.log"]
        return "\n".join(tail(self.root / n, 15) for n in names) + "\n" + self.status()

    # --- traffic

    def expect(self, msisdn: str, text: str) -> list[OutboundSms]:
        """What the engine answers to this message, in-process on the reference database."""
        self._ids += 1
        msg = InboundSms(msisdn, SERVICE, text, f"reference-{self._ids}")
        assert self.reference is not None, "start() first"
        return self.loop.run_until_complete(self.reference.sms.handle(msg))

    def exchange(self, msisdn: str, text: str, **line) -> Exchange:
        """Send one message through the gateway and collect every part of every reply to it."""
        expected = self.expect(msisdn, text)
        fake = self.fakesmsc
        assert fake is not None, "start() first"
        before = fake.count()
        fake.send([mo_line(msisdn, text, **line)])
        total = before + sum(r.segments for r in expected)
        received = fake.wait_for(total, EXCHANGE_TIMEOUT, self.diagnostics)
        ex = Exchange(msisdn, text, expected, received[before:total])
        assert_delivered_as_sent(ex)
        return ex

    def logged_codings(self) -> dict[tuple[str, bytes], set[int]]:
        """The data coding bearerbox logged for each concatenated part it sent, by (recipient, UDH).

        fakesmsc shows a part with a UDH as bare bytes; bearerbox's access log says how it was coded.
        """
        codings: dict[tuple[str, bytes], set[int]] = defaultdict(set)
        log = self.root / "bearerbox-access.log"
        for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
            m = _SENT.search(line)
            if m:
                codings[(m["to"], bytes.fromhex(m["udh"]))].add(int(m["coding"]))
        return codings

    def assert_parts_coded(self, exchanges: list[Exchange]) -> None:
        """Every part sent with a concatenation header went out as UCS-2 (or GSM-7) as hotline meant."""
        want = {(mt.to, mt.udh): {2 if reply.encoding == "ucs2" else 0}
                for ex in exchanges for reply, mts in ex.by_reply() if reply.segments > 1 for mt in mts}
        logged = wait_until("bearerbox logs every part",
                            lambda: (c := self.logged_codings()).keys() >= want.keys() and c, EXCHANGE_TIMEOUT,
                            lambda: tail(self.root / "bearerbox-access.log"))
        assert {k: logged[k] for k in want} == want

    def bearerbox_counts(self) -> tuple[int, int, int, int]:
        """(received, received queued, sent, sent queued) SMS, from bearerbox's status page."""
        m = re.search(r"SMS: received (\d+) \((\d+) queued\), sent (\d+) \((\d+) queued\)", self.status())
        assert m, self.status()
        return tuple(int(x) for x in m.groups())  # type: ignore[return-value]


def assert_delivered_as_sent(ex: Exchange) -> None:
    """fakesmsc got the engine's replies to one message: same ports, recipient, order, text and parts."""
    where = f"reply to {ex.text!r} from {ex.msisdn}"
    delivered = iter(ex.delivered)
    refs = []
    for n, reply in enumerate(ex.expected):
        parts = [next(delivered) for _ in reply.parts]
        first_udh = parts[0].udh
        for seq, (mt, text) in enumerate(zip(parts, reply.parts), start=1):
            what = f"{where}: message {n + 1}, part {seq}/{reply.segments}"
            assert (mt.sender, mt.to) == (reply.sender, reply.to), what
            assert mt.decoded(reply.encoding) == text, what
            if reply.segments == 1:
                assert mt.udh is None, what
                assert mt.kind == ("ucs-2" if reply.encoding == "ucs2" else "text"), what
            else:
                assert mt.udh is not None and len(mt.udh) == 6, what
                assert mt.udh[:3] == b"\x05\x00\x03" and mt.udh[4:] == bytes((reply.segments, seq)), what
                assert first_udh is not None and mt.udh[3] == first_udh[3], f"{what}: one reference for all parts"
        if reply.segments > 1:
            assert first_udh is not None
            refs.append(first_udh[3])
        assert "".join(mt.decoded(reply.encoding) for mt in parts) == reply.text, where
    assert len(set(refs)) == len(refs), f"{where}: long replies share a concatenation reference"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    need(all(os.access(p, os.X_OK) for p in (BEARERBOX, SMSBOX)),
         "Kannel is not installed (apt-get install kannel kannel-extras)")
    need(os.access(FAKESMSC, os.X_OK), f"Kannel's fakesmsc is not installed at {FAKESMSC} (kannel-extras)")
    need(os.access(STDBUF, os.X_OK), "stdbuf (coreutils) is missing")
    s = Stack(tmp_path_factory.mktemp("kannel"))
    try:
        s.start()
        yield s
    finally:
        s.stop()


# ---------------------------------------------------------------------------------------------
# The tests


def test_a_conversation_arrives_as_the_engine_answered_it(stack):
    long_question = "你好，我想问一下我这个月的流量为什么用得这么快，" * 3  # Chinese as UTF-8 text: mo-recode's path
    conversation = [
        (ZHANG, "YE", {}),
        (ZHANG, "0000", {}),
        (ZHANG, "10086", {}),
        (ZHANG, "帮助", {}),
        (LI, "查余额", {}),
        (LI, "cxll", {}),
        (WANG, "上网 流量\n查询", {}),  # 上 is 4E 0A in UCS-2: a line feed byte that %a would cut
        (ZHANG, long_question[:70], {"as_ucs2": False}),
    ]
    exchanges = [stack.exchange(msisdn, text, **line) for msisdn, text, line in conversation]
    long_replies = [r for ex in exchanges for r in ex.expected if r.segments > 1 and r.encoding == "ucs2"]
    assert long_replies, "no reply in this conversation needed several UCS-2 parts"
    assert all(ex.expected for ex in exchanges), "every message is answered"
    stack.assert_parts_coded(exchanges)


def test_what_the_engine_means_reaches_the_phone(stack):
    balance = stack.exchange(ZHANG, "YE")
    assert [mt.decoded("ucs2") for mt in balance.delivered] == [r.text for r in balance.expected]
    assert "余额" in balance.delivered[0].decoded("ucs2")

    subscribed = stack.exchange(ZHANG, "0000")  # the list of what is subscribed comes from port 10086977
    assert [reply.sender for reply, _ in subscribed.by_reply()] == ["10086977", "10086977"]
    assert {mt.sender for mt in subscribed.delivered} == {"10086977"}

    menu = stack.exchange(ZHANG, "10086")  # the main menu: one long reply in several parts
    (reply, parts), = menu.by_reply()
    assert reply.segments > 1 and len(parts) == reply.segments
    assert "".join(mt.decoded("ucs2") for mt in parts) == reply.text


def test_a_burst_of_messages_is_answered_in_full(stack):
    commands = ["YE", "CXLL", "查余额", "0000", "CXTC", "JF", "10086", "帮助", "查流量", "XJ"]
    senders = stack.synthetic[:BURST]
    assert len(senders) == BURST
    burst = [(msisdn, commands[i % len(commands)]) for i, msisdn in enumerate(senders)]
    expected = {msisdn: stack.expect(msisdn, text) for msisdn, text in burst}
    parts = sum(r.segments for replies in expected.values() for r in replies)
    received_before, _, sent_before, _ = stack.bearerbox_counts()
    before = stack.fakesmsc.count()

    started = time.monotonic()
    stack.fakesmsc.send([mo_line(msisdn, text) for msisdn, text in burst])
    received = stack.fakesmsc.wait_for(before + parts, BURST_TIMEOUT, stack.diagnostics)[before:]
    took = time.monotonic() - started

    by_recipient: dict[str, list[Mt]] = defaultdict(list)
    for mt in received:
        by_recipient[mt.to].append(mt)
    assert set(by_recipient) == {m for m, replies in expected.items() if replies}
    exchanges = [Exchange(msisdn, text, expected[msisdn], by_recipient[msisdn]) for msisdn, text in burst]
    for ex in exchanges:
        assert_delivered_as_sent(ex)
    stack.assert_parts_coded(exchanges)

    # bearerbox agrees: every message in was taken, every part out went to the SMSC, none is queued,
    # and nothing beyond the expected parts was sent.
    def settled():
        rcvd, rcvd_q, sent, sent_q = stack.bearerbox_counts()
        return (rcvd - received_before, sent - sent_before, rcvd_q, sent_q) == (BURST, parts, 0, 0)
    wait_until("bearerbox counts settle", settled, EXCHANGE_TIMEOUT, stack.status)
    assert stack.fakesmsc.count() == before + parts
    print(f"\nburst: {BURST} messages in, {parts} parts out in {took:.1f} s")
