"""The intent contract shared by every locale (see shared/INTENTS.md).

Scripts, NLU data, scoring and reports must use exactly these names; the validator and the NLU
loader both check against this tuple so a typo in a YAML file is caught where it was written.
"""

from __future__ import annotations

INTENTS: tuple[str, ...] = (
    "confirm_identity",
    "wrong_number",
    "third_party",
    "affirm",
    "deny",
    "promise_to_pay",
    "partial_payment",
    "request_plan",
    "already_paid",
    "dispute",
    "hardship",
    "refuse_to_pay",
    "request_human",
    "callback_later",
    "ask_amount",
    "ask_payment_method",
    "ask_consequences",
    "ask_who_calling",
    "stop_calling",
    "attorney",
    "bankruptcy",
    "abusive",
    "goodbye",
    "repeat",
    "out_of_scope",
)

INTENT_SET: frozenset[str] = frozenset(INTENTS)

ENTITIES: tuple[str, ...] = ("date", "amount")

# Intents the engine itself can answer when a script maps them nowhere: `repeat` re-says the
# current prompt and `out_of_scope` reprompts.  Everything else needs a script decision.
ENGINE_HANDLED: frozenset[str] = frozenset({"repeat", "out_of_scope"})

# Intents whose consequence the engine enforces whatever the script says: the call ends.
CLOSING_INTENTS: frozenset[str] = frozenset({"wrong_number", "third_party", "stop_calling"})

# Intents a node's `default` catch-all may not swallow: they reach the stage's `global` unless
# the node names them, so an opt-out, a dispute or a request for a human is never lost.
PROTECTED_INTENTS: frozenset[str] = CLOSING_INTENTS | {"abusive", "request_human", "dispute",
                                                      "attorney", "bankruptcy"}

# Intents after which the law stops collection talk with the debtor (FDCPA 805(a)(2): a debtor
# represented by an attorney; the bankruptcy automatic stay): no debt detail is said any more.
REPRESENTED_INTENTS: frozenset[str] = frozenset({"attorney", "bankruptcy"})

# Questions a debtor may ask before confirming identity; the identity question is asked again
# (up to the stage's reprompt limit) instead of the call ending on them.
IDENTITY_DETOURS: frozenset[str] = frozenset({
    "ask_amount", "ask_payment_method", "ask_consequences", "promise_to_pay", "partial_payment",
    "request_plan", "already_paid", "hardship", "refuse_to_pay"})
