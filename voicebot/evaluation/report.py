"""Figures of a spoken NLU evaluation, as a JSON-ready object and as terminal tables.

Written and spoken figures sit side by side because the difference is the point: how much
accuracy a caller loses to the phone line and the recogniser, for which voices, and for which
intents. Protected intents get their own figures: missing an opt-out, a dispute or an
attorney's representation has legal consequences a missed `ask_amount` has not, and so does
hearing one that was not said (the false-protected rate: the share of other turns classified
as a protected intent, which can end a call or stop collection by mistake).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from dialogue.intents import PROTECTED_INTENTS
from voicebot.evaluation.audio_eval import AudioEvalRun, Spoken, Written
from voicebot.evaluation.text_error import Unit, edit_distance, tokens, unit_for

#: Intents whose miss (or false alarm) matters most: the engine's protected intents (never
#: swallowed by a catch-all; opt-outs, a dispute, a lawyer or bankruptcy change what a collector
#: may say or do next), and at least these eight whatever that set becomes.
EVAL_PROTECTED: frozenset[str] = frozenset(PROTECTED_INTENTS) | {
    "stop_calling", "dispute", "third_party", "wrong_number", "request_human", "abusive",
    "attorney", "bankruptcy",
}
TOP_CONFUSIONS = 10


@dataclass
class VoiceFigures:
    voice: str
    utterances: int
    audio_accuracy: float
    error_rate: float          # WER (en) or CER (zh) over all its utterances
    protected_recall: float | None
    false_protected: float | None
    empty: int                 # utterances heard as nothing
    split: int                 # utterances the VAD cut into more than one turn


@dataclass
class IntentFigures:
    intent: str
    support: int               # written examples
    text_recall: float
    audio_recall: float        # over every voice
    protected: bool


@dataclass
class AudioEvalReport:
    locale: str
    unit: Unit
    voices: list[str]
    examples: int
    utterances: int
    text_accuracy: float
    audio_accuracy: float
    error_rate: float
    per_voice: list[VoiceFigures]
    per_intent: list[IntentFigures]
    protected: dict[str, Any]
    confusions: list[tuple[str, str, int]]
    run: dict[str, Any]
    written: list[Written] = field(repr=False, default_factory=list)
    spoken: list[Spoken] = field(repr=False, default_factory=list)

    def to_dict(self, *, utterances: bool = True) -> dict[str, Any]:
        """JSON-ready; with `utterances`, each written and spoken example too."""
        out: dict[str, Any] = {
            "locale": self.locale,
            "error_unit": self.unit,
            "voices": self.voices,
            "examples": self.examples,
            "utterances": self.utterances,
            "text_accuracy": _r(self.text_accuracy),
            "audio_accuracy": _r(self.audio_accuracy),
            "error_rate": _r(self.error_rate),
            "per_voice": [_rounded(asdict(v)) for v in self.per_voice],
            "per_intent": [_rounded(asdict(i)) for i in self.per_intent],
            "protected": _rounded(self.protected),
            "confusions": [{"true": t, "predicted": p, "count": n} for t, p, n in self.confusions],
            "run": _rounded(self.run),
        }
        if utterances:
            out["written"] = [{"text": w.text, "intent": w.intent, "predicted": w.predicted,
                               "confidence": _r(w.confidence)} for w in self.written]
            out["spoken"] = [{"text": s.text, "intent": s.intent, "voice": s.voice,
                              "transcript": s.transcript, "segments": list(s.segments),
                              "predicted": s.predicted, "confidence": _r(s.confidence),
                              "cached": s.cached} for s in self.spoken]
        return out


def build_report(run: AudioEvalRun) -> AudioEvalReport:
    """Compute every figure of the report from a run."""
    unit = unit_for(run.locale)
    by_voice: dict[str, list[Spoken]] = defaultdict(list)
    for s in run.spoken:
        by_voice[s.voice].append(s)
    per_voice = [
        VoiceFigures(
            voice=voice,
            utterances=len(items),
            audio_accuracy=_accuracy(items),
            error_rate=_error_rate(items, unit),
            protected_recall=_protected_recall(items),
            false_protected=_false_protected(items),
            empty=sum(1 for s in items if not s.transcript.strip()),
            split=sum(1 for s in items if s.turns > 1),
        )
        for voice in run.voices if (items := by_voice.get(voice))
    ]
    intents = sorted({w.intent for w in run.written})
    per_intent = [
        IntentFigures(intent, sum(1 for w in run.written if w.intent == intent),
                      _recall(run.written, intent), _recall(run.spoken, intent),
                      intent in EVAL_PROTECTED)
        for intent in intents
    ]
    present = [i for i in intents if i in EVAL_PROTECTED]
    protected = {
        "intents": present,
        "text_recall": _protected_recall(run.written),
        "audio_recall": _protected_recall(run.spoken),
        "text_false_protected": _false_protected(run.written),
        "audio_false_protected": _false_protected(run.spoken),
    }
    confused = Counter((s.intent, s.predicted) for s in run.spoken if s.intent != s.predicted)
    return AudioEvalReport(
        locale=run.locale, unit=unit, voices=run.voices,
        examples=len(run.written), utterances=len(run.spoken),
        text_accuracy=_accuracy(run.written), audio_accuracy=_accuracy(run.spoken),
        error_rate=_error_rate(run.spoken, unit),
        per_voice=per_voice, per_intent=per_intent, protected=protected,
        confusions=[(t, p, n) for (t, p), n in confused.most_common(TOP_CONFUSIONS)],
        run={"recognised": run.recognised, "from_cache": run.from_cache, "jobs": run.jobs,
             "wall_secs": run.wall_secs, "errors": run.errors[:20],
             "error_count": len(run.errors), "listening": run.listening},
        written=run.written, spoken=run.spoken,
    )


def _accuracy(items: Iterable[Written | Spoken]) -> float:
    items = list(items)
    return sum(i.predicted == i.intent for i in items) / len(items) if items else 0.0


def _recall(items: Iterable[Written | Spoken], intent: str) -> float:
    mine = [i for i in items if i.intent == intent]
    return sum(i.predicted == intent for i in mine) / len(mine) if mine else 0.0


def _protected_recall(items: Iterable[Written | Spoken]) -> float | None:
    """Share of protected turns classified as exactly their intent (None: there were none)."""
    mine = [i for i in items if i.intent in EVAL_PROTECTED]
    return sum(i.predicted == i.intent for i in mine) / len(mine) if mine else None


def _false_protected(items: Iterable[Written | Spoken]) -> float | None:
    """Share of non-protected turns classified as some protected intent."""
    others = [i for i in items if i.intent not in EVAL_PROTECTED]
    return sum(i.predicted in EVAL_PROTECTED for i in others) / len(others) if others else None


def _error_rate(items: list[Spoken], unit: Unit) -> float:
    """Edits over reference tokens, summed over the utterances (long lines weigh more)."""
    edits = sum(edit_distance(tokens(s.text, unit), tokens(s.transcript, unit)) for s in items)
    total = sum(len(tokens(s.text, unit)) for s in items)
    return edits / total if total else 0.0


def _r(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return _r(value)


# --- terminal output ---------------------------------------------------------------------------

def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _delta(text: float | None, audio: float | None) -> str:
    return "-" if text is None or audio is None else f"{audio - text:+.3f}"


def print_report(report: AudioEvalReport, console: Console) -> None:
    """Tables for a terminal; the caller prints the final `audio accuracy:` line. Shows
    figures and intent names only, never an example's text (sets may be blind)."""
    rate = "WER" if report.unit == "word" else "CER"
    table = Table(title=f"accuracy, written (text) and spoken (audio): {report.examples} examples "
                        f"x {len(report.voices)} voices = {report.utterances} utterances, 8 kHz mu-law",
                  caption=f"prot rec: protected-intent recall; false prot: other turns heard as a "
                          f"protected intent; empty: heard nothing; split: cut into several turns")
    for name in ("voice", "text", "audio", "change", rate, "prot rec", "false prot", "empty",
                 "split"):
        table.add_column(name, justify="left" if name == "voice" else "right", no_wrap=True)
    for v in report.per_voice:
        table.add_row(v.voice, _f(report.text_accuracy), _f(v.audio_accuracy),
                      _delta(report.text_accuracy, v.audio_accuracy), _f(v.error_rate),
                      _f(v.protected_recall), _f(v.false_protected), str(v.empty), str(v.split),
                      style="red" if v.audio_accuracy < report.text_accuracy - 0.1 else None)
    p = report.protected
    table.add_row("all", _f(report.text_accuracy), _f(report.audio_accuracy),
                  _delta(report.text_accuracy, report.audio_accuracy), _f(report.error_rate),
                  _f(p["audio_recall"]), _f(p["audio_false_protected"]),
                  str(sum(v.empty for v in report.per_voice)),
                  str(sum(v.split for v in report.per_voice)), style="bold")
    console.print(table)

    intents = Table(title="recall per intent (* protected)")
    for name in ("intent", "support", "text", "audio", "change"):
        intents.add_column(name, justify="left" if name == "intent" else "right", no_wrap=True)
    for i in report.per_intent:
        intents.add_row(("* " if i.protected else "  ") + i.intent, str(i.support),
                        _f(i.text_recall), _f(i.audio_recall),
                        _delta(i.text_recall, i.audio_recall),
                        style="red" if i.protected and i.audio_recall < 0.8 else None)
    console.print(intents)

    console.print(f"protected intents ({', '.join(p['intents']) or 'none in this set'}):")
    console.print(f"  recall          text {_f(p['text_recall'])}  audio {_f(p['audio_recall'])}")
    console.print(f"  false protected text {_f(p['text_false_protected'])}  "
                  f"audio {_f(p['audio_false_protected'])}  (share of other turns heard as one)")
    console.print("most confused on audio (true -> predicted):" if report.confusions
                  else "most confused on audio: none")
    for true, predicted, count in report.confusions:
        console.print(f"  {true} -> {predicted}: {count}")
    run = report.run
    turn, heard = run["listening"].get("turn", {}), run["listening"].get("recogniser", {})
    console.print(f"heard with the call's listening side: {turn.get('vad')} VAD, turn end "
                  f"{turn.get('end')}, {heard.get('engine')} {heard.get('decoder', '')} "
                  f"beam {heard.get('beam_size', '-')}")
    console.print(f"{run['recognised']} utterances spoken and recognised, {run['from_cache']} "
                  f"from the transcript cache; {run['jobs']} at a time; wall {run['wall_secs']:.1f} s")
    if run["error_count"]:
        console.print(f"[red]{run['error_count']} recogniser errors[/red] (see --json: run.errors)")
