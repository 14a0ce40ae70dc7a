"""Checks of what a stage does after a promise: the earlier promise's values are said only
where they exist, and the follow-up policy has what it needs.

{prior_promise_amount} and {prior_promise_date} have a value only on a call that follows up a
broken promise (the branch a node names with `on_broken_promise`) and in the SMS that reminds
of a promise (`promise_reminder`).  A prompt using them elsewhere would fail on every other
call, so it is refused here, with the path that reaches it.  Past the branch the identity
check has already been passed: the identity-first walk (checks_graph) follows the branch edge
like any other, so a branch placed before identity is reported there.
"""

from __future__ import annotations

from collections import deque

from dialogue.problems import Problem
from dialogue.promises import REMINDER_TRIGGER
from dialogue.script.disclosure import node_texts
from dialogue.script.graph import edges, roots
from dialogue.script.loader import LocaleScripts
from dialogue.script.models import RESUME, StageEntry, StageScript
from dialogue.script.templates import variables_in
from dialogue.variables import PROMISE_VARIABLES
from dialogue.yaml_source import YamlDoc

REMINDER = REMINDER_TRIGGER  # the SMS trigger that carries the promise


def _promise_variables(texts: list[str]) -> list[str]:
    return sorted({v for text in texts for v in variables_in(text) if v in PROMISE_VARIABLES})


def check_branch(stage: StageScript, doc: YamlDoc, responses: dict[str, list[str]]) -> list[Problem]:
    """Nodes saying an earlier promise must be reachable only through `on_broken_promise`."""
    out: list[Problem] = []
    for name, node in stage.nodes.items():
        if node.on_broken_promise is not None and node.on_broken_promise == node.next:
            out.append(doc.problem(("nodes", name, "on_broken_promise"), f"node {name!r}: on_broken_promise "
                                   "goes where next: goes; name the broken-promise branch", "prior-promise"))
    parents: dict[str, tuple[str, str] | None] = {r: None for r in roots(stage)}
    queue = deque(parents)
    while queue:
        name = queue.popleft()
        used = _promise_variables(node_texts(stage.nodes[name], responses))
        if used:
            path, cur = [], name
            while parents.get(cur):
                prev, label = parents[cur]  # type: ignore[misc]
                path.append(f"{prev} -[{label}]-> {cur}")
                cur = prev
            route = "; ".join(reversed(path)) or f"{name} is entered first"
            out.append(doc.problem(("nodes", name), f"node {name!r} says {{{used[0]}}}, which has a value "
                                   "only past an on_broken_promise branch, but a call without a broken "
                                   f"promise reaches it: {route}", "prior-promise", key=True))
            continue
        for edge in edges(stage, name):
            if edge.label == "on_broken_promise" or edge.target == RESUME or edge.target not in stage.nodes:
                continue
            if edge.target not in parents:
                parents[edge.target] = (name, edge.label)
                queue.append(edge.target)
    return out


def check_policy(scripts: LocaleScripts, index: int, entry: StageEntry) -> list[Problem]:
    """The stage's follow-up policy and its SMS: the reminder has a template, and only the
    reminder's template says the earlier promise."""
    doc, base = scripts.docs["strategy.yaml"], ("stages", index)
    out: list[Problem] = []
    for trigger, template in entry.sms.items():
        used = _promise_variables([scripts.sms.get(template, "")])
        if used and trigger != REMINDER:
            out.append(doc.problem(base + ("sms", trigger), f"SMS {template!r} says {{{used[0]}}}, which only "
                                   f"the {REMINDER} trigger fills", "prior-promise"))
    policy = entry.follow_up
    if policy is not None and policy.reminder_days_before > 0 and REMINDER not in entry.sms:
        out.append(doc.problem(base + ("follow_up", "reminder_days_before"), f"stage {entry.name!r} reminds of "
                               f"promises but names no SMS template: add sms: {{{REMINDER}: <template>}}",
                               "unknown-sms"))
    if policy is None and REMINDER in entry.sms:
        out.append(doc.problem(base + ("sms", REMINDER), f"stage {entry.name!r} has no follow_up: policy, so "
                               "its promise reminder is never sent", "prior-promise", severity="warning"))
    stage = scripts.stages.get(entry.name)
    if (policy is not None and policy.call_when_broken and stage is not None
            and not any(n.on_broken_promise for n in stage.nodes.values())):
        out.append(doc.problem(base + ("follow_up", "call_when_broken"), f"stage {entry.name!r} calls about "
                               "broken promises but its script has no on_broken_promise branch: the call "
                               "will not mention the promise", "prior-promise", severity="warning"))
    return out


def check_follow_ups(scripts: LocaleScripts) -> list[Problem]:
    out: list[Problem] = []
    for _entry, stage, doc in scripts.loaded_stages():
        out += check_branch(stage, doc, scripts.responses)
        for name, node in stage.nodes.items():
            for i, action in enumerate(node.actions):
                used = _promise_variables([scripts.sms.get(action.sms or "", "")])
                if used:
                    out.append(doc.problem(("nodes", name, "actions", i, "sms"), f"SMS {action.sms!r} says "
                                           f"{{{used[0]}}}, which only the {REMINDER} trigger fills",
                                           "prior-promise"))
    for index, entry in enumerate(scripts.strategy.stages):
        out += check_policy(scripts, index, entry)
    return out
