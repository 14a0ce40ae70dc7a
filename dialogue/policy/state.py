"""Per-call state and what the policy hands back to the caller each step.

Small and plain on purpose: a live call keeps one of these, and the whole of it is what a
call record or a handoff packet needs to know about where the conversation stands."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Prompt:
    """One piece of bot speech; the voice loop honours `interruptible` for barge-in."""

    text: str
    node: str
    interruptible: bool = True
    static: bool = False  # no per-account values: the same words for every debtor (cacheable audio)


@dataclass(frozen=True)
class BotAction:
    kind: str  # transfer | hangup | sms | callback
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.detail}


@dataclass
class BotReply:
    prompts: list[Prompt] = field(default_factory=list)
    actions: list[BotAction] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    end: bool = False
    events: list[str] = field(default_factory=list)  # engine decisions worth auditing

    @property
    def text(self) -> str:
        return " ".join(p.text for p in self.prompts)


@dataclass
class CallState:
    node: str = ""                 # last node entered
    waiting: str = ""              # node whose question the debtor is answering
    identity_confirmed: bool = False
    third_party: bool = False      # wrong_number/third_party heard: never disclose
    opted_out: bool = False
    abuse_count: int = 0
    debtor_turns: int = 0
    spoke: bool = False            # the debtor said anything at all
    retry_limit_hit: bool = False
    reprompts: dict[str, int] = field(default_factory=dict)
    visits: dict[str, int] = field(default_factory=dict)
    slots: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None     # last outcome a node recorded
    transfer_reason: str | None = None
    handoff: str | None = None     # claimed | unclaimed, once the agent queue has answered
    notice_given: bool = False     # the debt-collection notice has been said
    voicemail: str | None = None   # voicemail_left | voicemail_hung_up: a machine answered
    ended: bool = False
    last_text: str = ""
    represented: str | None = None  # attorney | bankruptcy: collection talk has stopped
    identity_asks: int = 0         # identity asked again after a question or a contradiction
    readback_yes: str | None = None  # read-back node the debtor just said yes to
    inbound: bool = False          # the debtor called in: only a knowledge check confirms identity
    verification_failures: int = 0  # wrong answers to a knowledge check
