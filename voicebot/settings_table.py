"""The table of every variable the settings models read, for docs/operations.md ("Settings").

Kept apart from `voicebot.config` so that the engine's settings need not import the server's
(the server imports them): this module sits above both. `python -m voicebot.settings_table`
prints the table; `tests/test_settings.py` keeps the document equal to it.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic.fields import FieldInfo

from voicebot.config import COMMAND_OPTION_VARIABLES, EngineSettings, env_name
from voicebot.server.settings import ServerSettings

MODELS = (EngineSettings, ServerSettings)


def declared_variables() -> dict[str, str]:
    """Every variable a settings model or a command option reads: name -> where it is declared."""
    names: dict[str, str] = {}
    for model in MODELS:
        for field in model.model_fields:
            names.setdefault(env_name(model, field), model.__name__)
    names.update({name: "command option" for name in COMMAND_OPTION_VARIABLES})
    return names


def _default(info: FieldInfo) -> str:
    if info.is_required() or info.default_factory is not None or info.default is None:
        return ""
    value = info.default
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _rows() -> Iterator[tuple[str, str, str, str]]:
    for model in MODELS:
        for name, info in model.model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            where = model.__name__ + (f" (read by {extra['reader']})" if "reader" in extra else "")
            yield env_name(model, name), _default(info), where, (info.description or "").replace("|", "/")
    for name, description in COMMAND_OPTION_VARIABLES.items():
        yield name, "", "command option", description


def settings_table() -> str:
    """One markdown row per variable (the first model declaring it describes it)."""
    lines = ["| variable | default | declared in | meaning |", "|---|---|---|---|"]
    seen: set[str] = set()
    for name, default, where, description in _rows():
        if name not in seen:
            seen.add(name)
            lines.append(f"| `{name}` | {default} | {where} | {description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(settings_table(), end="")
