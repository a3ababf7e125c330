"""The SMS business hall engine (work in progress: replaced by the real engine in this issue)."""

from __future__ import annotations

from hotline.channels.sms.message import InboundSms, OutboundSms

PORTAL_NOTE = "（内容较长，完整内容请登录中国移动网上营业厅 https://www.10086.cn 查看）"


class SmsHall:
    def __init__(self, hl) -> None:
        self.hl = hl

    async def handle(self, msg: InboundSms) -> list[OutboundSms]:
        return [OutboundSms.build("10086", msg.msisdn, f"收到：{msg.text}", PORTAL_NOTE)]
