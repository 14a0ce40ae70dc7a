"""Graph checks of one stage: references, reachability, dead ends, intent coverage, and the
identity-first rule on every path."""

from __future__ import annotations

import difflib

from dialogue.intents import INTENT_SET, PROTECTED_INTENTS
from dialogue.script.disclosure import node_reveals
from dialogue.script.graph import edges, is_waiting, reachable, unhandled_intents, unverified_hits
from dialogue.script.models import PROMISE_OUTCOMES, RESUME, StageScript
from dialogue.problems import Problem
from dialogue.yaml_source import YamlDoc


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_references(stage: StageScript, doc: YamlDoc, responses: dict[str, list[str]]) -> list[Problem]:
    names = list(stage.nodes)
    out: list[Problem] = []

    def target(path: tuple, value: str, *, resume_ok: bool = True) -> None:
        if value == RESUME and resume_ok:
            return
        if value not in stage.nodes:
            out.append(doc.problem(path, f"unknown node {value!r}{_suggest(value, names)}", "unknown-node"))

    target(("start",), stage.start, resume_ok=False)
    if stage.inbound_start is not None:
        target(("inbound_start",), stage.inbound_start, resume_ok=False)
    for field in ("on_retry_limit", "verify_identity", "abuse_warning", "abuse_limit", "no_response",
                  "no_agent", "identity_question", "verify_caller", "on_verification_failed"):
        value = getattr(stage.settings, field)
        if value is not None:
            target(("settings", field), value, resume_ok=False)
    for intent, value in stage.global_.items():
        target(("global", intent), value)
        if intent not in INTENT_SET:
            out.append(doc.problem(("global", intent), f"unknown intent {intent!r}"
                                   f"{_suggest(intent, sorted(INTENT_SET))}", "unknown-intent", key=True))
    for name, node in stage.nodes.items():
        base = ("nodes", name)
        for intent, value in node.on.items():
            target(base + ("on", intent), value)
            if intent not in INTENT_SET:
                out.append(doc.problem(base + ("on", intent), f"unknown intent {intent!r}"
                                       f"{_suggest(intent, sorted(INTENT_SET))}", "unknown-intent", key=True))
        for field in ("default", "next", "on_capture", "readback", "on_broken_promise"):
            value = getattr(node, field)
            if value is not None:
                target(base + (field,), value)
        for slot, value in node.needs.items():
            target(base + ("needs", slot), value, resume_ok=False)
        if node.response is not None and node.response not in responses:
            out.append(doc.problem(base + ("response",), f"unknown response {node.response!r}"
                                   f"{_suggest(node.response, sorted(responses))}", "unknown-response"))
        if node.say is None and node.response is None and node.next is None:
            out.append(doc.problem(base, f"node {name!r} says nothing and does not continue", "empty-node", key=True))
        if node.on_broken_promise is not None and node.next is None:
            out.append(doc.problem(base + ("on_broken_promise",), f"node {name!r}: on_broken_promise "
                                   "replaces next: on a follow-up call, so the node needs a next:",
                                   "unused-transition"))
        if node.next is not None and (node.on or node.default or node.on_capture):
            out.append(doc.problem(base + ("next",), f"node {name!r} continues at once with next:, "
                                   "so its on/default/on_capture are never used", "unused-transition"))
        if node.is_terminal and (node.on or node.default or node.next):
            out.append(doc.problem(base, f"node {name!r} ends the call, so its transitions are never used",
                                   "unused-transition", key=True, severity="warning"))
        if node.on_capture and not node.capture:
            out.append(doc.problem(base + ("on_capture",), f"node {name!r} has on_capture but captures "
                                   "nothing: add capture: {date: ..., amount: ...}", "unused-transition"))
        out += _check_readback(stage, doc, name)
        if node.capture and not is_waiting(node):
            out.append(doc.problem(base + ("capture",), f"node {name!r} does not wait for an answer, "
                                   "so it cannot capture one", "unused-transition"))
    return out


