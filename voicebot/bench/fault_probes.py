"""Opt-out and handoff calls whose decisive turn is heard during a fault, and the checks after.

`benchmarks/faults.py` keeps ordinary calls going while it breaks things; "turns lost" says
whether their records survived.  Two things a fault may lose matter more than a turn: a
debtor's "please stop calling me" (a legal obligation) and "I want to talk to a real person"
(a packet an agent must see).  These calls place them inside the fault:

- an opt-out call answers the greeting with "please stop calling me"; each has an account of
  its own (a copy of a sample account under a new id), because once opted out an account is
  refused at its next call start, which is exactly what is checked afterwards;
- a handoff call asks for a real person, holds (the server queues its packet and waits
  `handoff_timeout_s` for a desk; the benchmark has no agent), and when the bot says all its
  colleagues are busy, gives a callback time, as a caller left on hold would.  That answer
  waits until the transfer words and some of the next prompt have played
  (`CALLBACK_AFTER_BOT_S` of bot speech since the request): the "busy" prompt comes after a
  20 s hold, or at once when the queue cannot be asked, and a loaded server may pause between
  the transfer words' sentences, which a debtor answering after any pause would talk into.

The decisive line is held back until the fault has started (`HeldDebtor`): the calls are
dialled a few seconds before it so their greeting ends about then, and the line is said as
soon as the fault is on.  After the phase (the fault over) each opt-out account is dialled
once more and must be refused at the start (4403), its opt-out must be in the journal the
server reads at every call start (and in the campaign store's set when the server has one);
each handoff's packet must be in the agent queue, where the console's supervisor claims it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

from telephony.bus.base import Bus, BusError
from telephony.bus.redis_bus import RedisBus
from telephony.campaign.opt_out_journal import OptOutJournal, journal_path
from telephony.campaign.redis_client import connect
from telephony.campaign.redis_store import RedisStore
from telephony.campaign.store import AccountFlags
from telephony.compliance_gate import FORBIDDEN
from telephony.handoff.queue import HandoffQueue, UnknownHandoff
from voicebot.bench.carriers import CALL_TIMEOUT_S, SAMPLE_RATE
from voicebot.bench.metrics import CallRun, WireGaps, call_failure
from voicebot.bench.scenarios import Scenario
from voicebot.providers.local.carrier import LocalCallResult, LocalCarrierCall
from voicebot.providers.local.wire import TwilioWire
from voicebot.transports.simulated.debtor import DebtorLine, ScriptedDebtor

OPT_OUT = Scenario("opt-out", "EN-EARLY-1", "please stop calling me", "opted_out")
HANDOFF = Scenario("handoff", "EN-EARLY-1", "I want to talk to a real person|tomorrow at ten in the morning",
                   "callback")
DECISIVE_LINE = 0  # both say it first, in answer to the greeting
#: Bot speech heard since the request before the callback time is said: the transfer words
#: ("Of course. I'm connecting you ... 1-800-555-0199.", 9.3-9.5 s in the English voices) and
#: half of "I'm sorry, all of my colleagues are busy right now ..." (5.3-5.8 s).
CALLBACK_AFTER_BOT_S = 12.0
STOP_INTENT, TRANSFER = "stop_calling", "transfer"
GREETING_S = 9.0      # dial this long before the fault: the greeting (7.6-7.8 s) then ends about when it starts
REFUSAL_WAIT_S = 15.0
HEARD_WITHIN_S = 1.5  # the server has a turn this long after its last word (end of turn, recogniser)


@dataclass
class HeldDebtor(ScriptedDebtor):
    """A scripted debtor who keeps one line back until `release()` is true (the fault is on);
    the bot meanwhile reprompts as it would for any silent caller.  Records, on the wall clock,
    when that line was said, to tell afterwards whether the server heard it inside the fault."""

    held_line: int = DECISIVE_LINE
    release: Callable[[], bool] = lambda: True
    #: line index -> seconds of bot speech to hear after the held line before saying it
    after_bot_s: dict[int, float] = field(default_factory=dict)
    said_at: float | None = None      # epoch s: the held line started
    said_until: float | None = None   # epoch s: its last voiced sample
    _bot_since_held_s: float = 0.0

    def bot_audio(self, start_s: float, end_s: float) -> None:
        super().bot_audio(start_s, end_s)
        if self.said_at is not None:
            self._bot_since_held_s += end_s - start_s

    def _maybe_start(self, now_s: float) -> None:
        if self._index != self.held_line:
            if self._bot_since_held_s < self.after_bot_s.get(self._index, 0.0):
                return
            return super()._maybe_start(now_s)
        if not self.release():
            return
        before = len(self.timings)
        super()._maybe_start(now_s)
        if len(self.timings) > before:
            line, wall = self.timings[-1], time.time()
            self.said_at, self.said_until = wall, wall + line.speech_end_s - line.started_s


@dataclass
class ProbeCall:
    kind: str                 # "opt_out" | "handoff"
    account: str
    run: CallRun
    debtor: HeldDebtor


def probe_accounts(phase: str, opt_outs: int, handoffs: int) -> dict[str, str]:
    """New account id -> the sample account it copies.  Opt-out accounts are unique per call
    (and per phase: the server keeps refusing them); handoff calls get their own ids too, so
    a packet is found by its account as well as by its call."""
    ids = {f"{OPT_OUT.account}-OPTOUT-{phase}-{i}": OPT_OUT.account for i in range(opt_outs)}
    ids.update({f"{HANDOFF.account}-HANDOFF-{phase}-{i}": HANDOFF.account for i in range(handoffs)})
    return ids


def add_account_copies(accounts_file: Path, copies: dict[str, str]) -> None:
    """Append copies of accounts already in the bench's accounts file (same zone, so their
    calls are allowed now) under new ids; the server re-reads the file when it changes."""
    data = json.loads(accounts_file.read_text(encoding="utf-8"))
    by_id = {a["id"]: a for a in data["accounts"]}
    missing = set(copies.values()) - set(by_id)
    if missing:
        raise ValueError(f"{accounts_file} lacks {sorted(missing)}, which the probe calls copy")
    data["accounts"] += [{**by_id[base], "id": new_id} for new_id, base in copies.items() if new_id not in by_id]
    accounts_file.write_text(json.dumps(data, indent=2), encoding="utf-8")


async def prepare_probe_lines() -> dict[str, list[DebtorLine]]:
    from voicebot.simulate import make_lines, parse_debtor  # heavy: models

    return {s.name: await make_lines(parse_debtor(s.debtor), s.debtor_voice, SAMPLE_RATE)
            for s in (OPT_OUT, HANDOFF)}


@dataclass
class ProbeCalls:
    """Places the phase's opt-out and handoff calls, `spacing_s` apart, from `GREETING_S`
    before `fault_at_s`; their decisive lines wait for `fault_on()`."""

    url: str
    lines: dict[str, list[DebtorLine]]
    accounts: dict[str, str]          # from probe_accounts
    fault_at_s: float
    fault_on: Callable[[], bool]
    spacing_s: float = 0.75
    calls: list[ProbeCall] = field(default_factory=list)

    async def run(self) -> None:
        t0 = time.monotonic()
        kinds = [("opt_out" if "-OPTOUT-" in a else "handoff", a) for a in self.accounts]
        order = sorted(kinds, key=lambda ka: int(ka[1].rsplit("-", 1)[1]))  # opt-out, handoff, ...
        start = max(0.0, self.fault_at_s - GREETING_S)

        async def one(i: int, kind: str, account: str) -> None:
            await asyncio.sleep(max(0.0, t0 + start + i * self.spacing_s - time.monotonic()))
            await self._call(kind, account, time.monotonic() - t0)
        await asyncio.gather(*(one(i, k, a) for i, (k, a) in enumerate(order)))

    async def _call(self, kind: str, account: str, started_s: float) -> None:
        scenario = OPT_OUT if kind == "opt_out" else HANDOFF
        wire = TwilioWire({"account": account, "attempt": str(scenario.attempt)})
        result = LocalCallResult(wire.call_sid, account, "twilio")
        debtor = HeldDebtor(self.lines[scenario.name], SAMPLE_RATE, release=self.fault_on,
                            after_bot_s={1: CALLBACK_AFTER_BOT_S} if kind == "handoff" else {})
        carrier = LocalCarrierCall(self.url, wire, debtor, result)
        carrier.connect_options["compression"] = None
        run = CallRun(len(self.calls), scenario, result, WireGaps(), started_s)
        self.calls.append(ProbeCall(kind, account, run, debtor))
        try:
            await asyncio.wait_for(carrier.run(), CALL_TIMEOUT_S)
        except TimeoutError:
            result.status, result.error = "failed", f"no end within {CALL_TIMEOUT_S:.0f} s"


async def start_refused(url: str, account: str) -> int | None:
    """Dial the account again; the close code the server answers the start with (None: the
    call was accepted and its greeting began, i.e. not refused)."""
    wire = TwilioWire({"account": account, "attempt": "1"})
    try:
        async with websockets.connect(url, compression=None, open_timeout=10) as ws:
            for message in wire.opening():
                await ws.send(message)
            try:
                async with asyncio.timeout(REFUSAL_WAIT_S):
                    async for message in ws:
                        if wire.parse(message).kind == "audio":
                            return None  # accepted: the bot is talking
            except (websockets.ConnectionClosed, TimeoutError):
                pass
        return ws.close_code
    except (OSError, websockets.InvalidHandshake):
        return None


def _heard(summary: dict | None, intent: str | None = None, action: str | None = None) -> dict | None:
    for turn in (summary or {}).get("turns", []):
        if intent and (turn.get("nlu") or {}).get("intent") == intent:
            return turn
        if action and any(a.get("kind") == action for a in turn.get("actions", [])):
            return turn
    return None


def _inside(probe: ProbeCall, outage: tuple[float, float] | None) -> bool | None:
    """Was the decisive line said while the fault was on (its end, when the server hears it)?"""
    if outage is None or probe.debtor.said_until is None:
        return None
    return outage[0] <= probe.debtor.said_until and probe.debtor.said_until + HEARD_WITHIN_S <= outage[1]


async def check_probes(probes: list[ProbeCall], summaries: dict[str, dict], url: str, records: Path,
                       redis_url: str, bus_prefix: str, campaign_prefix: str,
                       outage: tuple[float, float] | None) -> dict[str, Any]:
    """The fault is over: was every opt-out kept (refused at `url`, in the records folder's
    opt-out journal and the campaign store on `redis_url`), every handoff queued (on the bus
    there)?  `outage`: when the fault was on (epoch s), to count what was said inside it."""
    bus = RedisBus(redis_url, prefix=bus_prefix)
    try:
        found = await _check(probes, summaries, url, OptOutJournal(journal_path(records)),
                             RedisStore(connect(redis_url), campaign_prefix), bus, outage)
    finally:
        await bus.aclose()
    failed = [call_failure(p.run, summaries.get(p.run.result.call_id)) for p in probes]
    return {**found, "probe_calls_completed": sum(f is None for f in failed),
            "probe_failures": sorted({f for f in failed if f})}


async def _check(probes: list[ProbeCall], summaries: dict[str, dict], url: str, journal: OptOutJournal,
                 store: AccountFlags, bus: Bus, outage: tuple[float, float] | None) -> dict[str, Any]:
    opt_outs, handoffs = [], []
    for probe in probes:
        summary = summaries.get(probe.run.result.call_id)
        said = probe.debtor.said_until
        detail: dict[str, Any] = {"account": probe.account, "outcome": (summary or {}).get("outcome"),
                                  "said_in_fault": _inside(probe, outage),
                                  "said_s_into_fault": round(said - outage[0], 1) if outage and said else None,
                                  "carrier": probe.run.result.error or probe.run.result.status}
        if probe.kind == "opt_out":
            detail["heard"] = _heard(summary, intent=STOP_INTENT) is not None
            detail["refused_code"] = await start_refused(url, probe.account)
            detail["journaled"] = probe.account in journal
            try:
                detail["in_store"] = await asyncio.to_thread(store.is_opted_out, probe.account)
            except Exception as exc:  # noqa: BLE001 - reported, not raised: this measures
                detail["in_store"] = f"store error: {exc}"
            detail["kept"] = detail["refused_code"] == FORBIDDEN and detail["journaled"] and detail["in_store"] is True
            opt_outs.append(detail)
        else:
            turn = _heard(summary, action=TRANSFER)
            detail["heard"] = turn is not None
            detail["queued"], detail["state"] = False, None
            if turn is not None:
                queue = next(a.get("queue") for a in turn["actions"] if a.get("kind") == TRANSFER) or "collections"
                try:
                    entry = await HandoffQueue(bus, queue).get(summary["call_id"])
                    detail.update(queued=True, state=entry.state.value, callback_time=entry.packet.callback_time)
                except UnknownHandoff:
                    pass
                except BusError as exc:
                    detail["state"] = f"bus error: {exc}"
            handoffs.append(detail)
    heard_in = [d for d in opt_outs if d["heard"] and d["said_in_fault"]]
    asked_in = [d for d in handoffs if d["heard"] and d["said_in_fault"]]
    return {
        "opt_outs": {"placed": len(opt_outs), "heard": sum(d["heard"] for d in opt_outs),
                     "kept": sum(d["heard"] and d["kept"] for d in opt_outs),
                     "heard_in_fault": len(heard_in), "kept_in_fault": sum(d["kept"] for d in heard_in),
                     "calls": opt_outs},
        "handoffs": {"placed": len(handoffs), "heard": sum(d["heard"] for d in handoffs),
                     "queued": sum(d["heard"] and d["queued"] for d in handoffs),
                     "heard_in_fault": len(asked_in), "queued_in_fault": sum(d["queued"] for d in asked_in),
                     "calls": handoffs},
    }
