"""What the scripts page shows: each stage's graph and the validator's messages, read from the
files as they are now (the same validation `voicebot scripts validate` runs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dialogue.intents import PROTECTED_INTENTS
from dialogue.paths import scripts_root
from dialogue.script.graph import edges, reachable, roots
from dialogue.script.loader import STRATEGY_FILE, read_locale
from dialogue.problems import Problem
from voicebot.script_validation import validate_paths


@dataclass
class NodeView:
    name: str
    say: str
    root: bool
    reachable: bool
    terminal: bool
    routes: list[tuple[str, list[str]]] = field(default_factory=list)  # target, labels
    global_routes: list[tuple[str, list[str]]] = field(default_factory=list)  # via the stage's `global`


@dataclass
class LocaleView:
    locale: str
    folder: Path
    stages: dict[str, list[NodeView]]
    problems: list[Problem]
    globals_: dict[str, dict[str, str]] = field(default_factory=dict)  # stage -> intent -> node

    @property
    def errors(self) -> int:
        return sum(p.severity == "error" for p in self.problems)


def _say(node) -> str:
    if node.say:
        return node.say if isinstance(node.say, str) else node.say[0]
    return f"[response: {node.response}]" if node.response else ""


def locale_view(folder: Path) -> LocaleView:
    problems = validate_paths([folder])
    scripts, _ = read_locale(folder)
    stages: dict[str, list[NodeView]] = {}
    globals_: dict[str, dict[str, str]] = {}
    if scripts is not None:
        for stage_name, stage in scripts.stages.items():
            alive, starts = reachable(stage), set(roots(stage))
            views = []
            for name, node in stage.nodes.items():
                own: dict[str, list[str]] = {}
                shared: dict[str, list[str]] = {}
                for edge in edges(stage, name):
                    via_global = edge.intent is not None and edge.intent not in node.on and (
                        node.default is None or edge.intent in PROTECTED_INTENTS)
                    (shared if via_global else own).setdefault(edge.target, []).append(edge.label)
                views.append(NodeView(name, _say(node), name in starts, name in alive, node.is_terminal,
                                      sorted(own.items()), sorted(shared.items())))
            stages[stage_name] = views
            globals_[stage_name] = dict(stage.global_)
    return LocaleView(folder.name, folder, stages, problems, globals_)


def all_locales(root: Path | None = None) -> list[LocaleView]:
    base = root or scripts_root()
    return [locale_view(p) for p in sorted(base.iterdir()) if (p / STRATEGY_FILE).is_file()]


def transfer_queues(root: Path | None = None) -> tuple[str, ...]:
    """Every agent queue a script can transfer to (the live page watches them all)."""
    base = root or scripts_root()
    queues = {"collections"}
    for folder in sorted(base.iterdir()):
        if not (folder / STRATEGY_FILE).is_file():
            continue
        scripts, _ = read_locale(folder)
        for stage in (scripts.stages.values() if scripts else []):
            queues.update(a.transfer.queue for n in stage.nodes.values() for a in n.actions if a.transfer)
    return tuple(sorted(queues))
