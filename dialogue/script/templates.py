"""Safe prompt templates: `{variable}` placeholders and nothing else.

Templates are data written by script designers, so they must never be able to run code
(no str.format attribute access, no Jinja expressions).  A missing value is an error, because
an empty string spoken to a debtor ("you owe  dollars") is worse than refusing to start a call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Any brace that is not part of a well-formed placeholder, e.g. "{amount.__class__}" or "{ x }".
_STRAY_BRACE = re.compile(r"[{}]")


class TemplateError(ValueError):
    """A template cannot be rendered: a variable has no value or the syntax is wrong."""


def variables_in(template: str) -> list[str]:
    """Names used by a template, in order of appearance (duplicates kept once)."""
    seen: dict[str, None] = {}
    for match in PLACEHOLDER.finditer(template):
        seen.setdefault(match.group(1), None)
    return list(seen)


def syntax_errors(template: str) -> list[tuple[int, str]]:
    """(offset, message) for every brace that is not a plain `{name}` placeholder."""
    stripped = PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), template)
    return [
        (m.start(), f"invalid placeholder near {template[m.start():m.start() + 20]!r}: "
                    "only {variable_name} is allowed")
        for m in _STRAY_BRACE.finditer(stripped)
    ]


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill placeholders; raise TemplateError naming every missing variable."""
    problems = syntax_errors(template)
    if problems:
        raise TemplateError(problems[0][1])
    missing = [name for name in variables_in(template) if not values.get(name)]
    if missing:
        raise TemplateError(f"no value for {', '.join(missing)} in {template!r}")
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)
