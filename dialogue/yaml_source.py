"""YAML loading that remembers where every value was written.

PyYAML's constructed objects lose positions, so we compose the node tree once, build the Python
data from it, and keep a map from each value's path (("nodes", "greet", "say"), ...) to its
1-based line and column.  Duplicate keys, which YAML silently collapses, are reported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import re

import yaml

from dialogue.problems import Problem

PathKey = tuple[str | int, ...]


class ScriptLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false.

    YAML 1.1 reads `on`, `off`, `yes`, `no` as booleans, which would turn every node's `on:`
    key into True and a debtor-facing "no" into False.  Editors use YAML 1.2, so do we."""


ScriptLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ScriptLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _norm(path: PathKey) -> tuple[str, ...]:
    """Paths compare as text: YAML's key "5" and pydantic's loc 5 are the same place."""
    return tuple(str(p) for p in path)


@dataclass
class _Scalar:
    line: int  # 1-based start of the value (the quote or block indicator)
    col: int
    raw: str   # the source text of the value, as written


@dataclass
class YamlDoc:
    file: str
    data: Any
    marks: dict[tuple[str, ...], tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[tuple[str, ...], tuple[int, int]] = field(default_factory=dict)
    scalars: dict[tuple[str, ...], _Scalar] = field(default_factory=dict)

    def where(self, path: PathKey, *, key: bool = False) -> tuple[int, int]:
        """Position of the deepest known prefix of path (the key itself if key=True)."""
        norm = _norm(path)
        while norm:
            if key and norm in self.key_marks:
                return self.key_marks[norm]
            if norm in self.marks:
                return self.marks[norm]
            norm = norm[:-1]
        return self.marks.get((), (1, 1))

    def where_in_text(self, path: PathKey, index: int, length: int = 1) -> tuple[int, int]:
        """Line and column of the text value[index:index+length] as written in the source.

        Escapes, quoting and line folding make value and source offsets differ, so the span is
        found in the source itself (the same occurrence of it); if it cannot be, the start of
        the value is the answer."""
        scalar = self.scalars.get(_norm(path))
        if scalar is None:
            return self.where(path)
        value = self.data_text(path)
        needle = value[index:index + max(1, length)]
        occurrence = value[:index].count(needle) if needle else 0
        pos = -1
        for _ in range(occurrence + 1):
            pos = scalar.raw.find(needle, pos + 1)
            if pos < 0:
                return scalar.line, scalar.col
        before = scalar.raw[:pos]
        row = before.count("\n")
        col = (scalar.col + pos) if row == 0 else (pos - before.rfind("\n"))
        return scalar.line + row, col

    def data_text(self, path: PathKey) -> str:
        value: Any = self.data
        for part in path:
            value = value[part]
        return value if isinstance(value, str) else ""

    def problem(self, path: PathKey, message: str, code: str, *, key: bool = False,
                severity: str = "error", at: int | None = None, span: int = 1) -> Problem:
        """A problem at a value (or its key), or at text[at:at+span] inside a text value."""
        line, col = self.where_in_text(path, at, span) if at is not None else self.where(path, key=key)
        return Problem(self.file, line, col, message, severity, code)  # type: ignore[arg-type]


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _walk(node: yaml.Node, path: tuple[str, ...], doc: YamlDoc, problems: list[Problem], text: str) -> None:
    doc.marks[path] = _pos(node)
    if isinstance(node, yaml.ScalarNode):
        line, col = _pos(node)
        doc.scalars[path] = _Scalar(line, col, text[node.start_mark.index:node.end_mark.index])
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                line, col = _pos(key_node)
                problems.append(Problem(doc.file, line, col, f"duplicate key {key!r}", "error",
                                        "duplicate-key"))
            seen.add(key)
            doc.key_marks[path + (key,)] = _pos(key_node)
            _walk(value_node, path + (key,), doc, problems, text)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, path + (str(index),), doc, problems, text)


def compose(text: str) -> tuple[yaml.Node | None, Any]:
    """Parse once, keeping both the node tree (positions) and the Python data.

    Raises yaml.MarkedYAMLError on bad syntax."""
    loader = ScriptLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def load_yaml(path: Path, display: str | None = None) -> tuple[YamlDoc | None, list[Problem]]:
    """Parse one file; syntax errors come back as problems, never as exceptions."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem(name, 1, 1, "file not found", "error", "missing-file")]
    except UnicodeDecodeError as exc:
        return None, [Problem(name, 1, 1, f"not UTF-8 text: {exc}", "error", "encoding")]
    try:
        node, data = compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"YAML syntax: {exc.problem or exc.context}"
        return None, [Problem(name, line, col, message, "error", "yaml-syntax")]
    doc = YamlDoc(name, data)
    problems: list[Problem] = []
    if node is not None:
        _walk(node, (), doc, problems, text)
    return doc, problems
