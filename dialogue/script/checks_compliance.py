"""The jurisdiction's disclosures, checked on every stage script written for it.

The locale's strategy names the profile (`jurisdiction: us`); each stage must then mark,
with `disclosure: NAME` on a node the call can reach, every disclosure the profile requires.
Two placements are checked on every path, because a disclosure said at the wrong moment is
as bad as none: the recording notice must be given before the debtor first answers (on the
start node or its `next:` chain), and the debt-collection notice must never be reachable
before identity is confirmed (it tells a third party there is a debt).
"""

from __future__ import annotations

from pathlib import Path

from dialogue.compliance.profile import JurisdictionProfile, ProfileError, load_profile
from dialogue.script.graph import reachable, unverified_hits
from dialogue.script.loader import STRATEGY_FILE, LocaleScripts
from dialogue.script.models import StageScript
from dialogue.problems import Problem
from dialogue.yaml_source import YamlDoc

DEBT_NOTICE = "debt_collection_notice"
RECORDING_NOTICE = "recording_notice"


def profiles_folder(scripts: LocaleScripts) -> Path | None:
    """The jurisdictions folder beside the scripts (scripts kept together, wherever they are),
    else None for the default one."""
    beside = scripts.root.parent / "jurisdictions"
    return beside if beside.is_dir() else None


def _profile(scripts: LocaleScripts) -> tuple[JurisdictionProfile | None, list[Problem]]:
    name = scripts.strategy.jurisdiction
    if name is None:
        return None, []
    try:
        return load_profile(name, profiles_folder(scripts)), []
    except ProfileError as exc:
        doc = scripts.docs[STRATEGY_FILE]
        return None, [doc.problem(("jurisdiction",), str(exc), "unknown-jurisdiction")]


def _opening(stage: StageScript, start: str) -> list[str]:
    """Nodes spoken before the debtor can first answer: `start` and its `next:` chain."""
    chain, name = [], start
    while name in stage.nodes and name not in chain:
        chain.append(name)
        name = stage.nodes[name].next or ""
    return chain


def _before_identity(stage: StageScript, wanted: str) -> tuple[str, str] | None:
    """The first node marked `wanted` reachable with identity unconfirmed, and the path to it."""
    return next(unverified_hits(stage, lambda n: stage.nodes[n].disclosure == wanted), None)


def check_stage_disclosures(stage: StageScript, doc: YamlDoc, profile: JurisdictionProfile) -> list[Problem]:
    out: list[Problem] = []
    live = reachable(stage)
    marked: dict[str, list[str]] = {}
    for name, node in stage.nodes.items():
        if node.disclosure is not None and name in live:
            marked.setdefault(node.disclosure, []).append(name)
    for wanted in profile.required_disclosures:
        if wanted not in marked:
            out.append(doc.problem(("nodes",), f"stage {stage.stage!r} never says the {wanted} that "
                                   f"jurisdiction {profile.name!r} requires: mark the node that says it "
                                   f"with `disclosure: {wanted}`", "missing-disclosure", key=True))
    # Both openings (the call we place, the call the debtor places) give it before the first answer.
    for start in (stage.start, stage.inbound_start):
        if RECORDING_NOTICE not in marked or start is None or start not in stage.nodes:
            continue
        opening = _opening(stage, start)
        if not set(marked[RECORDING_NOTICE]) & set(opening):
            late = [n for n in marked[RECORDING_NOTICE] if n not in opening]
            out.append(doc.problem(("nodes", late[0], "disclosure"), f"the recording notice must be given "
                                   f"before the debtor first answers (on {start!r} or its next: chain), "
                                   f"not at {late[0]!r}", "late-disclosure"))
    if DEBT_NOTICE in marked and profile.debt_notice_after_identity:
        early = _before_identity(stage, DEBT_NOTICE)
        if early is not None:
            name, route = early
            out.append(doc.problem(("nodes", name, "disclosure"), f"the debt-collection notice at {name!r} can "
                                   f"be said before identity is confirmed; path: {route}",
                                   "debt-notice-before-identity"))
    return out


def check_disclosures(scripts: LocaleScripts) -> list[Problem]:
    profile, problems = _profile(scripts)
    if profile is None:
        return problems
    for _entry, stage, doc in scripts.loaded_stages():
        problems += check_stage_disclosures(stage, doc, profile)
    return problems
