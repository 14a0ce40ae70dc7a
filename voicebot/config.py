"""Every `VOICEBOT_*` knob of the engine in one pydantic model, read from the environment once.

Why one model: the knobs used to be read by whichever module needed them, some at import time
(so a test or a command that set one afterwards was silently ignored) and some written back into
`os.environ` by a command to reach a module three layers down. Now the CLI's callback builds
`EngineSettings.from_env()` once (a bad value stops the command with the variable's name) and
installs it with `use`; the server's own knobs are `voicebot.server.settings.ServerSettings`,
read the same way. Modules get values as arguments, or from `current()` where the value is
process-wide (thread pools, the stats log). The lower layers never import this package: they take
the value as a parameter, and the few process-wide defaults they need (model cache folder,
recogniser choice, scripts folder) go through one reader each, `audio_models/environment.py` and
`dialogue/environment.py`, whose names are declared here too (`reader` in the table).

`docs/operations.md` ("Settings") holds the table `voicebot/settings_table.py` prints; a test keeps the
two equal and checks that every `VOICEBOT_*` name in the code is declared here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "VOICEBOT_"

#: Read by typer as a command option's default, never by a module: declared so the table is whole.
COMMAND_OPTION_VARIABLES: dict[str, str] = {
    "VOICEBOT_TOKEN": "`campaign run --server`: the server's stream token",
    "VOICEBOT_USER_PASSWORD": "`users add`: the new user's password (else prompted for)",
    "VOICEBOT_CAMPAIGN_METRICS_PORT": "`campaign run --metrics-port`: Prometheus metrics port",
}


class SettingsError(ValueError):
    """A variable holds a value its setting refuses; the message names the variable."""


def _env(name: str) -> dict[str, Any]:
    """A field read from a variable other than VOICEBOT_<FIELD>."""
    return {"env": name}


def _reader(where: str) -> dict[str, Any]:
    """A field a lower layer reads itself (lazily, through its one reader), not through this model."""
    return {"reader": where}


class EngineSettings(BaseModel):
    """The engine's knobs (the media server's are `ServerSettings`). Unset or empty: the default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    turn: Literal["text", "smart", "vad"] = Field(
        "text", description="how a debtor's turn ends: the words at a pause (text), Smart Turn v3 "
                            "(smart), or the VAD's silence alone (vad); docs/performance.md")
    turn_threshold: float = Field(0.5, ge=0, le=1, description="turn `smart`: P(complete) above which a "
                                                               "pause ends the turn")
    asr_threads: int | None = Field(None, ge=1, description="recogniser inference threads shared by all "
                                                            "calls; default one per core")
    tts_threads: int | None = Field(None, ge=1, description="speech synthesis threads shared by all "
                                                            "calls; default one per core")
    inference_nice: int = Field(10, ge=0, le=19, description="nice steps inference threads run below the "
                                                             "event loop; 0: off")
    stats_log: Path | None = Field(None, description="append one JSON line per ASR/TTS inference here "
                                                     "(benchmarks); unset: off")
    bus_prefix: str = Field("voicebot:", min_length=1, description="key and channel prefix of the live "
                                                                   "bus on a shared Redis")
    redis_url: str | None = Field(None, json_schema_extra=_env("REDIS_URL"),
                                  description="the live bus and campaign store on Redis; unset: in "
                                              "process (one machine)")
    opt_out_journal: Path | None = Field(None, description="opt-out journal shared by the server and "
                                                           "the campaigns; default RECORDS/opt-outs.jsonl")
    promise_grace: timedelta = Field(timedelta(0), description="how late a payment may come and still "
                                                               "keep its promise (1d, 12h); default none")
    retention_days: int = Field(365, ge=1, description="calls are purged this many days after they end "
                                                       "(`records purge`, the server's daily purge)")
    database_url: str | None = Field(None, description="SQLAlchemy URL of the records store; default "
                                                       "RECORDS/records.db (SQLite)")
    vosk_model_path: Path | None = Field(None, json_schema_extra=_env("VOSK_MODEL_PATH"),
                                         description="a Vosk model folder instead of the packaged one")
    loguru_level: str | None = Field(None, json_schema_extra=_env("LOGURU_LEVEL"),
                                     description="log level without -v/-q; default INFO")
    cache: Path | None = Field(None, json_schema_extra=_reader("audio_models, dialogue"),
                               description="cache folder: assembled models, NLU models, transcripts; "
                                           "default ~/.cache/voicebot")
    recognizer: str | None = Field(None, json_schema_extra=_reader("audio_models"),
                                   description="comma-separated recogniser ids preferred over each "
                                               "locale's default (e.g. zh-vosk)")
    onnx_threads: int = Field(1, ge=0, json_schema_extra=_reader("audio_models"),
                              description="intra-op threads of each ONNX session (Piper); 0: "
                                          "onnxruntime's defaults")
    prompt_cache_dir: Path | None = Field(None, json_schema_extra=_reader("audio_models"),
                                          description="rendered script text kept on disk; `serve "
                                                      "--prompt-cache` sets it for the server")
    scripts: Path | None = Field(None, json_schema_extra=_reader("dialogue"),
                                 description="scripts folder instead of the shipped scripts/")
    rasa_url: str | None = Field(None, json_schema_extra=_reader("dialogue"),
                                 description="a Rasa server for every locale's NLU (built-in fallback)")
    tts_splice: bool = Field(True, description="splice account values into cached script audio; "
                                               "0: synthesise whole replies")
    static_pieces: bool = Field(True, description="cache the fixed script text of prompts with "
                                                  "values; 0: off")

    @field_validator("promise_grace", mode="before")
    @classmethod
    def _grace(cls, value: Any) -> Any:
        from telephony.campaign.config import parse_duration  # telephony's campaign package is heavy

        return parse_duration(value.strip()) if isinstance(value, str) else value

    @field_validator("loguru_level")
    @classmethod
    def _level(cls, value: str | None) -> str | None:
        return value.upper() if value else value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> EngineSettings:
        """The settings from `environ` (default the process's), then the non-None `overrides`.

        Raises:
            SettingsError: a value is refused; the message names its variable."""
        values = env_values(cls, os.environ if environ is None else environ)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return validate_naming_variables(cls, values)


