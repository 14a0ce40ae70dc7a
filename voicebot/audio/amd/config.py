"""AMD settings: what separates a person's "hello?" from a recorded greeting, in seconds.

Defaults follow the shape classic detectors (Asterisk's AMD, carriers' own) use: people answer
with one or two words and wait; machines talk on.  A locale can override any of them under
`amd:` in its strategy.yaml, a server under `amd` in its settings (see `resolve_settings`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AmdSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_greeting_s: float = Field(
        2.0, gt=0, description="speech (with short pauses) longer than this is a machine's greeting")
    silence_after_greeting_s: float = Field(
        0.8, gt=0, description="a short greeting followed by this much silence is a person waiting")
    min_speech_s: float = Field(
        0.08, gt=0, description="shorter bursts of 'speech' are clicks or line noise")
    long_at_deadline_s: float = Field(
        1.5, gt=0, description="at the deadline, a greeting still going after this long is a machine")
    decision_deadline_s: float = Field(
        3.0, gt=0, description="no verdict by then: 'unknown' (the call goes on as with a person)")
    beep_search_s: float = Field(
        30.0, gt=0, description="after a machine verdict, how long to wait for the beep")
    machine_end_silence_s: float = Field(
        1.6, gt=0, description="no beep: the greeting is over after this much silence")
    beep_min_s: float = Field(0.14, gt=0, description="a steady tone held this long is a beep")
    beep_min_hz: float = Field(400.0, gt=0)
    beep_max_hz: float = Field(2000.0, gt=0)
    beep_purity: float = Field(
        0.95, gt=0, lt=1, description="share of the band's energy the tone's peak must hold "
                                       "(a 1 kHz beep: 0.99; speech frames: below 0.91)")
    beep_drift_hz: float = Field(40.0, gt=0, description="a beep's pitch moves less than this")
    vad_mode: int = Field(3, ge=0, le=3, description="webrtcvad aggressiveness")
    min_level_dbfs: float = Field(
        -40.0, description="quieter frames are silence whatever the VAD says (line noise is -60..-45)")

    @model_validator(mode="after")
    def _band(self) -> AmdSettings:
        if self.beep_max_hz <= self.beep_min_hz:
            raise ValueError("beep_max_hz must be above beep_min_hz")
        return self


def resolve_settings(*layers: dict[str, Any] | AmdSettings | None) -> AmdSettings:
    """Defaults, then each layer in order (strategy's `amd:`, then the server's): later wins."""
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer is None:
            continue
        data = layer.model_dump(exclude_unset=True) if isinstance(layer, AmdSettings) else dict(layer)
        merged.update(data)
    return AmdSettings.model_validate(merged)