def _check_readback(stage: StageScript, doc: YamlDoc, name: str) -> list[Problem]:
    """A promise is recorded only after the debtor heard it read back and said yes: the node
    recording one names a read-back node, which waits for the answer and routes `affirm` to it."""
    node, base = stage.nodes[name], ("nodes", name)
    if node.outcome in PROMISE_OUTCOMES and node.readback is None:
        return [doc.problem(base, f"node {name!r} records a promise ({node.outcome}) without "
                            "reading it back: add readback: <node asking 'So that's ... correct?'>",
                            "promise-readback", key=True)]
    back = stage.nodes.get(node.readback or "")
    if back is None:
        return []
    if not is_waiting(back):
        return [doc.problem(base + ("readback",), f"read-back node {node.readback!r} must wait for "
                            "the debtor's yes (no next:, no end)", "promise-readback")]
    if back.on.get("affirm") != name:
        return [doc.problem(base + ("readback",), f"read-back node {node.readback!r} must route "
                            f"affirm to {name!r}", "promise-readback")]
    return []


def check_shape(stage: StageScript, doc: YamlDoc) -> list[Problem]:
    """Unreachable nodes, dead ends, nodes the call cannot end from, unhandled intents."""
    out: list[Problem] = []
    live = reachable(stage)
    for name in stage.nodes:
        if name not in live:
            out.append(doc.problem(("nodes", name), f"node {name!r} is unreachable from {stage.start!r}",
                                   "unreachable", key=True))
    for intent in sorted(PROTECTED_INTENTS):
        if intent not in stage.global_:
            out.append(doc.problem(("global",), f"global: must handle the protected intent {intent!r}",
                                   "unhandled-intent", key=True))
    # Which nodes can reach an end of the call (resume returns to a waiting node, so it counts).
    can_end = {n for n, node in stage.nodes.items() if node.is_terminal}
    changed = True
    while changed:
        changed = False
        for name in stage.nodes:
            if name in can_end:
                continue
            if any(e.target in can_end or e.target == RESUME for e in edges(stage, name)):
                can_end.add(name)
                changed = True
    for name, node in stage.nodes.items():
        if name not in live:
            continue
        outgoing = [e for e in edges(stage, name) if e.target in stage.nodes or e.target == RESUME]
        if not node.is_terminal and not outgoing:
            out.append(doc.problem(("nodes", name), f"dead end: node {name!r} neither ends the call "
                                   "nor leads anywhere", "dead-end", key=True))
        elif name not in can_end:
            out.append(doc.problem(("nodes", name), f"no way to end the call from node {name!r}",
                                   "dead-end", key=True))
        if is_waiting(node):
            missing = unhandled_intents(stage, node)
            if missing:
                out.append(doc.problem(("nodes", name), f"node {name!r} does not handle intent(s) "
                                       f"{', '.join(missing)}: add them to on:, default: or global:",
                                       "unhandled-intent", key=True))
    return out


def check_identity_first(stage: StageScript, doc: YamlDoc, responses: dict[str, list[str]],
                         debt_terms: tuple[str, ...]) -> list[Problem]:
    """Walk every path with identity still unconfirmed; any node on it that reveals the debt
    is reported with the path that reaches it."""
    out: list[Problem] = []
    verify = stage.nodes.get(stage.settings.verify_identity)
    if verify is not None:
        why = node_reveals(verify, responses, debt_terms)
        if why:
            out.append(doc.problem(("settings", "verify_identity"),
                                   f"the identity check node {stage.settings.verify_identity!r} reveals "
                                   f"the debt ({why})", "identity-first"))
    reveals = {name: node_reveals(node, responses, debt_terms) for name, node in stage.nodes.items()}
    for name, route in unverified_hits(stage, lambda n: bool(reveals[n])):
        out.append(doc.problem(("nodes", name), f"node {name!r} can be spoken before identity is "
                               f"confirmed and reveals the debt ({reveals[name]}); path: {route}",
                               "identity-first", key=True))
    return out
