"""Checks for a stage's inbound opening: a call the debtor placed (a callback after a voicemail
or an SMS) must prove who is calling before any debt detail.

Why apart from the outbound identity check: on an outbound call the bot dialled the debtor's
number and asks for them by name, so a yes confirms; whoever dials in can say yes. The engine
therefore confirms an inbound caller only by a knowledge check (date of birth, postal code)
matched against the account, and these checks hold the script to the same rule: a
`verify_caller` knowledge node, a way on from it for a verified caller, and no debt detail
anywhere before it.
"""

from __future__ import annotations

from dialogue.problems import Problem
from dialogue.script.disclosure import node_reveals
from dialogue.script.graph import unverified_hits
from dialogue.script.models import StageScript
from dialogue.yaml_source import YamlDoc


def check_inbound(stage: StageScript, doc: YamlDoc, responses: dict[str, list[str]],
                  debt_terms: tuple[str, ...]) -> list[Problem]:
    out: list[Problem] = []
    for name, node in stage.nodes.items():
        if node.knowledge_check and "confirm_identity" not in node.on:
            out.append(doc.problem(("nodes", name, "knowledge_check"),
                                   f"knowledge check {name!r} needs on: confirm_identity (where a "
                                   "verified caller goes)", "inbound-verification"))
    if stage.inbound_start is None or stage.inbound_start not in stage.nodes:
        return out
    check = stage.settings.verify_caller
    if check is None or check not in stage.nodes or not stage.nodes[check].knowledge_check:
        out.append(doc.problem(("inbound_start",), "an inbound opening needs settings.verify_caller: "
                               "a node with knowledge_check (date_of_birth or postal_code), since "
                               "a caller's yes proves nothing", "inbound-verification"))
    elif (why := node_reveals(stage.nodes[check], responses, debt_terms)):
        out.append(doc.problem(("settings", "verify_caller"), f"the caller check {check!r} reveals "
                               f"the debt ({why})", "identity-first"))
    reveals = {name: node_reveals(node, responses, debt_terms) for name, node in stage.nodes.items()}
    for name, route in unverified_hits(stage, lambda n: bool(reveals[n]), inbound=True):
        out.append(doc.problem(("nodes", name), f"node {name!r} can be spoken to a caller not yet "
                               f"verified and reveals the debt ({reveals[name]}); path: {route}",
                               "identity-first", key=True))

    return out
