"""The Outbox: every SMS the system sends, on SQLite and PostgreSQL, as a customer and an operator see it.

A message queued in a transaction that rolls back is never sent; in the embedded default the phone's
demo inbox shows the code while the system's own record keeps it redacted; with Kannel configured the
message reaches the SMSC through the real bearerbox/smsbox (fakesmsc stands for the operator's SMSC),
delivered by the server's loop, and only a redacted copy stays; failed deliveries are retried with
backoff and then marked failed; everything is purged after the retention period; ``hotline outbox``
prints the demo inbox newest first. Kannel parts need Debian's ``kannel`` and ``kannel-extras``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import need
from hotline.channels.sms import segments
from hotline.services.outbox import Outbox, OutboxParams, redact
from test_kannel import (  # the same stack
    BEARERBOX,
    FAKESMSC,
    KANNEL_CONF,
    SMSBOX,
    FakeSmsc,
    free_ports,
    tail,
    wait_until,
)

ZHANG, LI = "13800138000", "13900139000"
CODE_SMS = "【中国移动】您的验证码为{code}，5分钟内有效，用于智能客服身份验证。工作人员不会向您索取，请勿泄露。"
REPO = Path(__file__).resolve().parents[2]


class Boom(Exception):
    pass


def a_code() -> str:
    return f"{secrets.randbelow(900_000) + 100_000}"


def kannel_outbox(hl, url: str, **params) -> Outbox:
    return Outbox(hl.db, hl.services.clock, OutboxParams(outbox_gateway="kannel", kannel_sendsms_url=url,
                                                         kannel_password=params.pop("password", "x"), **params),
                  sealer=hl.outbox.sealer)


def dead_url() -> str:
    [port] = free_ports(1)   # nothing listens there: every attempt is refused
    return f"http://127.0.0.1:{port}/cgi-bin/sendsms"


# ---------------------------------------------------------------------------------------------
# Embedded default: the demo inbox


async def test_a_message_queued_in_a_transaction_that_rolls_back_is_never_sent(hl):
    code = a_code()

    def job(conn):
        hl.outbox.enqueue(conn, ZHANG, CODE_SMS.format(code=code), purpose="otp", secret=True)
        raise Boom   # e.g. storing the code's digest failed: the customer must not get a code that never works

    with pytest.raises(Boom):
        await hl.db.run(job)
    assert hl.outbox.inbox_sync() == [] and hl.outbox.records_sync() == []

    gateway = kannel_outbox(hl, dead_url())
    with pytest.raises(Boom):
        await hl.db.run(lambda conn: (gateway.enqueue(conn, ZHANG, "通知", purpose="notice"), job(conn)))
    assert await gateway.deliver_due() == 0 and hl.outbox.records_sync() == []
    await gateway.aclose()


async def test_the_phone_shows_the_code_and_the_system_keeps_it_redacted(hl):
    code = a_code()
    sent_id = await hl.outbox.send(ZHANG, CODE_SMS.format(code=code), purpose="otp", secret=True)
    notice_id = await hl.outbox.send(ZHANG, "您已成功订购1GB流量包，次月1日生效。")

    [notice, sms] = hl.outbox.inbox_sync(ZHANG)            # newest first, as the phone lists them
    assert (sms["outbox_id"], sms["from"], sms["to"]) == (sent_id, "10086", ZHANG)
    assert code in sms["text"] and notice["outbox_id"] == notice_id
    records = {r["id"]: r for r in hl.outbox.records_sync(ZHANG)}
    assert records[sent_id]["status"] == "sent" and records[sent_id]["redacted"]
    assert code not in records[sent_id]["text"] and "验证码为******" in records[sent_id]["text"]
    assert records[notice_id]["text"] == "您已成功订购1GB流量包，次月1日生效。"   # not a secret: kept as sent
    assert hl.outbox.inbox_sync(LI) == []


def test_redaction_masks_codes_and_passwords_but_keeps_the_service_number():
    assert redact("验证码为482916，请勿告诉他人，详询10086", keep="10086") == "验证码为******，请勿告诉他人，详询10086"
    assert redact("Your new password is Ab39x7Q.") == "Your new password is *******."
    assert redact("您的服务密码已重置为 731904 。") == "您的服务密码已重置为 ****** 。"


async def test_everything_older_than_the_retention_period_is_purged(hl, clock):
    old = await hl.outbox.send(ZHANG, CODE_SMS.format(code=a_code()), purpose="otp", secret=True)
    clock.advance(days=6)
    recent = await hl.outbox.send(ZHANG, "六天后的通知")
    clock.advance(days=1, minutes=1)       # the first is now older than the default 7 days
    assert await hl.outbox.purge() == 2     # its record and its copy in the demo inbox
    assert [r["id"] for r in hl.outbox.records_sync()] == [recent]
    assert [m["outbox_id"] for m in hl.outbox.inbox_sync()] == [recent]
    assert old != recent


def test_hotline_outbox_prints_the_demo_inbox_newest_first(hl, settings, tmp_path):
    asyncio.run(hl.outbox.send(ZHANG, "第一条：您的话费余额为56.70元。"))
    asyncio.run(hl.outbox.send(LI, "给别人的短信"))
    code = a_code()
    asyncio.run(hl.outbox.send(ZHANG, CODE_SMS.format(code=code), purpose="otp", secret=True))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(HOTLINE_DATA_DIR=str(settings.data_dir), HOTLINE_DATABASE_URL=settings.database_url,
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])))

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-c", "from hotline.cli import app; app()", "outbox", *args],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    shown = cli(ZHANG, "--json")
    messages = json.loads(shown)
    assert [m["text"] for m in messages] == [CODE_SMS.format(code=code), "第一条：您的话费余额为56.70元。"]
    assert all(set(m) == {"at", "from", "to", "text"} and m["from"] == "10086" and m["to"] == ZHANG
               for m in messages)
    assert len(json.loads(cli("--json", "--limit", "2"))) == 2
    text = cli(ZHANG)
    assert code in text and text.index(code) < text.index("第一条") and "给别人" not in text
    assert "10086 → 13800138000" in text and "2026-11-15 10:00" in text


# ---------------------------------------------------------------------------------------------
# A gateway that does not answer: retries with backoff, then failed; secrets never logged


async def test_a_failed_delivery_is_retried_with_backoff_then_marked_failed_and_never_logs_the_code(hl, clock,
                                                                                                  caplog):
    outbox = kannel_outbox(hl, dead_url(), outbox_max_attempts=3, outbox_backoff=30.0)
    code = a_code()
    sent = await outbox.send(ZHANG, CODE_SMS.format(code=code), purpose="otp", secret=True)
    caplog.set_level(logging.DEBUG)

    def row():
        [r] = [r for r in outbox.records_sync() if r["id"] == sent]
        return r

    assert await outbox.deliver_due() == 0
    assert (row()["status"], row()["attempts"]) == ("queued", 1)
    assert code not in row()["text"] and row()["text"].startswith("sealed:")   # waiting: sealed, not in clear
    assert await outbox.deliver_due() == 0 and row()["attempts"] == 1     # backing off: not due yet
    clock.advance(seconds=31)
    assert await outbox.deliver_due() == 0 and row()["attempts"] == 2
    clock.advance(seconds=61)                                             # doubled
    assert await outbox.deliver_due() == 0
    final = row()
    assert (final["status"], final["attempts"]) == ("failed", 3) and final["error"]
    assert final["redacted"] and code not in final["text"]                # a code that never arrives is not kept
    assert code not in caplog.text and ZHANG not in caplog.text
    assert hl.outbox.inbox_sync() == []                                   # production mode: no demo inbox
    await outbox.aclose()


# ---------------------------------------------------------------------------------------------
# Through the real Kannel


class KannelStack:
    """bearerbox + smsbox + fakesmsc on free loopback ports (no inbound traffic: hotline only sends)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.procs: list[subprocess.Popen] = []
        self.fakesmsc: FakeSmsc | None = None
        self.secret = secrets.token_hex(8)

    def start(self) -> None:
        admin, smsbox_port, fake, sendsms, web = free_ports(5)
        self.sendsms_url = f"http://127.0.0.1:{sendsms}/cgi-bin/sendsms"
        status = f"http://127.0.0.1:{admin}/status.txt?password={self.secret}"
        conf = self.root / "kannel.conf"
        conf.write_text(KANNEL_CONF.format(admin=admin, smsbox=smsbox_port, fake=fake, sendsms=sendsms,
                                           secret=self.secret, dir=self.root,
                                           get_url=f"http://127.0.0.1:{web}/unused?text=%b"))
        import httpx

        def answers(url: str, ok_only: bool) -> bool:
            try:
                r = httpx.get(url, timeout=2)
            except httpx.TransportError:
                return False
            return r.status_code == 200 or not ok_only

        def status_text() -> str:
            try:
                return httpx.get(status, timeout=2).text
            except httpx.TransportError:
                return ""

        self.diagnostics = lambda: "\n".join(tail(self.root / n, 15) for n in
                                             ("bearerbox.out", "bearerbox.log", "smsbox.out", "smsbox.log",
                                              "fakesmsc.log"))
        self._spawn("bearerbox", [BEARERBOX, str(conf)])
        wait_until("bearerbox answers", lambda: answers(status, True), 60, self.diagnostics)
        self._spawn("smsbox", [SMSBOX, str(conf)])
        wait_until("smsbox answers sendsms", lambda: answers(self.sendsms_url, False), 60, self.diagnostics)
        self.fakesmsc = FakeSmsc(fake, self.root / "fakesmsc.log")
        self.procs.append(self.fakesmsc.proc)
        wait_until("fakesmsc connected", lambda: "FAKE:" in status_text() and "online" in status_text(), 60,
                   self.diagnostics)

    def _spawn(self, name: str, args: list[str]) -> None:
        with open(self.root / f"{name}.out", "wb") as out:
            self.procs.append(subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT))

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()


