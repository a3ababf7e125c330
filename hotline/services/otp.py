"""Old names for the one code policy, kept while callers move to :mod:`hotline.services.identity`.

The policy (validity, limits, guess budget) lives in ``identity.CodeLimits``; nothing here may differ from it.
"""

from __future__ import annotations

import datetime as dt

from hotline.services.identity import SMS_SENDER, CodeLimits

__all__ = ["OTP_TRIES", "OTP_TTL", "SMS_SENDER"]

OTP_TTL = dt.timedelta(seconds=CodeLimits().ttl_s)   # a code is good for five minutes
OTP_TRIES = CodeLimits().wrong_per_day               # wrong codes per number per day, across codes
