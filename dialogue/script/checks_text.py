"""Checks of what the bot says: placeholders, variables, slots, and forbidden language."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator

from dialogue.script.loader import LocaleScripts
from dialogue.script.models import LintRules, StageScript
from dialogue.problems import Problem
from dialogue.script.templates import syntax_errors, variables_in
from dialogue.yaml_source import PathKey, YamlDoc
from dialogue.variables import CONSTANTS, SLOTS, VARIABLES


def stage_texts(stage: StageScript) -> Iterator[tuple[PathKey, str, str]]:
    """(path, text, node name) for every literal text in a stage file."""
    for name, node in stage.nodes.items():
        if isinstance(node.say, list):
            for i, text in enumerate(node.say):
                yield ("nodes", name, "say", i), text, name
        elif node.say is not None:
            yield ("nodes", name, "say"), node.say, name
        if node.reprompt:
            yield ("nodes", name, "reprompt"), node.reprompt, name


def response_texts(responses: dict[str, list[str]], raw_is_list: dict[str, bool]) -> Iterator[tuple[PathKey, str, str]]:
    for key, variants in responses.items():
        for i, text in enumerate(variants):
            path: PathKey = ("responses", key, i) if raw_is_list[key] else ("responses", key)
            yield path, text, key


def check_text(doc: YamlDoc, path: PathKey, text: str, constants: dict[str, str],
               lint: LintRules, *, slots_ok: set[str] | None, owner: str) -> list[Problem]:
    out: list[Problem] = []
    for index, message in syntax_errors(text):
        out.append(doc.problem(path, message, "placeholder", at=index))
    for var in variables_in(text):
        at = text.index("{" + var + "}")
        if var not in VARIABLES:
            close = difflib.get_close_matches(var, list(VARIABLES), n=1)
            hint = f" (did you mean {{{close[0]}}}?)" if close else ""
            out.append(doc.problem(path, f"undefined variable {{{var}}}{hint}", "undefined-variable", at=at, span=len(var) + 2))
        elif var in CONSTANTS and var not in constants:
            out.append(doc.problem(path, f"{{{var}}} needs a value under constants: in strategy.yaml",
                                   "undefined-variable", at=at, span=len(var) + 2))
        elif var in SLOTS and slots_ok is not None and var not in slots_ok:
            out.append(doc.problem(path, f"{owner!r} uses the slot {{{var}}}, which may still be empty: "
                                   f"add needs: {{{var}: <node that asks for it>}}", "unguarded-slot", at=at, span=len(var) + 2))
    for rule in lint.forbidden:
        try:
            pattern = re.compile(rule.pattern, re.IGNORECASE)
        except re.error:
            continue  # reported once by check_lint_rules
        for match in pattern.finditer(text):
            out.append(doc.problem(path, f"forbidden language ({rule.reason}): {match.group(0)!r}",
                                   "forbidden-language", at=match.start(),
                                   span=len(match.group(0))))
    return out


def check_lint_rules(scripts: LocaleScripts) -> list[Problem]:
    doc = scripts.docs[scripts.strategy.lint]
    out = []
    for i, rule in enumerate(scripts.lint.forbidden):
        try:
            re.compile(rule.pattern)
        except re.error as exc:
            out.append(doc.problem(("forbidden", i, "pattern"), f"invalid regular expression {rule.pattern!r}: {exc}", "lint-rule"))
    return out


def check_locale_texts(scripts: LocaleScripts) -> list[Problem]:
    out: list[Problem] = []
    constants = scripts.strategy.constants
    lint = scripts.lint
    for _entry, stage, doc in scripts.loaded_stages():
        for path, text, owner in stage_texts(stage):
            guarded = set(stage.nodes[owner].needs)
            out += check_text(doc, path, text, constants, lint, slots_ok=guarded, owner=owner)
        for name, node in stage.nodes.items():
            guarded = set(node.needs)
            for text in scripts.responses.get(node.response or "", []):
                for var in variables_in(text):
                    if var in SLOTS and var not in guarded:
                        out.append(doc.problem(("nodes", name, "response"),
                                               f"{name!r} uses the slot {{{var}}} through response "
                                               f"{node.response!r}: add needs: {{{var}: <node>}}",
                                               "unguarded-slot"))
            for i, action in enumerate(node.actions):
                if action.sms is None:
                    continue
                if action.sms not in scripts.sms:
                    out.append(doc.problem(("nodes", name, "actions", i, "sms"),
                                           f"unknown SMS template {action.sms!r}", "unknown-sms"))
                    continue
                for var in variables_in(scripts.sms[action.sms]):
                    if var in SLOTS and var not in node.needs:
                        out.append(doc.problem(("nodes", name, "actions", i, "sms"),
                                               f"SMS {action.sms!r} uses the slot {{{var}}}: add "
                                               f"needs: {{{var}: <node>}} to {name!r}", "unguarded-slot"))
    rdoc = scripts.docs[scripts.strategy.responses]
    raw = rdoc.data.get("responses", {})
    is_list = {k: isinstance(v, list) for k, v in raw.items()}
    for path, text, owner in response_texts(scripts.responses, is_list):
        out += check_text(rdoc, path, text, constants, lint, slots_ok=None, owner=owner)
    used = {n.response for s in scripts.stages.values() for n in s.nodes.values() if n.response}
    for key in scripts.responses if scripts.all_stages_loaded else ():  # a broken stage may use them
        if key not in used:
            out.append(rdoc.problem(("responses", key), f"response {key!r} is not used by any stage",
                                    "unused-response", key=True, severity="warning"))
    sdoc = scripts.docs[scripts.strategy.sms]
    for key, text in scripts.sms.items():
        out += check_text(sdoc, ("templates", key), text, constants, lint, slots_ok=None, owner=key)
    return out + check_lint_rules(scripts)