@pytest.fixture(scope="module")
def kannel(tmp_path_factory):
    need(Path(BEARERBOX).exists() and Path(SMSBOX).exists() and Path(FAKESMSC).exists(),
         "Kannel is not installed (apt-get install kannel kannel-extras)")
    stack = KannelStack(tmp_path_factory.mktemp("kannel"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


async def test_with_kannel_the_loop_delivers_through_the_gateway_and_keeps_only_a_redacted_copy(hl, kannel):
    outbox = kannel_outbox(hl, kannel.sendsms_url, password=kannel.secret, outbox_interval=0.05)
    loop = asyncio.create_task(outbox.run())          # as the server's lifespan starts it
    try:
        before = kannel.fakesmsc.count()
        code = a_code()
        otp = await outbox.send(ZHANG, CODE_SMS.format(code=code), purpose="otp", secret=True)
        long_notice = "尊敬的客户，" + "您的宽带报修已受理，装维人员将尽快与您联系上门处理。" * 4
        notice = await outbox.send(LI, long_notice, sender="10086", purpose="notice")
        parts = len(segments.split(long_notice).parts)
        assert parts > 1
        got = await asyncio.to_thread(kannel.fakesmsc.wait_for, before + 1 + parts, 60, kannel.diagnostics)
        await asyncio.to_thread(wait_until, "the loop records both as sent", lambda: all(
            r["status"] == "sent" for r in outbox.records_sync()), 30, kannel.diagnostics, 0.02)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await outbox.aclose()
    new = got[before:]
    to_zhang = [m for m in new if m.to == ZHANG]
    to_li = [m for m in new if m.to == LI]
    assert len(to_zhang) == 1 and to_zhang[0].sender == "10086"
    assert to_zhang[0].decoded("ucs2") == CODE_SMS.format(code=code)     # what the phone shows
    assert len(to_li) == parts and all(m.udh and m.udh[:3] == bytes((5, 0, 3)) for m in to_li)
    assert "".join(m.decoded("ucs2") for m in sorted(to_li, key=lambda m: m.udh[5])) == long_notice
    records = {r["id"]: r for r in outbox.records_sync()}
    assert records[otp]["status"] == records[notice]["status"] == "sent"
    assert records[otp]["redacted"] and code not in records[otp]["text"] and records[otp]["sent_at"]
    assert records[notice]["text"] == long_notice
    assert hl.outbox.inbox_sync() == []                 # with a gateway there is no demo inbox at all


def test_the_server_started_with_kannel_delivers_on_its_own(settings, clock, kannel):
    """No one calls the Outbox's loop here: the app's lifespan runs it, as ``hotline serve`` does."""
    from starlette.testclient import TestClient

    from hotline.api.app import create_app
    from hotline.bootstrap import bootstrap

    server = bootstrap(settings.model_copy(update={"outbox_gateway": "kannel", "outbox_interval": 0.05,
                                                   "kannel_sendsms_url": kannel.sendsms_url,
                                                   "kannel_password": kannel.secret}), clock=clock)
    try:
        before = kannel.fakesmsc.count()
        code = a_code()
        with TestClient(create_app(server)) as tc:
            sent = tc.portal.call(lambda: server.outbox.send(LI, CODE_SMS.format(code=code), purpose="otp",
                                                             secret=True))
            got = kannel.fakesmsc.wait_for(before + 1, 60, kannel.diagnostics)
            wait_until("the record says sent", lambda: [r["status"] for r in server.outbox.records_sync()
                                                        if r["id"] == sent] == ["sent"], 30, kannel.diagnostics, 0.02)
        [mt] = got[before:]
        assert (mt.sender, mt.to, mt.decoded("ucs2")) == ("10086", LI, CODE_SMS.format(code=code))
        assert code not in str(server.outbox.records_sync())
    finally:
        server.close()


def test_migration_0011_closes_and_redacts_codes_left_in_clear_by_the_old_outbox(database_url):
    """Before the Outbox, codes sat in sms_outbox in clear, queued for ever: the upgrade leaves none."""
    import datetime as dt

    from sqlalchemy import select, text

    from hotline.store.sql import migrate
    from hotline.store.sql.database import Database
    from hotline.store.sql.tables import sms_outbox

    db = Database(database_url, threads=2)
    try:
        migrate.upgrade(db, "0010")
        code = a_code()
        at = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)
        db.run_sync(lambda c: c.execute(text(   # the old columns only: the 0010 table
            "INSERT INTO sms_outbox (msisdn, sender, text, purpose, status, created_at) "
            "VALUES (:m, '10086', :t, 'otp', 'queued', :at)"), {"m": ZHANG, "t": CODE_SMS.format(code=code), "at": at}))
        migrate.upgrade(db)
        [row] = db.run_sync(lambda c: c.execute(select(sms_outbox)).all(), write=False)
        assert code not in row.text and row.redacted and row.secret and row.status == "failed"
    finally:
        db.dispose()
