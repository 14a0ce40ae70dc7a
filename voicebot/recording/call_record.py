"""The call record: every turn appended to a JSONL file the moment it happens, and a summary
JSON when the call ends.  A crash mid-call leaves the JSONL with every turn already spoken.

A full disk must not silence a call or lose what it said: a line that cannot be written is kept
(up to PENDING_MAX lines) and written before the next one once the disk takes it again; the
summary is written whole or not at all (a temporary file, then a rename), and `finish` still
returns it, so the records store gets the call whatever the disk did.
"""

from __future__ import annotations

import json
import os
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

from dialogue.session import CallSession, TurnRecord
from voicebot.recording.late_writes import late_writes


PENDING_MAX = 10_000  # lines kept for a disk that is full (a long call writes ~100)


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
        self._pending: deque[bytes] = deque(maxlen=PENDING_MAX)  # lines the disk refused so far
        self.write_error: str | None = None  # the last write error, while lines are pending
        self._finished = False
        self._fd = self._open()
        self._write({"type": "call", "call_id": session.call_id, "account": session.account.id,
                     "locale": session.scripts.locale, "stage": session.stage, "voice": session.voice,
                     "attempt": session.attempt, "started": datetime.now(timezone.utc).isoformat(),
                     **self.extra})
        session.listeners.append(self.on_turn)
        session.event_listeners.append(self.on_event)

    def _write(self, event: dict[str, Any]) -> None:
        self._pending.append((json.dumps(event, ensure_ascii=False, default=str) + "\n").encode("utf-8"))
        if not self._finished:
            self._write_pending()

    def _write_pending(self) -> bool:
        """Every line kept so far, in order; False (and the lines still kept) if the disk refused."""
        try:
            if self._fd < 0:  # the last write failed: open the file again (it may be another disk now)
                self._fd = self._open()
            while self._pending:
                self._append(self._pending[0])
                self._pending.popleft()
        except OSError as exc:
            if self.write_error is None:
                logger.error(f"call record {self.events_path}: {exc}; keeping {len(self._pending)} "
                             f"line(s) in memory until the disk takes them")
            self.write_error = f"{type(exc).__name__}: {exc}"
            self._close()
            return False
        if self.write_error is not None:
            logger.warning(f"call record {self.events_path}: written again")
        self.write_error = None
        return True

    def _write_summary(self, text: str) -> bool:
        """The summary whole or not at all: a temporary file, then a rename."""
        tmp = self.summary_path.with_name(self.summary_path.name + ".tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, self.summary_path)
        except OSError as exc:
            if self.write_error is None:
                logger.error(f"call summary {self.summary_path}: {exc}; kept until the disk has room")
            self.write_error = self.write_error or f"{type(exc).__name__}: {exc}"
            tmp.unlink(missing_ok=True)
            return False
        return True

    def _open(self) -> int:
        return os.open(self.events_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _close(self) -> None:
        if self._fd >= 0:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = -1

    def _append(self, line: bytes) -> None:
        """One whole line or none: a write cut short by a full disk is cut back off."""
        size = os.fstat(self._fd).st_size
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view):]
        except OSError:
            try:
                os.ftruncate(self._fd, size)
            except OSError:
                pass
            raise

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
        self._finished = True
        text = json.dumps(summary, ensure_ascii=False, indent=2, default=str)

        def attempt() -> bool:  # now, and later again if the disk refuses
            lines_ok = not self._pending or self._write_pending()
            self._close()
            return self._write_summary(text) and lines_ok
        if not attempt():
            summary["record_error"] = (f"unwritten ({self.write_error or 'summary'}): kept in memory and "
                                       f"written when the disk has room")
            late_writes.add(self.session.call_id, attempt)
        return summary
