"""Every variable a prompt may use, where its value comes from, and whether it reveals the debt.

One table serves three concerns: the validator (undefined variables), the identity gate (a
prompt using a *sensitive* variable may not be spoken before identity is confirmed), and the
call start check (every variable a stage uses must have a value for this account).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Source = Literal["account", "constant", "slot"]


@dataclass(frozen=True)
class VariableSpec:
    name: str
    source: Source
    sensitive: bool
    description: str


_SPECS = (
    VariableSpec("name", "account", False, "debtor's full name, used to ask for the right party"),
    VariableSpec("first_name", "account", False, "debtor's first (given) name"),
    VariableSpec("amount", "account", True, "total amount overdue, formatted as money"),
    VariableSpec("minimum_payment", "account", True, "minimum payment due, formatted as money"),
    VariableSpec("due_date", "account", True, "date the payment was due"),
    VariableSpec("days_overdue", "account", True, "whole days past the due date"),
    VariableSpec("lender", "account", True, "the creditor's name: reveals the debt"),
    VariableSpec("payment_methods", "account", True, "ways to pay, joined as a spoken list"),
    VariableSpec("late_fee", "account", True, "late fee charged, formatted as money"),
    VariableSpec("interest_rate", "account", True, "penalty interest rate, percent per year"),
    VariableSpec("agent_line", "account", False, "phone number that reaches a human agent"),
    VariableSpec("agent_name", "constant", False, "the bot's persona name"),
    VariableSpec("company", "constant", False, "caller name that does not reveal a debt"),
    VariableSpec("callback_number", "constant", False, "number the debtor can call back"),
    VariableSpec("promise_date", "slot", True, "date the debtor promised to pay"),
    VariableSpec("promised_amount", "slot", True, "amount the debtor promised to pay"),
    VariableSpec("callback_time", "slot", False, "when the debtor asked to be called back"),
)

VARIABLES: dict[str, VariableSpec] = {spec.name: spec for spec in _SPECS}
SENSITIVE: frozenset[str] = frozenset(s.name for s in _SPECS if s.sensitive)
SLOTS: frozenset[str] = frozenset(s.name for s in _SPECS if s.source == "slot")
CONSTANTS: frozenset[str] = frozenset(s.name for s in _SPECS if s.source == "constant")

# Which slot an entity fills by default when a node captures it.
ENTITY_SLOTS: dict[str, tuple[str, ...]] = {
    "date": ("promise_date", "callback_time"),
    "amount": ("promised_amount",),
}
