"""The callee an account row scripts for a demo or test campaign, read from its columns:

- `sim_answer`: answered | no_answer | busy | failed, or a comma-separated list, one per dial
  (the last repeats), e.g. `no_answer,answered`.  Default: answered.
- `sim_debtor`: the debtor's lines, "line|line" as `voicebot simulate --debtor` takes them;
  `sim_debtor_2`, `sim_debtor_3`... for the 2nd, 3rd answered call (else `sim_debtor` again).
- `sim_ring_s`: real seconds an unanswered dial rings before giving up (default: the dialer's).

Pure: the in-process SimulatedDialer (voicebot/simulated_dialer.py) and the LocalProvider's
`local_callee` (provider_dialer.py) both read the row through these.
"""

from __future__ import annotations

from telephony.campaign.dialer import ANSWER_STATUSES, CallRequest


def column(request: CallRequest, name: str) -> str | None:
    value = (request.account.model_extra or {}).get(name)
    return None if value in (None, "") else str(value)


def scripted_status(request: CallRequest) -> str:
    spec = column(request, "sim_answer") or "answered"
    options = [s.strip() for s in spec.split(",") if s.strip()]
    status = options[min(request.attempt, len(options)) - 1]
    if status not in ANSWER_STATUSES:
        raise ValueError(f"account {request.account.id}: sim_answer {status!r} is not one of "
                         f"{', '.join(ANSWER_STATUSES)}")
    return status


def scripted_debtor(request: CallRequest) -> str | None:
    if request.conversation > 1:
        later = column(request, f"sim_debtor_{request.conversation}")
        if later:
            return later
    return column(request, "sim_debtor")
