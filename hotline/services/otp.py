"""One-time codes sent by SMS to prove a number: one policy, whoever sends the code (小贝 or an agent)."""

from __future__ import annotations

import datetime as dt

OTP_TTL = dt.timedelta(minutes=5)   # a code is good for five minutes
OTP_TRIES = 3                       # wrong tries before the code is void
SMS_SENDER = "10086"                # the number codes come from
