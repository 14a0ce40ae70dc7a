"""Every variable a prompt may use, where its value comes from, whether it reveals the debt, and
whether it is about one person.

One table serves four concerns: the validator (undefined variables), the identity gate (a
prompt using a *sensitive* variable may not be spoken before identity is confirmed), the
call start check (every variable a stage uses must have a value for this account), and the
speech cache: the audio of a *personal* value (a name, an exact amount) is kept for its call
only, while the rest (the lender, a date, "online banking") is the same for many accounts of a
portfolio and is synthesised once and shared (voicebot/services/catalogue_tts/personal_values.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Source = Literal["account", "constant", "slot", "promise"]  # promise: an earlier call's, on a follow-up


@dataclass(frozen=True)
class VariableSpec:
    name: str
    source: Source
    sensitive: bool
    personal: bool  # its value alone is about one debtor: never cached beyond the call
    description: str


_SPECS = (
    VariableSpec("name", "account", False, True, "debtor's full name, used to ask for the right party"),
    VariableSpec("first_name", "account", False, True, "debtor's first (given) name"),
    VariableSpec("amount", "account", True, True, "total amount overdue, formatted as money"),
    VariableSpec("minimum_payment", "account", True, True, "minimum payment due, formatted as money"),
    VariableSpec("due_date", "account", True, False, "date the payment was due"),
    VariableSpec("days_overdue", "account", True, False, "whole days past the due date"),
    VariableSpec("lender", "account", True, False, "the creditor's name: reveals the debt"),
    VariableSpec("payment_methods", "account", True, False, "ways to pay, joined as a spoken list"),
    VariableSpec("late_fee", "account", True, False, "late fee charged, formatted as money"),
    VariableSpec("interest_rate", "account", True, False, "penalty interest rate, percent per year"),
    VariableSpec("agent_line", "account", False, False, "phone number that reaches a human agent"),
    VariableSpec("agent_name", "constant", False, False, "the bot's persona name"),
    VariableSpec("company", "constant", False, False, "caller name that does not reveal a debt"),
    VariableSpec("callback_number", "constant", False, False, "number the debtor can call back"),
    VariableSpec("promise_date", "slot", True, False, "date the debtor promised to pay"),
    VariableSpec("promised_amount", "slot", True, True, "amount the debtor promised to pay"),
    VariableSpec("callback_time", "slot", False, False, "when the debtor asked to be called back"),
    VariableSpec("prior_promise_amount", "promise", True, True,
                 "amount promised on an earlier call (a broken promise's follow-up call, its reminder SMS)"),
    VariableSpec("prior_promise_date", "promise", True, False, "date promised on an earlier call"),
)

VARIABLES: dict[str, VariableSpec] = {spec.name: spec for spec in _SPECS}
SENSITIVE: frozenset[str] = frozenset(s.name for s in _SPECS if s.sensitive)
SLOTS: frozenset[str] = frozenset(s.name for s in _SPECS if s.source == "slot")
CONSTANTS: frozenset[str] = frozenset(s.name for s in _SPECS if s.source == "constant")
PERSONAL: frozenset[str] = frozenset(s.name for s in _SPECS if s.personal)
# Filled only on a call or SMS about an earlier promise: the validator keeps them to the
# script's broken-promise branch (`on_broken_promise`) and the `promise_reminder` SMS.
PROMISE_VARIABLES: frozenset[str] = frozenset(s.name for s in _SPECS if s.source == "promise")

# Which slot an entity fills by default when a node captures it.
ENTITY_SLOTS: dict[str, tuple[str, ...]] = {
    "date": ("promise_date", "callback_time"),
    "amount": ("promised_amount",),
}