def env_name(model: type[BaseModel], field: str) -> str:
    extra = model.model_fields[field].json_schema_extra
    named = extra.get("env") if isinstance(extra, dict) else None
    return str(named) if named else ENV_PREFIX + field.upper()


def env_values(model: type[BaseModel], environ: Mapping[str, str]) -> dict[str, str]:
    """Each field's variable that is set and not blank, by field name."""
    found = {name: environ.get(env_name(model, name)) for name in model.model_fields}
    return {name: raw for name, raw in found.items() if raw is not None and raw.strip()}


def validate_naming_variables(model: type[BaseModel], values: dict[str, Any]) -> Any:
    """`model.model_validate(values)`, its errors rewritten to name each field's variable (a
    secret's value is not repeated: the message goes to logs)."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            if field in model.model_fields:
                secret = "SecretStr" in str(model.model_fields[field].annotation)
                shown = "(hidden)" if secret else repr(values.get(field))
                problems.append(f"{env_name(model, field)}={shown}: {error['msg']}")
            else:
                problems.append(error["msg"])
        raise SettingsError("; ".join(problems)) from None
    except ValueError as exc:  # a before-validator's own error (a duration, a JSON value)
        raise SettingsError(str(exc)) from None


_installed: EngineSettings | None = None


def use(settings: EngineSettings | None) -> None:
    """Install the settings the process runs with (the CLI's callback); None: none installed."""
    global _installed
    _installed = settings


def current() -> EngineSettings:
    """The installed settings; without any (a library caller, a test), read afresh each time so
    a test's `monkeypatch.setenv` is seen."""
    return _installed if _installed is not None else EngineSettings.from_env()
