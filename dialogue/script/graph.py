"""The edges of a stage's dialogue graph, shared by the validator's checks and the policy.

Edges are labelled with what causes them: an intent, `default`, `next`, `needs:<slot>`,
`on_capture`.  Global intents apply at every waiting node that does not handle them itself.
"""

from __future__ import annotations

from collections.abc import Iterator
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
    if node.next is not None:
        yield Edge(name, "next", node.next)
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
    return [n for n in found if n in stage.nodes]


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
