"""What counts as revealing the debt: one definition shared by the validator and the engine.

A prompt reveals the debt if it uses a sensitive variable or says one of the locale's debt
terms; a node does if any of its texts does or it sends an SMS (an SMS carries the amount).
The engine refuses to enter such a node before identity is confirmed, whatever the YAML says.
"""

from __future__ import annotations

import re
from functools import lru_cache

from dialogue.script.models import Node
from dialogue.script.templates import variables_in
from dialogue.variables import SENSITIVE


@lru_cache(maxsize=256)
def _term_pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    if not terms:
        return None
    parts = []
    for term in sorted(terms, key=len, reverse=True):
        escaped = re.escape(term.strip())
        # Word boundaries for scripts with spaces; plain substrings for Chinese.
        parts.append(rf"\b{escaped}\b" if term.isascii() else escaped)
    return re.compile("|".join(parts), re.IGNORECASE)


def text_reveals(text: str, debt_terms: tuple[str, ...]) -> str | None:
    """Why this text reveals the debt, or None."""
    sensitive = [v for v in variables_in(text) if v in SENSITIVE]
    if sensitive:
        return "uses {" + "}, {".join(sensitive) + "}"
    pattern = _term_pattern(debt_terms)
    if pattern is not None:
        match = pattern.search(text)
        if match:
            return f"says {match.group(0)!r}"
    return None


def node_texts(node: Node, responses: dict[str, list[str]]) -> list[str]:
    """Every text a node can speak: its variants (or its response's) and its reprompt."""
    if node.response is not None:
        texts = list(responses.get(node.response, []))
    elif isinstance(node.say, list):
        texts = list(node.say)
    elif node.say is not None:
        texts = [node.say]
    else:
        texts = []
    if node.reprompt:
        texts.append(node.reprompt)
    return texts


def node_reveals(node: Node, responses: dict[str, list[str]], debt_terms: tuple[str, ...]) -> str | None:
    for text in node_texts(node, responses):
        why = text_reveals(text, debt_terms)
        if why:
            return why
    if any(action.kind == "sms" for action in node.actions):
        return "sends an SMS"
    return None
