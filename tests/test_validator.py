"""Tests for the dialogue-script validator (`voicebot scripts validate`).

Each case starts from a fresh copy of the shipped English locale, makes one small mistake a
script designer could plausibly make by editing the YAML text, validates the copy, and checks
that the expected problem is reported with the right code and severity, in the right file, at
the right line (found by searching the edited file, never hard-coded), with a column >= 1 and
a message that names the offending thing.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from dialogue.script.checks import check_locale
from dialogue.script.loader import read_locale
from dialogue.problems import Problem
from dialogue.yaml_source import load_yaml
from voicebot.script_validation import validate_paths

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
EN = SCRIPTS / "en"
ZH = SCRIPTS / "zh"
SCHEMA_DIR = SCRIPTS / "schema"
VOICEBOT = REPO / ".venv" / "bin" / "voicebot"
PROBLEM_LINE = re.compile(r"^[^:]+:\d+:\d+: (error|warning): .+ \[[a-z-]+\]$")

# ---------------------------------------------------------------------------------------------
# Helpers: copy the English locale, edit YAML text, validate, and look problems up.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """Replace `old` (which must occur exactly once) with `new` in `file`; old=None appends."""

    file: str
    old: str | None
    new: str


def replace(file: str, old: str, new: str) -> Edit:
    return Edit(file, old, new)


def append(file: str, text: str) -> Edit:
    return Edit(file, None, text)


def apply_edit(root: Path, edit: Edit) -> None:
    path = root / edit.file
    text = path.read_text(encoding="utf-8")
    if edit.old is None:
        text = text if text.endswith("\n") else text + "\n"
        text += edit.new
    else:
        count = text.count(edit.old)
        assert count == 1, f"edit target occurs {count} times in {edit.file}: {edit.old!r}"
        text = text.replace(edit.old, edit.new)
    path.write_text(text, encoding="utf-8")


def same_file(problem: Problem, path: Path) -> bool:
    return Path(problem.file).resolve() == path.resolve()


@dataclass
class Validated:
    root: Path
    problems: list[Problem]

    def text(self, file: str) -> str:
        return (self.root / file).read_text(encoding="utf-8")

    def line_of(self, file: str, needle: str, nth: int | None = None) -> int:
        """1-based line of the line holding `needle` (unique unless nth picks an occurrence)."""
        hits = [n for n, line in enumerate(self.text(file).splitlines(), 1) if needle in line]
        if nth is None:
            assert len(hits) == 1, f"{needle!r} is on lines {hits} of {file}; make the needle unique"
            return hits[0]
        return hits[nth]

    def line_text(self, file: str, line: int) -> str:
        return self.text(file).splitlines()[line - 1]

    def in_file(self, file: str) -> list[Problem]:
        return [p for p in self.problems if same_file(p, self.root / file)]

    def with_code(self, code: str) -> list[Problem]:
        return [p for p in self.problems if p.code == code]

    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def listing(self) -> str:
        return "\n".join(str(p) for p in self.problems) or "(no problems)"

    def expect(self, code: str, file: str, line: int, names: tuple[str, ...] = (),
               severity: str = "error") -> Problem:
        """The problem with this code at file:line whose message names everything in `names`."""
        found = [p for p in self.in_file(file) if p.code == code and p.line == line
                 and all(n in p.message for n in names)]
        assert found, (f"expected [{code}] at {file}:{line} naming {names}; "
                       f"line {line} is {self.line_text(file, line)!r}; got:\n{self.listing()}")
        problem = found[0]
        assert problem.severity == severity, str(problem)
        assert problem.column >= 1, str(problem)
        return problem


def validate_copy(tmp_path: Path, *edits: Edit, source: Path = EN) -> Validated:
    root = tmp_path / source.name
    shutil.copytree(source, root)
    for edit in edits:
        apply_edit(root, edit)
    return Validated(root, validate_paths([root]))


def emitted_codes() -> set[str]:
    """Every problem code written in the validator's source (Problem(...) and doc.problem(...))."""
    codes: set[str] = set()
    for path in sorted((REPO / "dialogue" / "script").glob("*.py")) + [REPO / "voicebot" / "script_validation.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name == "Problem" and len(node.args) >= 6:
                arg = node.args[5]
            elif name == "problem" and len(node.args) >= 3:
                arg = node.args[2]
            else:
                arg = next((k.value for k in node.keywords if k.arg == "code"), None)
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                codes.add(arg.value)
    return codes


# ---------------------------------------------------------------------------------------------
# Text of the shipped English scripts the edits below start from.
# ---------------------------------------------------------------------------------------------

REFUSED_SAY = ("    say: \"I understand. We'll note that on your account. You can pay at any time by "
               "{payment_methods}. Goodbye.\"\n")
CONSEQUENCES_FEE = "a late fee of {late_fee}"
OFFER_PLAN_ON = "      affirm: plan_transfer\n      deny: plan_callback\n"
POLICE_EDIT = replace("early.yaml", "We'll note that on your account.",
                      "We'll note that on your account, or we will call the police.")
EARLY_STAGE = "    script: early.yaml\n    voices: [en-joe, en-kate]\n    sms:\n      after_call_no_payment: bill_reminder\n"
UNUSED_EDIT = append("responses.yaml", '  ask_employer: "Where do you work?"\n')
_EARLY = (EN / "early.yaml").read_text(encoding="utf-8")
EARLY_GLOBAL_BLOCK = _EARLY[_EARLY.index("global:\n"):_EARLY.index("nodes:\n")]
_NLU = (EN / "nlu.yml").read_text(encoding="utf-8")
NLU_GOODBYE_BLOCK = _NLU[_NLU.index("- intent: goodbye\n"):_NLU.index("- intent: repeat\n")]


@dataclass(frozen=True)
class Case:
    id: str
    edits: tuple[Edit, ...]
    code: str
    file: str
    needle: str                      # text on the line the problem must point at (after edits)
    names: tuple[str, ...] = ()      # what the message must name
    severity: str = "error"
    nth: int | None = None           # which occurrence of needle, when it is not unique
    col_at: str | None = None        # if set, the column must point at this text on the line


CASES: list[Case] = [
    # --- YAML syntax and duplicate keys -------------------------------------------------------
    Case("yaml-syntax/colon-in-plain-prompt",
         (replace("early.yaml", REFUSED_SAY,
                  "    say: I understand. Please note: you can pay at any time. Goodbye.\n"),),
         "yaml-syntax", "early.yaml", "Please note:", ("mapping values are not allowed",),
         col_at=": you can pay"),
    Case("yaml-syntax/tab-indent",
         (replace("sms.yaml", "  payment_details:", "\tpayment_details:"),),
         "yaml-syntax", "sms.yaml", "payment_details:", ("'\\t'",), col_at="\t"),
    Case("duplicate-key/node-defined-twice",
         (append("early.yaml", "\n  greeting:\n    say: \"Hello {name}, goodbye.\"\n    end: true\n"),),
         "duplicate-key", "early.yaml", "  greeting:", ("'greeting'",), nth=-1, col_at="greeting"),
    Case("duplicate-key/intent-twice-in-on",
         (replace("early.yaml", OFFER_PLAN_ON, OFFER_PLAN_ON + "      affirm: plan_callback\n"),),
         "duplicate-key", "early.yaml", "affirm: plan_callback", ("'affirm'",), col_at="affirm"),
    Case("duplicate-key/response-twice",
         (append("responses.yaml", '  ask_date: "When can you pay?"\n'),),
         "duplicate-key", "responses.yaml", "When can you pay?", ("'ask_date'",)),
    # --- voicemail: a limited-content message (dialogue/script/checks_voicemail.py) ----------
    Case("voicemail-reveals/amount",
         (replace("early.yaml", "with a message for {first_name}.", "about {amount}, for {first_name}."),),
         "voicemail-reveals", "early.yaml", "  voicemail:", ("{amount}",), col_at="{amount}"),
    Case("voicemail-reveals/debt-term",
         (replace("early.yaml", "Please call us back at {callback_number}",
                  "Please call us back about your loan at {callback_number}"),),
         "voicemail-reveals", "early.yaml", "  voicemail:", ("'loan'", "lint.yaml"), col_at="loan"),
    Case("voicemail-slot/callback-time",
         (replace("early.yaml", "and ask for {agent_name}. Thank you.\"\n  no_agent",
                  "and ask for {agent_name} {callback_time}. Thank you.\"\n  no_agent"),),
         "voicemail-slot", "early.yaml", "  voicemail:", ("{callback_time}",), col_at="{callback_time}"),
    Case("voicemail-incomplete/no-callback-number",
         (replace("early.yaml", "Please call us back at {callback_number} and ask", "Please ask"),),
         "voicemail-incomplete", "early.yaml", "  voicemail:", ("{callback_number}",), severity="warning"),
    # --- structure (JSON-Schema-like checks through the pydantic models) ----------------------
    Case("structure/unknown-node-field-with-hint",
         (replace("early.yaml", "    interruptible: false\n", "    interruptable: false\n"),),
         "structure", "early.yaml", "interruptable:",
         ("unknown field 'interruptable'", "did you mean 'interruptible'"), col_at="interruptable"),
    Case("structure/unknown-stage-field-with-hint",
         (replace("strategy.yaml", "    voices: [en-kate, en-joe]\n", "    voice: en-kate\n"),),
         "structure", "strategy.yaml", "voice: en-kate",
         ("unknown field 'voice'", "did you mean 'voices'"), col_at="voice"),
    Case("structure/missing-field-in-stage",
         (replace("strategy.yaml",
                  "script: mid.yaml\n    voices: [en-joe, en-kate]\n", "script: mid.yaml\n"),),
         "structure", "strategy.yaml", "- name: mid", ("missing field 'voices'", "stages.1"),
         col_at="name: mid"),
    Case("structure/wrong-type-int",
         (replace("early.yaml", "  max_reprompts: 2\n", "  max_reprompts: two\n"),),
         "structure", "early.yaml", "max_reprompts: two", ("settings.max_reprompts", "integer"),
         col_at="two"),
    Case("structure/wrong-type-list",
         (replace("strategy.yaml", "    voices: [en-kate, en-joe]\n", "    voices: en-kate\n"),),
         "structure", "strategy.yaml", "voices: en-kate", ("stages.2.voices", "list"),
         col_at="en-kate"),
    Case("structure/wrong-literal",
         (replace("early.yaml", "    outcome: refused\n", "    outcome: refusal\n"),),
         "structure", "early.yaml", "outcome: refusal", ("nodes.refused_close.outcome",),
         col_at="refusal"),
    # An unquoted keypad digit is read as a number; the problem must point at that entry.
    Case("structure/unquoted-dtmf-digit",
         (replace("strategy.yaml", '  "9": stop_calling\n', '  "9": stop_calling\n  5: affirm\n'),),
         "structure", "strategy.yaml", "  5: affirm", ("5",)),
    # --- references ----------------------------------------------------------------------------
    Case("unknown-node/default-typo",
         (replace("early.yaml", "    on_capture: callback_confirm\n    default: callback_confirm\n",
                  "    on_capture: callback_confirm\n    default: callback_confrim\n"),),
         "unknown-node", "early.yaml", "callback_confrim",
         ("unknown node 'callback_confrim'", "did you mean 'callback_confirm'"), col_at="callback_confrim"),
    Case("unknown-node/settings",
         (replace("early.yaml", "  abuse_limit: abuse_close\n", "  abuse_limit: abuse_end\n"),),
         "unknown-node", "early.yaml", "abuse_limit: abuse_end", ("'abuse_end'",), col_at="abuse_end"),
    Case("unknown-node/global-target",
         (replace("early.yaml", "  ask_amount: tell_amount\n", "  ask_amount: tell_amonut\n"),),
         "unknown-node", "early.yaml", "tell_amonut", ("'tell_amonut'", "did you mean 'tell_amount'"),
         col_at="tell_amonut"),
    Case("unknown-node/needs-target",
         (replace("early.yaml", "    response: confirm_promise\n    needs: {promise_date: ask_date}\n",
                  "    response: confirm_promise\n    needs: {promise_date: ask_dat}\n"),),
         "unknown-node", "early.yaml", "ask_dat}", ("'ask_dat'", "did you mean 'ask_date'"),
         col_at="ask_dat}"),
    Case("promise-readback/missing",
         (replace("early.yaml", "    readback: readback_promise\n", ""),),
         "promise-readback", "early.yaml", "  confirm_promise:",
         ("'confirm_promise'", "without reading it back")),
    Case("promise-readback/no-yes-route",
         (replace("early.yaml", "      affirm: confirm_partial\n", "      affirm: ask_partial_amount\n"),),
         "promise-readback", "early.yaml", "readback: readback_partial",
         ("'readback_partial'", "must route affirm to 'confirm_partial'"), col_at="readback_partial"),
    Case("unknown-intent/on",
         (replace("early.yaml", "      refuse_to_pay: refused_close\n",
                  "      refuse_to_pays: refused_close\n"),),
         "unknown-intent", "early.yaml", "refuse_to_pays:",
         ("unknown intent 'refuse_to_pays'", "did you mean 'refuse_to_pay'"), col_at="refuse_to_pays"),
    Case("unknown-intent/global",
         (replace("early.yaml", "  ask_amount: tell_amount\n", "  ask_balance: tell_amount\n"),),
         "unknown-intent", "early.yaml", "ask_balance:", ("'ask_balance'",), col_at="ask_balance"),
    Case("unknown-intent/dtmf",
         (replace("strategy.yaml", '  "2": deny\n', '  "2": no\n'),),
         "unknown-intent", "strategy.yaml", '"2": no', ("unknown intent 'no'",), col_at="no"),
    Case("unknown-intent/nlu-data",
         (replace("nlu.yml", "- intent: goodbye\n", "- intent: good_bye\n"),),
         "unknown-intent", "nlu.yml", "- intent: good_bye",
         ("unknown intent 'good_bye'", "did you mean 'goodbye'")),
    Case("unknown-response",
         (replace("early.yaml", "    response: verify_identity\n", "    response: verify_identiy\n"),),
         "unknown-response", "early.yaml", "verify_identiy",
         ("unknown response 'verify_identiy'", "did you mean 'verify_identity'"), col_at="verify_identiy"),
    # --- node shape -----------------------------------------------------------------------------
    Case("empty-node",
         (replace("early.yaml", "    response: goodbye_before_identity\n", ""),),
         "empty-node", "early.yaml", "  goodbye_before_identity:", ("'goodbye_before_identity'",),
         col_at="goodbye_before_identity"),
    Case("unused-transition/next-with-on",
         (replace("early.yaml", "    response: tell_amount\n    next: resume\n",
                  "    response: tell_amount\n    next: resume\n    on:\n      affirm: ask_date\n"),),
         "unused-transition", "early.yaml", "next: resume", ("'tell_amount'", "next:"), nth=0),
    Case("unused-transition/terminal-with-default",
         (replace("early.yaml", "    outcome: opted_out\n    end: true\n",
                  "    outcome: opted_out\n    end: true\n    default: greeting\n"),),
         "unused-transition", "early.yaml", "  opt_out:", ("'opt_out'", "ends the call"),
         severity="warning"),
    Case("unused-transition/capture-without-waiting",
         (replace("early.yaml", "    response: payment_methods\n    next: resume\n",
                  "    response: payment_methods\n    capture: {amount: promised_amount}\n    next: resume\n"),),
         "unused-transition", "early.yaml", "capture: {amount: promised_amount}",
         ("'payment_methods'", "cannot capture")),
    # --- graph ----------------------------------------------------------------------------------
    Case("unreachable",
         (append("early.yaml", "\n  spare_close:\n    say: \"Thank you, goodbye.\"\n    end: true\n"),),
         "unreachable", "early.yaml", "  spare_close:", ("'spare_close'", "unreachable"),
         col_at="spare_close"),
    Case("dead-end/no-way-to-end",  # two info nodes that hand over to each other forever
         (replace("early.yaml", "    response: payment_methods\n    next: resume\n",
                  "    response: payment_methods\n    next: consequences\n"),
          replace("early.yaml", "credit record.\"\n    next: resume\n",
                  "credit record.\"\n    next: payment_methods\n")),
         "dead-end", "early.yaml", "  consequences:", ("no way to end", "'consequences'")),
    Case("dead-end/neither-ends-nor-leads",  # no global: block, and a new node that only talks
         (replace("early.yaml", EARLY_GLOBAL_BLOCK, ""),
          replace("early.yaml", "    next: ask_commitment\n", "    next: hold\n"),
          append("early.yaml", "\n  hold:\n    say: \"One moment please.\"\n")),
         "dead-end", "early.yaml", "  hold:", ("'hold'", "neither ends the call nor leads anywhere")),
    Case("unhandled-intent/waiting-node",
         (replace("early.yaml", "  deny: ask_reason\nnodes:", "nodes:"),),
         "unhandled-intent", "early.yaml", "  ask_commitment:", ("'ask_commitment'", "deny")),
    Case("unhandled-intent/protected-missing-from-global",
         (replace("early.yaml", "  stop_calling: opt_out\n", ""),),
         "unhandled-intent", "early.yaml", "global:", ("protected intent 'stop_calling'",)),
    # --- identity first -------------------------------------------------------------------------
    Case("identity-first/variable",
         (replace("early.yaml", "  not_available:\n    response: not_available\n",
                  "  not_available:\n    say: \"No problem. Please ask {name} to call us about the "
                  "payment of {amount}. Goodbye.\"\n"),),
         "identity-first", "early.yaml", "  not_available:",
         ("'not_available'", "{amount}", "greeting -[deny]-> not_available")),
    Case("identity-first/debt-term",
         (replace("early.yaml", "    response: goodbye_before_identity\n",
                  "    say: \"Alright. We'll call again about your overdue balance. Goodbye.\"\n"),),
         "identity-first", "early.yaml", "  goodbye_before_identity:",
         ("'goodbye_before_identity'", "'overdue'", "greeting -[goodbye]-> goodbye_before_identity")),
    Case("identity-first/verify-node-reveals(settings)",
         (replace("early.yaml", "  verify:\n    response: verify_identity\n",
                  "  verify:\n    say: \"Before we discuss your balance of {amount}, is this {name}?\"\n"),),
         "identity-first", "early.yaml", "verify_identity: verify", ("identity check node", "{amount}")),
    Case("identity-first/verify-node-reveals(node)",
         (replace("early.yaml", "  verify:\n    response: verify_identity\n",
                  "  verify:\n    say: \"Before we discuss your balance of {amount}, is this {name}?\"\n"),),
         "identity-first", "early.yaml", "  verify:", ("'verify'", "{amount}")),
    Case("identity-first/sms-before-identity",
         (replace("early.yaml", "    response: callback_before_identity\n    outcome: callback\n    actions:\n",
                  "    response: callback_before_identity\n    outcome: callback\n    actions:\n"
                  "      - sms: payment_details\n"),),
         "identity-first", "early.yaml", "  callback_before_identity:",
         ("'callback_before_identity'", "sends an SMS")),
    # --- prompt text ----------------------------------------------------------------------------
    Case("placeholder/attribute-access",
         (replace("early.yaml", CONSEQUENCES_FEE, "a late fee of {late_fee.__class__}"),),
         "placeholder", "early.yaml", "{late_fee.__class__}",
         ("invalid placeholder", "{late_fee.__class__}"), col_at="{late_fee"),
    Case("placeholder/spaces-inside-braces",
         (replace("early.yaml", CONSEQUENCES_FEE, "a late fee of { late_fee }"),),
         "placeholder", "early.yaml", "{ late_fee }", ("invalid placeholder", "{ late_fee }"),
         col_at="{ late_fee"),
    Case("placeholder/doubled-braces-in-response",
         (replace("responses.yaml", "The amount due is {amount}", "The amount due is {{amount}}"),),
         "placeholder", "responses.yaml", "{{amount}}", ("invalid placeholder", "{{amount}}"),
         col_at="{{amount"),
    Case("undefined-variable/typo-with-hint",
         (replace("early.yaml", CONSEQUENCES_FEE, "a late fee of {latefee}"),),
         "undefined-variable", "early.yaml", "{latefee}", ("{latefee}", "did you mean {late_fee}"),
         col_at="{latefee}"),
    Case("undefined-variable/in-sms-template",
         (replace("sms.yaml", "Minimum payment: {minimum_payment}. Pay by",
                  "Minimum payment: {min_payment}. Pay by"),),
         "undefined-variable", "sms.yaml", "{min_payment}", ("{min_payment}", "{minimum_payment}"),
         col_at="{min_payment}"),
    Case("unguarded-slot/say",
         (replace("early.yaml", "    response: callback_confirm\n",
                  "    say: \"Alright, we'll call you back {callback_time}. Goodbye.\"\n"),),
         "unguarded-slot", "early.yaml", "{callback_time}", ("'callback_confirm'", "{callback_time}", "needs:"),
         col_at="{callback_time}"),
    Case("unguarded-slot/through-response",
         (replace("early.yaml", "    response: confirm_promise\n    needs: {promise_date: ask_date}\n",
                  "    response: confirm_promise\n"),),
         "unguarded-slot", "early.yaml", "response: confirm_promise",
         ("'confirm_promise'", "{promise_date}", "needs:")),
    Case("unguarded-slot/sms-action",
         (replace("early.yaml", "    outcome: plan_requested\n    actions:\n      - callback: {}\n",
                  "    outcome: plan_requested\n    actions:\n      - callback: {}\n"
                  "      - sms: promise_confirmation\n"),),
         "unguarded-slot", "early.yaml", "- sms: promise_confirmation", ("'promise_confirmation'",
                                                                           "{promise_date}", "'plan_callback'"),
         nth=-1),  # plan_callback comes after the two nodes that already send it
    Case("forbidden-language/stage-prompt",
         (replace("early.yaml", "We'll note that on your account.",
                  "We'll note that on your account, and if you don't pay we will call the police."),),
         "forbidden-language", "early.yaml", "call the police", ("threat of arrest", "'police'"),
         col_at="police"),
    Case("forbidden-language/response",
         (replace("responses.yaml", "  abuse_close: \"I'm going to end this call now.",
                  "  abuse_close: \"Shut up. I'm going to end this call now."),),
         "forbidden-language", "responses.yaml", "Shut up.", ("insult", "'Shut up'"), col_at="Shut up"),
    Case("forbidden-language/sms",
         (replace("sms.yaml", "Please call {agent_line} to resolve it.",
                  "Please call {agent_line} or we will contact your employer."),),
         "forbidden-language", "sms.yaml", "contact your employer",
         ("third parties", "'contact your employer'"), col_at="contact your employer"),
    # --- SMS -----------------------------------------------------------------------------------
    Case("unknown-sms/action",
         (replace("early.yaml", "    needs: {promise_date: ask_date}\n    outcome: promise_to_pay\n"
                                "    actions:\n      - sms: promise_confirmation\n",
                  "    needs: {promise_date: ask_date}\n    outcome: promise_to_pay\n"
                  "    actions:\n      - sms: promise_confirmaton\n"),),
         "unknown-sms", "early.yaml", "promise_confirmaton", ("'promise_confirmaton'",),
         col_at="promise_confirmaton"),
    Case("unknown-sms/stage-trigger-template",
         (replace("strategy.yaml", "eight_days_unpaid: legal_notice", "eight_days_unpaid: legal_notise"),),
         "unknown-sms", "strategy.yaml", "legal_notise", ("'legal_notise'",), col_at="legal_notise"),
    Case("unknown-sms/trigger-name",
         (replace("strategy.yaml", "      five_days_unpaid: suspension_notice\n      eight_days_unpaid",
                  "      five_day_unpaid: suspension_notice\n      eight_days_unpaid"),),
         "unknown-sms", "strategy.yaml", "five_day_unpaid",
         ("unknown SMS trigger 'five_day_unpaid'", "did you mean 'five_days_unpaid'"),
         col_at="five_day_unpaid"),
    # --- strategy: stages, lint rules, keypad ---------------------------------------------------
    Case("stage-range/gap",
         (replace("strategy.yaml", "{min: 4, max: 5}", "{min: 5, max: 5}"),),
         "stage-range", "strategy.yaml", "{min: 5, max: 5}", ("no stage covers 4",), col_at="{min"),
    Case("stage-range/overlap",
         (replace("strategy.yaml", "{min: 4, max: 5}", "{min: 3, max: 5}"),),
         "stage-range", "strategy.yaml", "{min: 3, max: 5}", ("'mid'", "overlaps", "3"), col_at="{min"),
    Case("stage-range/max-below-min",
         (replace("strategy.yaml", "{min: 4, max: 5}", "{min: 5, max: 4}"),),
         "stage-range", "strategy.yaml", "{min: 5, max: 4}", ("max 4 is below min 5",), col_at="{min"),
    Case("stage-range/last-stage-not-open-ended",
         (replace("strategy.yaml", "{min: 6}", "{min: 6, max: 60}"),),
         "stage-range", "strategy.yaml", "stages:", ("61 days overdue and more", "leave max out")),
    Case("stage-name",
         (replace("mid.yaml", "stage: mid\n", "stage: middle\n"),),
         "stage-name", "mid.yaml", "stage: middle", ("'middle'", "'mid'"), col_at="middle"),
    Case("lint-rule/invalid-regex",
         (replace("lint.yaml", "debt_terms:",
                  "  - {pattern: '\\b(threat(en)?\\b', reason: \"threats\"}\ndebt_terms:"),),
         "lint-rule", "lint.yaml", "threat(en)?", ("invalid regular expression",), col_at="'\\b(threat"),
    Case("dtmf/two-digit-key",
         (replace("strategy.yaml", '  "9": stop_calling\n', '  "9": stop_calling\n  "10": affirm\n'),),
         "dtmf", "strategy.yaml", '"10": affirm', ("'10'", "0-9 * #"), col_at='"10"'),
    Case("dtmf/letter-key",
         (replace("strategy.yaml", '  "0": request_human\n', '  "O": request_human\n'),),
         "dtmf", "strategy.yaml", '"O": request_human', ("'O'",), col_at='"O"'),
    # --- NLU data -------------------------------------------------------------------------------
    Case("nlu-data/intent-without-examples",  # reported at the top of nlu.yml: nothing to point at
         (replace("nlu.yml", NLU_GOODBYE_BLOCK, ""),),
         "nlu-data", "nlu.yml", 'version: "3.1"', ("'goodbye'", "no examples")),
    Case("nlu-data/too-few-examples",
         (replace("nlu.yml", NLU_GOODBYE_BLOCK,
                  "- intent: goodbye\n  examples: |\n    - bye\n    - goodbye\n    - see you\n"),),
         "nlu-data", "nlu.yml", 'version: "3.1"', ("'goodbye'", "only 3 examples"), severity="warning"),
    Case("nlu-data/unknown-entity",
         (replace("nlu.yml", "- intent: goodbye\n  examples: |\n",
                  "- intent: goodbye\n  examples: |\n    - bye [john](person)\n"),),
         "nlu-data", "nlu.yml", "bye [john](person)", ("'person'",), severity="warning"),
    Case("nlu-data/examples-not-a-block",
         (replace("nlu.yml", "- intent: goodbye\n  examples: |\n", "- intent: goodbye\n  examples:\n"),),
         "nlu-data", "nlu.yml", "- intent: goodbye", ("'goodbye'", "`|` block")),
    Case("nlu-data/yaml-syntax",
         (replace("nlu.yml", "- intent: goodbye\n  examples: |\n",
                  "- intent: goodbye\n  examples: |\n  - bye: now\n"),),
         "nlu-data", "nlu.yml", "  - bye: now", ("YAML syntax",)),
    Case("nlu-data/file-not-found",
         (replace("strategy.yaml", "  data: nlu.yml\n", "  data: nlu.yaml\n"),),
         "nlu-data", "strategy.yaml", "data: nlu.yaml", ("nlu.yaml", "not found"), col_at="nlu.yaml"),
    # --- capture, trigger templates, voices ------------------------------------------------------
    Case("unused-transition/on-capture-without-capture",
         (replace("early.yaml", "  ask_callback_time:\n    response: ask_callback_time\n"
                  "    capture: {date: callback_time}\n    on_capture: callback_confirm\n",
                  "  ask_callback_time:\n    response: ask_callback_time\n    on_capture: callback_confirm\n"),),
         "unused-transition", "early.yaml", "on_capture: callback_confirm", ("'ask_callback_time'", "captures"),
         nth=0),
    Case("unguarded-slot/sms-trigger-template",
         (replace("strategy.yaml", EARLY_STAGE,
                  EARLY_STAGE.replace("bill_reminder", "promise_confirmation")),),
         "unguarded-slot", "strategy.yaml", "after_call_no_payment: promise_confirmation",
         ("'promise_confirmation'", "promise_date"), nth=0),
    Case("unknown-voice/typo",
         (replace("strategy.yaml", EARLY_STAGE, EARLY_STAGE.replace("en-kate", "en-kat")),),
         "unknown-voice", "strategy.yaml", "voices: [en-joe, en-kat]", ("'en-kat'", "'en-kate'"),
         nth=0, col_at="en-kat"),
    Case("unknown-voice/other-language",
         (replace("strategy.yaml", EARLY_STAGE, EARLY_STAGE.replace("en-kate", "zh-xiaoyu")),),
         "unknown-voice", "strategy.yaml", "voices: [en-joe, zh-xiaoyu]", ("'zh-xiaoyu'", "zh"),
         nth=0),
    # --- warnings -------------------------------------------------------------------------------
    Case("unused-response",
         (UNUSED_EDIT,),
         "unused-response", "responses.yaml", "ask_employer:", ("'ask_employer'", "not used"),
         severity="warning", col_at="ask_employer"),
    # --- jurisdiction disclosures (dialogue/script/checks_compliance.py) -------------------------
    Case("unknown-jurisdiction",
         (replace("strategy.yaml", "jurisdiction: us\n", "jurisdiction: usa\n"),),
         "unknown-jurisdiction", "strategy.yaml", "jurisdiction: usa", ("'usa'", "available: cn, us"),
         col_at="usa"),
    Case("missing-disclosure/recording-notice",
         (replace("early.yaml", "    interruptible: false\n    disclosure: recording_notice\n",
                  "    interruptible: false\n"),
          replace("early.yaml", "    response: inbound_greeting\n    disclosure: recording_notice\n",
                  "    response: inbound_greeting\n")),
         "missing-disclosure", "early.yaml", "nodes:", ("recording_notice", "'early'", "'us'")),
    Case("late-disclosure/recording-notice-after-the-first-answer",
         (replace("early.yaml", "    interruptible: false\n    disclosure: recording_notice\n",
                  "    interruptible: false\n"),
          replace("early.yaml", "  verify:\n    response: verify_identity\n",
                  "  verify:\n    response: verify_identity\n    disclosure: recording_notice\n")),
         "late-disclosure", "early.yaml", "disclosure: recording_notice", ("'verify'", "'greeting'"),
         nth=0, col_at="recording_notice"),
    # --- a call the debtor placed (dialogue/script/checks_inbound.py) ----------------------------
    Case("inbound-verification/no-caller-check",
         (replace("early.yaml", "  verify_caller: verify_caller\n", ""),),
         "inbound-verification", "early.yaml", "inbound_start: inbound_greeting", ("verify_caller",),
         col_at="inbound_greeting"),
    Case("inbound-verification/knowledge-check-leads-nowhere",
         (replace("early.yaml", "      confirm_identity: remind\n      goodbye: goodbye_caller\n",
                  "      goodbye: goodbye_caller\n"),),
         "inbound-verification", "early.yaml", "knowledge_check: date_of_birth", ("'verify_caller'",
                                                                                   "confirm_identity")),
    Case("identity-first/inbound-opening-goes-to-the-debt",
         (replace("early.yaml", "    next: verify_caller\n", "    next: tell_amount\n"),),
         "identity-first", "early.yaml", "  tell_amount:", ("'tell_amount'", "not yet verified",
                                                            "inbound_greeting -[next]-> tell_amount")),
    Case("debt-notice-before-identity",
         (replace("early.yaml", "  not_available:\n    response: not_available\n",
                  "  not_available:\n    response: not_available\n"
                  "    disclosure: debt_collection_notice  # moved\n"),),
         "debt-notice-before-identity", "early.yaml", "debt_collection_notice  # moved",
         ("'not_available'", "greeting -[deny]-> not_available"), col_at="debt_collection_notice"),
    # --- an earlier promise: said only on its follow-up call, past identity (issue 21) ----------
    Case("prior-promise/outside-the-branch",  # every call would say a promise only some have
         (replace("early.yaml", "    next: remind_details\n    on_broken_promise: remind_broken_promise",
                  "    next: remind_broken_promise\n    on_broken_promise: remind_broken_promise"),),
         "prior-promise", "early.yaml", "  remind_broken_promise:",
         ("'remind_broken_promise'", "{prior_promise_amount}", "remind -[next]-> remind_broken_promise")),
    Case("prior-promise/sms-of-another-trigger",
         (replace("strategy.yaml", "      after_call_no_payment: bill_reminder\n      promise_reminder",
                  "      after_call_no_payment: promise_reminder\n      promise_reminder"),),
         "prior-promise", "strategy.yaml", "after_call_no_payment: promise_reminder",
         ("{prior_promise_amount}", "only the promise_reminder trigger"), nth=0),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_designer_mistake_is_reported_where_it_was_made(tmp_path: Path, case: Case) -> None:
    result = validate_copy(tmp_path, *case.edits)
    line = result.line_of(case.file, case.needle, case.nth)
    problem = result.expect(case.code, case.file, line, case.names, case.severity)
    if case.col_at is not None:
        text = result.line_text(case.file, line)
        assert problem.column == text.index(case.col_at) + 1, (
            f"{problem} should point at {case.col_at!r} (column {text.index(case.col_at) + 1}) in {text!r}")


def test_every_code_the_validator_can_emit_is_covered() -> None:
    covered = {c.code for c in CASES} | {"missing-file", "encoding"}  # the last two: tests below
    covered |= {"holidays-running-out"}  # a profile file's warning: tests/test_holiday_calendars.py
    emitted = emitted_codes()
    assert "structure" in emitted and "identity-first" in emitted  # the scan itself works
    assert emitted <= covered, f"codes without a test: {sorted(emitted - covered)}"


# ---------------------------------------------------------------------------------------------
# Mistakes whose expectations do not fit the single-line shape above.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key, wrong", [("script: late.yaml", "script: late.yml"),
                                        ("responses: responses.yaml", "responses: response.yaml")])
