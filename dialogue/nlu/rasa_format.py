"""Reader for Rasa's NLU training-data YAML (version 3.x), so script designers keep one format
whether the built-in classifier or a real Rasa server does the work.

Only the parts a collection bot uses are read: `intent` blocks with `examples` and inline
entity annotations `[text](entity)`, `[text]{"entity": "e", "value": "v"}`.  Other Rasa
sections (synonyms, regexes, lookups) are accepted and ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dialogue.yaml_source import compose

_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<name>[^)]+)\)|(?P<json>\{[^}]*\}))")


class NluDataError(ValueError):
    """The file is not valid Rasa NLU data; the message says where."""

    def __init__(self, file: str, line: int, message: str):
        self.file, self.line, self.detail = file, line, message
        super().__init__(f"{file}:{line}:1: {message}")


@dataclass(frozen=True)
class AnnotatedEntity:
    entity: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[AnnotatedEntity, ...] = ()
    line: int = 0
    intent_line: int = 0  # the `- intent:` line the example belongs to


@dataclass
class NluData:
    examples: list[Example] = field(default_factory=list)

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})

    def by_intent(self) -> dict[str, list[Example]]:
        out: dict[str, list[Example]] = {}
        for ex in self.examples:
            out.setdefault(ex.intent, []).append(ex)
        return out


def parse_example(raw: str, intent: str, line: int = 0, intent_line: int = 0) -> Example:
    """Strip annotations, keeping entity spans on the plain text."""
    plain: list[str] = []
    entities: list[AnnotatedEntity] = []
    pos = 0
    length = 0
    for m in _ANNOTATION.finditer(raw):
        before = raw[pos:m.start()]
        plain.append(before)
        length += len(before)
        text = m.group("text")
        if m.group("name"):
            name = m.group("name").strip()
        else:
            try:
                name = json.loads(m.group("json"))["entity"]
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"bad entity annotation {m.group(0)!r}: {exc}") from None
        entities.append(AnnotatedEntity(name, text, length, length + len(text)))
        plain.append(text)
        length += len(text)
        pos = m.end()
    plain.append(raw[pos:])
    text = "".join(plain).strip()
    if any(ch in text for ch in "[]"):
        raise ValueError(f"unbalanced entity brackets in {raw!r}")
    return Example(text, intent, tuple(entities), line, intent_line)


def _example_lines(block: str) -> list[tuple[int, str]]:
    out = []
    for offset, line in enumerate(block.splitlines()):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("- "):
            raise ValueError(f"example line must start with '- ': {stripped!r}")
        out.append((offset, stripped[2:].strip()))
    return out


def load_nlu_text(text: str, file: str = "<nlu>") -> NluData:
    try:
        node, doc = compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise NluDataError(file, (mark.line + 1) if mark else 1, f"YAML syntax: {exc.problem}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("nlu"), list):
        raise NluDataError(file, 1, "expected a mapping with an `nlu:` list (Rasa NLU format)")
    # Map each list item to its line for messages.
    item_lines = {}
    for key_node, value_node in node.value:
        if key_node.value == "nlu":
            item_lines = {i: n.start_mark.line + 1 for i, n in enumerate(value_node.value)}
    data = NluData()
    for index, item in enumerate(doc["nlu"]):
        line = item_lines.get(index, 1)
        if not isinstance(item, dict):
            raise NluDataError(file, line, "each `nlu:` item must be a mapping")
        if "intent" not in item:
            continue  # synonym / regex / lookup sections
        intent = str(item["intent"])
        block = item.get("examples")
        if not isinstance(block, str):
            raise NluDataError(file, line, f"intent {intent!r}: `examples` must be a `|` block")
        try:
            for offset, raw in _example_lines(block):
                data.examples.append(parse_example(raw, intent, line + 2 + offset, line))
        except ValueError as exc:
            raise NluDataError(file, line, f"intent {intent!r}: {exc}") from None
    return data


def load_nlu_file(path: Path) -> NluData:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NluDataError(str(path), 1, "NLU data file not found") from None
    return load_nlu_text(text, str(path))


def load_nlu_files(paths: Sequence[Path]) -> NluData:
    """One training set from several files (nlu.yml, then generated or corrected extras)."""
    data = NluData()
    for path in paths:
        data.examples += load_nlu_file(path).examples
    return data


def dump_nlu(examples: list[Example]) -> str:
    """Write examples back in Rasa format (used to export supervisors' corrections)."""
    by_intent: dict[str, list[Example]] = {}
    for ex in examples:
        by_intent.setdefault(ex.intent, []).append(ex)
    lines = ['version: "3.1"', "nlu:"]
    for intent, items in by_intent.items():
        lines += [f"- intent: {intent}", "  examples: |"]
        for ex in items:
            text = ex.text
            for ent in sorted(ex.entities, key=lambda e: e.start, reverse=True):
                text = f"{text[:ent.start]}[{text[ent.start:ent.end]}]({ent.entity}){text[ent.end:]}"
            lines.append(f"    - {text}")
    return "\n".join(lines) + "\n"
