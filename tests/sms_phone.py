"""A test phone: sends texts to the SMS business hall as one subscriber and keeps what came back."""

from __future__ import annotations

import itertools

from hotline.channels.sms.message import InboundSms, OutboundSms

_ids = itertools.count(1)


class Phone:
    def __init__(self, hl, msisdn: str) -> None:
        self.hl = hl
        self.msisdn = msisdn

    async def send(self, text: str, to: str = "10086", message_id: str | None = None) -> list[OutboundSms]:
        mid = message_id or f"t{next(_ids)}"
        return await self.hl.sms.handle(InboundSms(self.msisdn, to, text, mid))

    async def say(self, text: str, to: str = "10086") -> str:
        """The replies' texts joined, for assertions on what the customer reads."""
        return "\n".join(r.text for r in await self.send(text, to))

    async def account(self) -> dict:
        return await self.hl.bss.account(self.msisdn)