def test_missing_file(tmp_path: Path, key: str, wrong: str) -> None:
    """Reported on the strategy.yaml line that names the missing file: that is what to fix."""
    result = validate_copy(tmp_path, replace("strategy.yaml", key, wrong))
    name = wrong.split(": ")[1]
    line = result.line_of("strategy.yaml", wrong)
    found = result.with_code("missing-file")
    assert found, result.listing()
    problem = found[0]
    assert same_file(problem, result.root / "strategy.yaml"), str(problem)
    assert (problem.severity, problem.line) == ("error", line)
    assert problem.column == result.line_text("strategy.yaml", line).index(name) + 1
    assert "not found" in problem.message and name in problem.message


def test_file_not_saved_as_utf8(tmp_path: Path) -> None:
    root = tmp_path / "en"
    shutil.copytree(EN, root)
    path = root / "responses.yaml"
    text = path.read_text(encoding="utf-8").replace("I'm sorry for the trouble.", "I\u2019m sorry for the trouble.")
    path.write_bytes(text.encode("cp1252"))  # an editor saving in Windows-1252
    problems = validate_paths([root])
    found = [p for p in problems if p.code == "encoding" and same_file(p, path)]
    assert found, "\n".join(map(str, problems))
    assert found[0].severity == "error" and found[0].column >= 1
    assert "UTF-8" in found[0].message


