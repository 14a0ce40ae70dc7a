"""The edges of a stage's dialogue graph, shared by the validator's checks and the policy.

Edges are labelled with what causes them: an intent, `default`, `next`, `on_broken_promise`,
`needs:<slot>`, `on_capture`.  Global intents apply at every waiting node that does not handle them itself.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from dialogue.intents import ENGINE_HANDLED, INTENTS, PROTECTED_INTENTS
from dialogue.script.models import RESUME, Node, StageScript


@dataclass(frozen=True)
class Edge:
    source: str
    label: str
    target: str
    intent: str | None = None  # the debtor intent that takes this edge, if one does


def route_intent(stage: StageScript, node: Node, intent: str) -> str | None:
    """The target an intent leads to from a waiting node: on, then default, then global.

    Protected intents skip `default`, so a catch-all never swallows an opt-out."""
    if intent in node.on:
        return node.on[intent]
    if node.default is not None and intent not in PROTECTED_INTENTS:
        return node.default
    return stage.global_.get(intent)


def is_waiting(node: Node) -> bool:
    """The bot stops here and listens (it neither continues at once nor ends the call)."""
    return node.next is None and not node.is_terminal


def edges(stage: StageScript, name: str) -> Iterator[Edge]:
    node = stage.nodes[name]
    for slot, target in node.needs.items():
        yield Edge(name, f"needs:{slot}", target)
    if node.readback is not None:
        yield Edge(name, "readback", node.readback)
    if node.next is not None:
        yield Edge(name, "next", node.next)
        if node.on_broken_promise is not None:
            yield Edge(name, "on_broken_promise", node.on_broken_promise)
    if not is_waiting(node):
        return
    if node.on_capture is not None:
        yield Edge(name, "on_capture", node.on_capture)
    for intent in INTENTS:
        target = route_intent(stage, node, intent)
        if target is not None:
            yield Edge(name, intent, target, intent)


def roots(stage: StageScript) -> list[str]:
    """Nodes the engine can enter without a transition: start and the settings' nodes."""
    s = stage.settings
    found = [stage.start, s.on_retry_limit, s.verify_identity, s.abuse_warning, s.abuse_limit]
    if s.no_response:
        found.append(s.no_response)
    if s.no_agent:
        found.append(s.no_agent)
    if s.identity_question:
        found.append(s.identity_question)
    found += [n for n in inbound_roots(stage) if n not in found]
    return [n for n in found if n in stage.nodes]


def inbound_roots(stage: StageScript) -> list[str]:
    """Nodes a call the debtor placed can enter without a transition (none without an
    inbound opening): the opening, the caller check, and the settings' nodes it can reach."""
    if stage.inbound_start is None:
        return []
    s = stage.settings
    found = [stage.inbound_start, s.verify_caller, s.on_verification_failed, s.on_retry_limit,
             s.abuse_warning, s.abuse_limit, s.no_response, s.no_agent]
    return [n for n in dict.fromkeys(found) if n is not None and n in stage.nodes]


def reachable(stage: StageScript) -> set[str]:
    seen: set[str] = set()
    todo = roots(stage)
    while todo:
        name = todo.pop()
        if name in seen or name not in stage.nodes:
            continue
        seen.add(name)
        todo.extend(e.target for e in edges(stage, name) if e.target != RESUME)
    return seen


def unhandled_intents(stage: StageScript, node: Node) -> list[str]:
    """Intents with no route from a waiting node (repeat/out_of_scope the engine answers)."""
    return [i for i in INTENTS if i not in ENGINE_HANDLED and route_intent(stage, node, i) is None]


def unverified_hits(stage: StageScript, hit: Callable[[str], bool],
                    inbound: bool = False) -> Iterator[tuple[str, str]]:
    """Nodes the call can reach with identity still unconfirmed (from every root, not crossing a
    confirming edge) for which `hit(name)` is true, each with the path that reaches it first;
    the walk does not go on past a hit.  The identity-first check and the debt-notice check
    share it, so "before identity" means one thing.  `inbound`: a call the debtor placed, where
    only a knowledge check's verified answer confirms (the engine ignores a bare yes there)."""
    starts = inbound_roots(stage) if inbound else roots(stage)
    parents: dict[str, tuple[str, str] | None] = {r: None for r in starts}
    queue = deque(parents)
    while queue:
        name = queue.popleft()
        node = stage.nodes[name]
        if hit(name):
            path, cur = [], name
            while parents.get(cur):
                prev, label = parents[cur]  # type: ignore[misc]
                path.append(f"{prev} -[{label}]-> {cur}")
                cur = prev
            yield name, "; ".join(reversed(path)) or f"{name} is entered first"
            continue
        for edge in edges(stage, name):
            if inbound:
                confirms = edge.intent == "confirm_identity" and node.knowledge_check is not None
            else:
                confirms = edge.intent == "confirm_identity" or (edge.intent == "affirm" and node.identity_check)
            if confirms or edge.target == RESUME or edge.target not in stage.nodes:
                continue
            if edge.target not in parents:
                parents[edge.target] = (name, edge.label)
                queue.append(edge.target)
