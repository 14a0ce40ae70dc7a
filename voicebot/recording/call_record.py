"""The call record: every turn appended to a JSONL file the moment it happens, and a summary
JSON when the call ends.  A crash mid-call leaves the JSONL with every turn already spoken."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from dialogue.session import CallSession, TurnRecord


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


class CallRecorder:
    def __init__(self, folder: Path, session: CallSession, extra: dict[str, Any] | None = None):
        self.folder = folder
        self.session = session
        folder.mkdir(parents=True, exist_ok=True)
        self.events_path = folder / f"{session.call_id}.jsonl"
        self.summary_path = folder / f"{session.call_id}.json"
        self.wav_path = folder / f"{session.call_id}.wav"
        self.timings: dict[int, dict[str, float]] = {}
        self.extra = dict(extra or {})
        self._fh = self.events_path.open("a", encoding="utf-8")
        self._write({"type": "call", "call_id": session.call_id, "account": session.account.id,
                     "locale": session.scripts.locale, "stage": session.stage, "voice": session.voice,
                     "attempt": session.attempt, "started": datetime.now(timezone.utc).isoformat(),
                     **self.extra})
        session.listeners.append(self.on_turn)
        session.event_listeners.append(self.on_event)

    def _write(self, event: dict[str, Any]) -> None:
        self._fh.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
        self._fh.flush()

    def on_turn(self, turn: TurnRecord) -> None:
        self._write({"type": "turn", **turn.to_dict()})

    def on_event(self, event: dict[str, Any]) -> None:
        self._write({"type": "event", **event})

    def on_timing(self, index: int, timings: dict[str, float]) -> None:
        self.timings[index] = timings
        self._write({"type": "timing", "turn": index, **timings})

    def finish(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        if not self.session.ended:
            self.session.hangup()
        result = self.session.result().to_dict()
        processing = [t["processing_ms"] for t in self.timings.values() if "processing_ms" in t]
        turns = []
        for turn in self.session.turns:
            item = turn.to_dict()
            item["timings"] = self.timings.get(turn.index, {})
            turns.append(item)
        summary = {
            "call_id": self.session.call_id, "account": self.session.account.id,
            "locale": self.session.scripts.locale, "stage": self.session.stage,
            "voice": self.session.voice, "attempt": self.session.attempt,
            "recording": str(self.wav_path) if self.wav_path.exists() else None,
            **result,
            "processing_ms": {"p50": percentile(processing, 50), "p95": percentile(processing, 95)},
            "events": [e["kind"] for e in self.session.events],
            "event_log": self.session.events,
            **self.extra, **(extra or {}),
            "turns": turns,
        }
        self._write({"type": "result", **result})
        self._fh.close()
        self.summary_path.write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str),
                                     encoding="utf-8")
        return summary
