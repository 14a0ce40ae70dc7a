"""Local-time windows: when an account may be called (08:00-21:00 by default) or sent an SMS
(09:00-11:00 and 15:00-17:00).  Rules about contact hours speak of the *debtor's* clock, and
which clock that is has one answer for the law, campaigns and SMS alike:
`dialogue.compliance.local_time.DebtorTime` (the account's zone, else its phone number's,
else the jurisdiction's; several candidates mean every one must agree; none means no contact).

The window type is the jurisdiction profile's, so a campaign's or an SMS window can be cut
to the law's."""

from __future__ import annotations

from dialogue.compliance.profile import CallingWindow

LocalWindow = CallingWindow   # [start, end) in local wall-clock time; a contact must *start* inside it

__all__ = ["LocalWindow"]
