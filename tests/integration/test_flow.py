"""The business flow, driven by a fake channel: the same steps and rules whatever the channel renders."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import TEST_KDF_N
from hotline.bss.port import Actor
from hotline.bss.seed import seed_demo_if_empty
from hotline.services.flow import (
    Ask,
    AskNumber,
    AskPassword,
    AskSlot,
    Cancelled,
    CodeSent,
    Confirm,
    Context,
    Done,
    FlowState,
    Give,
    Level,
    Number,
    Password,
    Refused,
    Step,
    Yes,
)
from hotline.services.flow import Code as CodeEvent

ZHANG, LISI, WANG = "13800138000", "13900139000", "13700137000"


@pytest.fixture
def demo(hl, clock):
    seed_demo_if_empty(hl.db, hl.bss.products, clock=clock, kdf_n=TEST_KDF_N, synthetic=0)
    return hl


class FakeChannel:
    """A channel that only turns events into flow calls and keeps the steps it would render."""

    def __init__(self, hl, clock, channel: str = "assistant") -> None:
        self.hl, self.clock, self.channel = hl, clock, channel
        self.state = FlowState()
        self.n = 0

    def ctx(self) -> Context:
        self.n += 1
        return Context(self.channel, Actor(self.channel, "subscriber"), "zh", f"fake-{self.n}", self.clock.now(),
                       client="test")

    async def send(self, event) -> list[Step]:
        return await self.hl.flow.handle(self.state, event, self.ctx())

    def assert_number(self, msisdn: str, level: Level = Level.POSSESSION) -> None:
        self.hl.flow.prove(self.state, msisdn, level, self.ctx(), dt.timedelta(minutes=10))

    async def ask(self, code: str, **raw) -> list[Step]:
        return await self.send(Ask(self.hl.catalog.get(code), raw))


async def balance(hl, msisdn: str) -> int:
    return (await hl.bss.account(msisdn))["balance_fen"]


async def test_a_paid_order_is_confirmed_then_charged_once(demo, clock):
    ch = FakeChannel(demo, clock)
    ch.assert_number(ZHANG)
    before = await balance(demo, ZHANG)
    [confirm] = await ch.ask("order.data_pack", product="pack.data_1g_month")
    assert isinstance(confirm, Confirm) and not confirm.free and await balance(demo, ZHANG) == before
    [done] = await ch.send(Yes())
    assert isinstance(done, Done) and await balance(demo, ZHANG) == before - 1000
    assert await ch.send(Yes()) == [] and await balance(demo, ZHANG) == before - 1000


@pytest.mark.parametrize("channel", ["sms", "assistant", "ivr", "web"])
async def test_every_change_is_confirmed_on_every_channel(demo, clock, channel):
    changes = [b for b in demo.catalog if demo.catalog.policy(b).changes and channel in b.channels
               and all(s.name in b.preset or not s.required for s in b.slots) and b.auth.value == "none"][:10]
    assert changes
    for b in changes:
        ch = FakeChannel(demo, clock, channel)
        ch.assert_number(ZHANG)
        steps = await ch.send(Ask(b, {}))
        assert not any(isinstance(s, Done) for s in steps), b.code


async def test_naming_another_number_drops_the_pending_step_and_what_was_proven(demo, clock):
    ch = FakeChannel(demo, clock)
    ch.assert_number(LISI)
    [confirm] = await ch.ask("order.data_pack", product="pack.data_1g_month")
    assert isinstance(confirm, Confirm)
    ch.state.identify(ZHANG)
    before = await balance(demo, ZHANG)
    assert await ch.send(Yes()) == [] and await balance(demo, ZHANG) == before
    assert ch.state.level("assistant", clock.now()) is Level.NONE


async def test_a_visitor_names_the_number_proves_it_with_a_code_and_is_answered(demo, clock):
    ch = FakeChannel(demo, clock)
    [ask] = await ch.ask("query.balance")
    assert isinstance(ask, AskNumber)
    [sent] = await ch.send(Number(ZHANG))
    assert isinstance(sent, CodeSent) and sent.masked == "138****8000"
    code = (await demo.outbox.inbox(ZHANG, limit=1))[0]["text"].split("验证码为")[1][:6]
    [wrong] = await ch.send(CodeEvent(f"{(int(code) + 1) % 10**6:06d}"))
    assert isinstance(wrong, Refused)
    [done] = await ch.send(CodeEvent(code))
    assert isinstance(done, Done) and "56.70" in done.texts[0]


async def test_a_protected_business_asks_the_password_and_a_wrong_one_is_refused(demo, clock):
    ch = FakeChannel(demo, clock, "sms")
    ch.assert_number(ZHANG)
    [ask] = await ch.ask("query.itemized", month="202611")
    assert isinstance(ask, AskPassword)
    [wrong] = await ch.send(Password("000000"))
    assert isinstance(wrong, Refused) and "还可" in wrong.text
    steps = await ch.send(Password("369258"))
    assert isinstance(steps[-1], Done)


async def test_a_confirmation_after_the_assurance_expired_asks_for_proof_again(demo, clock):
    ch = FakeChannel(demo, clock)
    ch.state.identify(ZHANG)
    ch.state.grant(Level.POSSESSION, "assistant", clock.now() + dt.timedelta(minutes=1))
    [confirm] = await ch.ask("order.data_pack", product="pack.data_1g_month")
    assert isinstance(confirm, Confirm)
    clock.advance(minutes=2)
    before = await balance(demo, ZHANG)
    [again] = await ch.send(Yes())
    assert isinstance(again, CodeSent) and await balance(demo, ZHANG) == before


async def test_only_what_can_be_cancelled_is_offered_and_no_is_polite(demo, clock):
    ch = FakeChannel(demo, clock)
    ch.assert_number(ZHANG)
    [choose] = await ch.ask("cancel.vas")
    assert isinstance(choose, AskSlot) and choose.labels
    [confirm] = await ch.send(Give("1"))
    assert isinstance(confirm, Confirm) and confirm.off
    await ch.send(Yes())
    [choose_again] = await ch.ask("cancel.vas")
    assert confirm.what not in "".join(getattr(choose_again, "labels", []))   # already cancelled: not offered
    from hotline.services.flow import No
    assert isinstance((await ch.send(No()))[0], Cancelled)


async def test_a_business_not_open_to_the_channel_is_refused_with_its_guide(demo, clock):
    closed = next(b for b in demo.catalog if "sms" not in b.channels and b.guide is not None)
    ch = FakeChannel(demo, clock, "sms")
    ch.assert_number(ZHANG)
    [refused] = await ch.send(Ask(closed, {}))
    assert isinstance(refused, Refused) and refused.code == "not_on_channel"


async def test_a_secret_given_mid_flow_is_never_stored_in_clear(demo, clock):
    """A card PIN waiting for the confirmation is sealed in the stored state and gone once used."""
    import json
    redeem = next(b for b in demo.catalog if any(s.secret and s.type.value == "card_pin" for s in b.slots))
    pin_slot = next(s for s in redeem.slots if s.secret)
    ch = FakeChannel(demo, clock, "sms")
    ch.assert_number(ZHANG)
    pin = "123456789012345678"
    raw = {s.name: ("11112222333344445" if s.name != pin_slot.name else pin) for s in redeem.slots}
    steps = await ch.send(Ask(redeem, raw))
    assert any(isinstance(s, Confirm) for s in steps)
    stored = json.dumps(ch.state.as_dict())
    assert pin not in stored and "sealed:" in stored
    await ch.send(Yes())                       # (the demo card does not exist: refused, but nothing kept)
    assert pin not in json.dumps(ch.state.as_dict())