def test_missing_setting_points_into_the_settings_block(tmp_path: Path) -> None:
    result = validate_copy(tmp_path, replace("early.yaml", "  on_retry_limit: close_unclear\n", ""))
    settings = result.line_of("early.yaml", "settings:")
    found = [p for p in result.in_file("early.yaml")
             if p.code == "structure" and "missing field 'on_retry_limit' in settings" in p.message]
    assert found, result.listing()
    assert found[0].line in (settings, settings + 1) and found[0].column >= 1
    assert found[0].severity == "error"


def test_undefined_constant_is_reported_at_every_use(tmp_path: Path) -> None:
    result = validate_copy(tmp_path, replace("strategy.yaml", "  callback_number: 1-800-555-0142\n", ""))
    lines = result.text("responses.yaml").splitlines()
    uses = {n: line.index("{callback_number}") + 1
            for n, line in enumerate(lines, 1) if "{callback_number}" in line}
    assert uses
    found = {p.line: p for p in result.in_file("responses.yaml") if p.code == "undefined-variable"}
    assert set(found) == set(uses), result.listing()
    for line, column in uses.items():
        problem = found[line]
        assert problem.severity == "error"
        assert problem.column == column
        assert "{callback_number}" in problem.message and "constants:" in problem.message


def test_forbidden_language_in_a_variant_of_a_say_list(tmp_path: Path) -> None:
    result = validate_copy(tmp_path, replace(
        "early.yaml", '      - "Can you make a payment this week?"\n',
        '      - "Can you make a payment this week? We know where you live."\n'))
    line = result.line_of("early.yaml", "We know where you live")
    problem = result.expect("forbidden-language", "early.yaml", line, ("'We know where you live'",))
    assert problem.column == result.line_text("early.yaml", line).index("We know") + 1


