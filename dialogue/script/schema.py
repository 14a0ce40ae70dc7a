"""JSON Schemas of the script files, generated from the pydantic models and published in
scripts/schema/ so editors can autocomplete and check fields while a designer types."""

from __future__ import annotations

import json
from pathlib import Path

from dialogue.script.models import SCHEMA_MODELS


def schema_documents() -> dict[str, str]:
    """File name -> JSON text, stable (sorted keys) so the published copy can be diffed."""
    out = {}
    for name, model in SCHEMA_MODELS.items():
        schema = model.model_json_schema(by_alias=True)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = f"voicebot {name} file"
        out[f"{name}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return out


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for file, text in schema_documents().items():
        path = folder / file
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale_schemas(folder: Path) -> list[str]:
    """Published files that differ from what the models generate now."""
    return [f for f, text in schema_documents().items()
            if not (folder / f).is_file() or (folder / f).read_text(encoding="utf-8") != text]
