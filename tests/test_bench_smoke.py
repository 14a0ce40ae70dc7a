"""`voicebot bench` end to end, small: the real server as a subprocess, two simulated Twilio
carriers over real WebSockets, real Whisper and Piper.  It checks that the benchmark completes,
that every call reached its scripted outcome, and that the table and JSON are written; it
asserts no timing (figures on a shared 2-core CI machine say nothing; docs/performance.md
has the measured ones)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from voicebot.bench.scenarios import scenario_for
from voicebot.cli import app


def test_bench_two_calls(tmp_path):
    out = tmp_path / "bench"
    result = CliRunner().invoke(app, ["bench", "--calls", "2", "--duration", "10", "--stagger", "0.5",
                                      "--out", str(out), "--cold-cache"])  # no unmeasured warm-up
    assert result.exit_code == 0, result.output
    assert "calls placed / failed" in result.output and "turn latency" in result.output  # the table

    document = json.loads((out / "bench.json").read_text())
    assert document["command"][:2] == ["voicebot", "bench"]
    [level] = document["levels"]
    assert level["calls"] == 2 and level["calls_failed"] == 0 and level["failures"] == []
    assert level["calls_placed"] >= 2 and level["calls_completed"] == level["calls_placed"]
    expected = {scenario_for(i).name: scenario_for(i).expected_outcome for i in range(level["calls_placed"])}
    for call in level["per_call"]:
        assert call["outcome"] == expected[call["scenario"]] and call["failed"] is None
    # Every figure was measured, from the carrier, the server's records and its stats log.
    assert level["turn_latency_ms"]["n"] >= 2 and level["processing_ms"]["n"] >= 2
    assert level["asr_rtf"]["n"] >= 2 and level["tts_rtf"]["n"] >= 1
    assert level["tts_speech_s"]["synthesised_s"] > 0
    assert level["underruns"]["frames"] > 0 and level["server_rss_mb"]["max"] > 0
    assert not (out / "latency.png").exists()  # the plot needs several levels
    # The server's own call records are kept next to the figures, one summary per call.
    summaries = [path for path in (out / "calls-2" / "records").glob("*.json")]
    assert len(summaries) == level["calls_placed"]