@pytest.mark.parametrize("old, new", [
    # A quote written with an escape: the column must still land on the offending words.
    ('    say: "I understand. We\'ll note that on your account. You can pay',
     '    say: "I understand. \\"Noted.\\" We\'ll note that on your account, or we will call the police. '
     'You can pay'),
    # A long prompt folded onto a second line: the problem is on that second line.
    (REFUSED_SAY, "    say: \"I understand. We'll note that on your account.\n"
                  "      If you don't pay, we will call the police. Goodbye.\"\n"),
    # A folded block scalar, common for long prompts: the text starts on the next line.
    (REFUSED_SAY, "    say: >-\n      I understand. We'll note that on your account, or we will call the police.\n"),
], ids=["escaped-quote", "wrapped-quoted", "folded-block"])
def test_forbidden_language_column_in_other_scalar_styles(tmp_path: Path, old: str, new: str) -> None:
    result = validate_copy(tmp_path, replace("early.yaml", old, new))
    line = result.line_of("early.yaml", "call the police")
    problem = result.expect("forbidden-language", "early.yaml", line, ("'police'",))
    assert problem.column == result.line_text("early.yaml", line).index("police") + 1, str(problem)


def test_every_node_that_lacks_a_global_intent_is_named(tmp_path: Path) -> None:
    result = validate_copy(tmp_path, replace("early.yaml", "  deny: ask_reason\nnodes:", "nodes:"))
    named = {re.search(r"node '(\w+)'", p.message).group(1)
             for p in result.with_code("unhandled-intent")}
    nodes = yaml_data(result.root / "early.yaml")["nodes"]

    def waiting(node: dict) -> bool:
        ends = node.get("end") or any("transfer" in a or "hangup" in a for a in node.get("actions", []))
        return "next" not in node and not ends

    waiting_without_deny = {name for name, node in nodes.items() if waiting(node)
                            and "deny" not in node.get("on", {}) and "default" not in node}
    assert named == waiting_without_deny, result.listing()


