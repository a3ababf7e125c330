"""The SMS channel's neutral messages: what came in and what goes out."""

from __future__ import annotations

from dataclasses import dataclass, field

from hotline.channels.sms import segments


@dataclass(frozen=True)
class InboundSms:
    msisdn: str          # the sender, as the gateway gave it
    to: str              # the service number or port it was sent to (10086, 10086999 …)
    text: str
    message_id: str = ""  # the gateway's id; the same id is processed once


@dataclass(frozen=True)
class OutboundSms:
    sender: str          # the port the reply is sent from (10086, 10086977 …)
    to: str
    text: str
    parts: list[str] = field(default_factory=list)  # the segments, as delivered
    encoding: str = "ucs2"

    @classmethod
    def build(cls, sender: str, to: str, text: str, overflow_note: str,
              summary: str | None = None) -> OutboundSms:
        seg = segments.fit(text, overflow_note, summary)
        return cls(sender, to, "".join(seg.parts), seg.parts, seg.encoding)

    @property
    def segments(self) -> int:
        return len(self.parts)

    def as_dict(self) -> dict:
        return {"from": self.sender, "to": self.to, "text": self.text, "segments": self.segments}

    def as_stored(self) -> dict:
        return {"from": self.sender, "to": self.to, "text": self.text, "parts": self.parts,
                "encoding": self.encoding}

    @classmethod
    def from_dict(cls, d: dict) -> OutboundSms:
        return cls(d["from"], d["to"], d["text"], list(d.get("parts") or [d["text"]]), d.get("encoding", "ucs2"))
