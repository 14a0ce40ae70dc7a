"""Load one locale's script folder into typed objects, collecting every problem on the way.

`read_locale` never raises on bad input: the validator wants all problems at once.  The engine
calls `load_locale` (checks.py), which runs the full checks too and raises ScriptError on any
error, so a broken script is refused when it is loaded, not in the middle of a call.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from dialogue.script.models import (
    SCHEMA_MODELS, LintRules, Responses, SmsTemplates, StageEntry, StageScript, Strategy,
)
from dialogue.problems import Problem
from dialogue.yaml_source import YamlDoc, load_yaml

STRATEGY_FILE = "strategy.yaml"
def _field_names() -> list[str]:
    names: set[str] = set()
    todo: list[type[BaseModel]] = list(SCHEMA_MODELS.values())
    while todo:
        model = todo.pop()
        for name, info in model.model_fields.items():
            names.add(info.alias or name)
            ann = info.annotation
            for arg in getattr(ann, "__args__", ()) + (ann,):
                if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in todo:
                    todo.append(arg)
    return sorted(names)


_KNOWN_FIELDS = _field_names()


@dataclass
class LocaleScripts:
    """Everything one locale's scripts say, plus where each value was written."""

    root: Path
    strategy: Strategy
    stages: dict[str, StageScript]
    responses: dict[str, list[str]]
    sms: dict[str, str]
    lint: LintRules
    docs: dict[str, YamlDoc] = field(default_factory=dict)

    @property
    def locale(self) -> str:
        return self.strategy.locale

    @property
    def nlu_path(self) -> Path:
        return self.root / self.strategy.nlu.data

    @property
    def nlu_paths(self) -> tuple[Path, ...]:
        """Every training file: the strategy's `nlu.yml`, then `nlu_*.yml` beside it (data a
        tool added: recogniser-style transcripts, supervisors' corrections), in name order."""
        extras = sorted(p for p in self.root.glob("nlu_*.yml") if p != self.nlu_path)
        return (self.nlu_path, *extras)

    def stage_entry(self, name: str) -> StageEntry:
        for entry in self.strategy.stages:
            if entry.name == name:
                return entry
        raise KeyError(f"unknown stage {name!r}; this locale has "
                       f"{', '.join(e.name for e in self.strategy.stages)}")

    def loaded_stages(self) -> list[tuple[StageEntry, StageScript, YamlDoc]]:
        """Each stage that loaded, once, with the entry that named it first and its file."""
        out, seen = [], set()
        for entry in self.strategy.stages:
            if entry.name in seen or entry.name not in self.stages:
                continue
            seen.add(entry.name)
            out.append((entry, self.stages[entry.name], self.docs[entry.script]))
        return out

    @property
    def all_stages_loaded(self) -> bool:
        return len(self.stages) == len({e.name for e in self.strategy.stages})

    def stage_for_days(self, days_overdue: int) -> StageEntry:
        """The stage whose days_overdue range holds this account (ranges are checked not to overlap)."""
        for entry in self.strategy.stages:
            rng = entry.days_overdue
            if rng.min <= days_overdue and (rng.max is None or days_overdue <= rng.max):
                return entry
        raise KeyError(f"no stage covers {days_overdue} days overdue")

    def doc_for_stage(self, stage: str) -> YamlDoc:
        return self.docs[self.stage_entry(stage).script]


def display_path(path: Path) -> str:
    """Paths relative to the working directory when inside it, so messages stay short."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _pydantic_problems(doc: YamlDoc, exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            name = str(loc[-1])
            close = difflib.get_close_matches(name, _KNOWN_FIELDS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(doc.problem(loc, f"unknown field {name!r}{hint}", "structure", key=True))
        elif err["type"] == "missing":
            where = ".".join(str(p) for p in loc[:-1]) or "top level"
            problems.append(doc.problem(loc[:-1], f"missing field {loc[-1]!r} in {where}", "structure"))
        else:
            # Union errors put the tried type in loc ("str", "list[str]"); keep the data path.
            data_loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in ("str", "int"))))
            where = ".".join(str(p) for p in data_loc)
            problems.append(doc.problem(data_loc, f"{where}: {err['msg']}", "structure"))
    return problems


def _parse(root: Path, rel: str, model: type[BaseModel], problems: list[Problem],
           docs: dict[str, YamlDoc], named_at: tuple[YamlDoc, tuple] | None = None) -> Any:
    doc, found = load_yaml(root / rel, display=display_path(root / rel))
    if named_at is not None and any(p.code == "missing-file" for p in found):
        # Point at the line that names the file: that is what the designer has to fix.
        ref_doc, path = named_at
        found = [ref_doc.problem(path, f"file {rel!r} not found in {display_path(root)}", "missing-file")]
    problems.extend(found)
    if doc is None:
        return None
    docs[rel] = doc
    if not isinstance(doc.data, dict):
        problems.append(doc.problem((), "expected a mapping at the top of the file", "structure"))
        return None
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(doc, exc))
        return None


def read_locale(root: Path) -> tuple[LocaleScripts | None, list[Problem]]:
    """Parse and type-check every file of a locale folder; cross-checks are not run here."""
    problems: list[Problem] = []
    docs: dict[str, YamlDoc] = {}
    strategy = _parse(root, STRATEGY_FILE, Strategy, problems, docs)
    if strategy is None:
        return None, problems
    stages: dict[str, StageScript] = {}
    seen: set[str] = set()
    for index, entry in enumerate(strategy.stages):
        if entry.name in seen:
            continue  # reported by check_stages; the first definition stands
        seen.add(entry.name)
        script = _parse(root, entry.script, StageScript, problems, docs,
                        (docs[STRATEGY_FILE], ("stages", index, "script")))
        if script is not None:
            stages[entry.name] = script
    strategy_doc = docs[STRATEGY_FILE]
    responses = _parse(root, strategy.responses, Responses, problems, docs, (strategy_doc, ("responses",)))
    sms = _parse(root, strategy.sms, SmsTemplates, problems, docs, (strategy_doc, ("sms",)))
    lint = _parse(root, strategy.lint, LintRules, problems, docs, (strategy_doc, ("lint",)))
    if responses is None or sms is None or lint is None:
        return None, problems  # stage checks need these; a broken stage file alone is skipped
    variants = {k: [v] if isinstance(v, str) else list(v) for k, v in responses.responses.items()}
    scripts = LocaleScripts(root, strategy, stages, variants, sms.templates, lint, docs)
    return scripts, problems