def test_duplicate_stage_name_does_not_blame_the_wrong_file(tmp_path: Path) -> None:
    """Naming two stages 'mid' is reported; mid.yaml, which says `stage: mid`, must not be
    said to name stage 'late' (the two stage files are confused under the shared name)."""
    result = validate_copy(tmp_path, replace("strategy.yaml", "  - name: late\n", "  - name: mid\n"))
    twice = [p for p in result.with_code("stage-name") if "defined twice" in p.message]
    assert twice and all("'mid'" in p.message for p in twice), result.listing()
    wrong = [p for p in result.in_file("mid.yaml") if "'late'" in p.message]
    assert not wrong, "mid.yaml is blamed for late.yaml's content:\n" + "\n".join(map(str, wrong))


def test_a_broken_stage_file_does_not_make_its_responses_look_unused(tmp_path: Path) -> None:
    """early.yaml fails the structure check; responses it uses must not be called unused."""
    result = validate_copy(tmp_path, replace("early.yaml", "    interruptible: false\n",
                                             "    interruptable: false\n"))
    assert result.with_code("structure"), result.listing()
    early_uses = set(re.findall(r"^\s+response: (\w+)$", result.text("early.yaml"), re.M))
    false_alarms = [p for p in result.with_code("unused-response")
                    if re.search(r"response '(\w+)'", p.message).group(1) in early_uses]
    assert not false_alarms, "\n".join(map(str, false_alarms))


def test_read_locale_and_check_locale_agree_with_validate_paths(tmp_path: Path) -> None:
    edit = replace("early.yaml", CONSEQUENCES_FEE, "a late fee of {latefee}")
    result = validate_copy(tmp_path, edit)
    scripts, problems = read_locale(result.root)
    assert scripts is not None
    assert sorted(set(problems + check_locale(scripts))) == result.problems


# ---------------------------------------------------------------------------------------------
# The shipped scripts.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", [EN, ZH], ids=["en", "zh"])
def test_shipped_locale_is_clean(locale: Path) -> None:
    problems = validate_paths([locale])
    assert problems == [], "\n".join(map(str, problems))


def test_unedited_copy_is_clean(tmp_path: Path) -> None:
    assert validate_copy(tmp_path).problems == []


# ---------------------------------------------------------------------------------------------
# The command line.
# ---------------------------------------------------------------------------------------------


@dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str
    copy: Validated | None = None


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CliRun]:
    """Run every `voicebot scripts ...` command of these tests at once (each start imports the
    whole engine, which takes seconds), and collect their results by name."""
    broken = validate_copy(tmp_path_factory.mktemp("cli-broken"), POLICE_EDIT, UNUSED_EDIT)
    commands = {
        "broken": (["validate", str(broken.root)], broken.root.parent, broken),
        "shipped": (["validate", str(SCRIPTS)], REPO, None),
        "schema": (["schema", "--check"], REPO, None),
    }
    env = {k: v for k, v in os.environ.items() if k != "VOICEBOT_SCRIPTS"}
    procs = {name: subprocess.Popen([str(VOICEBOT), "scripts", *args], cwd=cwd, env=env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for name, (args, cwd, _) in commands.items()}
    runs = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        runs[name] = CliRun(proc.returncode, out, err, commands[name][2])
    return runs


def test_cli_validate_fails_on_a_broken_copy(cli: dict[str, CliRun]) -> None:
    run = cli["broken"]
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 2, run.stdout
    for line in lines:
        assert PROBLEM_LINE.match(line), line
    police = run.copy.line_of("early.yaml", "call the police")
    assert any(line.startswith(f"en/early.yaml:{police}:") and ": error: " in line
               and line.endswith("[forbidden-language]") for line in lines), run.stdout
    assert any(line.startswith("en/responses.yaml:") and ": warning: " in line
               and line.endswith("[unused-response]") for line in lines), run.stdout
    assert "en: 1 error(s), 1 warning(s)" in run.stderr


def test_cli_validate_passes_on_the_shipped_scripts(cli: dict[str, CliRun]) -> None:
    run = cli["shipped"]
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout == ""
    assert "en, zh: 0 error(s), 0 warning(s)" in run.stderr


def test_cli_published_schemas_are_current(cli: dict[str, CliRun]) -> None:
    run = cli["schema"]
    assert run.returncode == 0, run.stdout + run.stderr
    assert "up to date" in run.stdout


# ---------------------------------------------------------------------------------------------
# The published JSON Schemas, as an editor would use them.
# ---------------------------------------------------------------------------------------------


def schema_validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def yaml_data(path: Path):
    doc, problems = load_yaml(path)
    assert doc is not None and problems == [], problems
    return doc.data


FILES_BY_SCHEMA = [(locale, file, schema) for locale in (EN, ZH)
                   for file, schema in [("early.yaml", "stage"), ("mid.yaml", "stage"),
                                        ("late.yaml", "stage"), ("strategy.yaml", "strategy"),
                                        ("responses.yaml", "responses"), ("sms.yaml", "sms"),
                                        ("lint.yaml", "lint")]]


@pytest.mark.parametrize("locale, file, schema", FILES_BY_SCHEMA,
                         ids=[f"{loc.name}/{f}" for loc, f, _ in FILES_BY_SCHEMA])
def test_published_schema_accepts_shipped_files(locale: Path, file: str, schema: str) -> None:
    errors = [e.message for e in schema_validator(schema).iter_errors(yaml_data(locale / file))]
    assert errors == []


@pytest.mark.parametrize("old, new, bad_key", [
    (OFFER_PLAN_ON, OFFER_PLAN_ON + "      maybe: plan_callback\n", "maybe"),
    ("  ask_amount: tell_amount\n", "  ask_balance: tell_amount\n", "ask_balance"),
], ids=["node-on", "global"])
def test_published_stage_schema_rejects_unknown_intent_key(tmp_path: Path, old: str, new: str,
                                                           bad_key: str) -> None:
    root = tmp_path / "en"
    shutil.copytree(EN, root)
    apply_edit(root, replace("early.yaml", old, new))
    errors = list(schema_validator("stage").iter_errors(yaml_data(root / "early.yaml")))
    assert any("propertyNames" in e.schema_path and bad_key in e.message for e in errors), \
        [e.message for e in errors]


def test_yaml_on_key_is_the_string_on(tmp_path: Path) -> None:
    """YAML 1.1 would read `on:` as True (and yes/no/off as booleans); scripts use YAML 1.2."""
    path = tmp_path / "stage.yaml"
    path.write_text("on:\n  affirm: next_node\noff: no\nyes: On\nflag: true\nother: False\n",
                    encoding="utf-8")
    doc, problems = load_yaml(path)
    assert problems == [] and doc is not None
    assert doc.data == {"on": {"affirm": "next_node"}, "off": "no", "yes": "On",
                        "flag": True, "other": False}
    assert doc.key_marks[("on",)] == (1, 1)
    assert doc.marks[("on", "affirm")] == (2, 11)
    # and the shipped stage files keep their `on:` maps under the string key
    early = yaml_data(EN / "early.yaml")
    assert early["nodes"]["greeting"]["on"]["confirm_identity"] == "remind"
    assert True not in early["nodes"]["greeting"]
