"""A full disk or a database that goes away costs records only as long as it lasts, and never the
call (issue 19, item 9).

The disk is really full: the kernel's /dev/full answers every write with ENOSPC, put where a
call writes (a symlink in the records folder, or the recording's open file descriptor moved onto
it with dup2 mid-call). The database really goes away: a database of the test's own on the local
PostgreSQL server stops taking connections and its sessions are ended, then it comes back.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid

import numpy as np
import pytest
from sqlalchemy import create_engine, select, text

from conftest import CALL_DATE
from voicebot.recording.call_record import CallRecorder
from voicebot.recording.late_writes import late_writes
from voicebot.recording.stereo import StereoRecorder
from voicebot.recording.wav import GrowingWav
from voicebot.records import RecordStore, attach_session
from voicebot.records.models import Call, Turn

FULL = "/dev/full"


@pytest.fixture(autouse=True)
def _full_device():
    if not os.path.exists(FULL):
        pytest.fail("/dev/full is missing: these tests need the kernel's full device")


def call(engines, accounts):
    session = engines["en"].start_call(accounts["EN-EARLY-1"], today=CALL_DATE)
    return session


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_full_disk_does_not_silence_the_call_and_loses_no_line(engines, accounts, tmp_path):
    session = call(engines, accounts)
    jsonl = tmp_path / f"{session.call_id}.jsonl"
    jsonl.symlink_to(FULL)
    recorder = CallRecorder(tmp_path, session)
    assert recorder.write_error and "No space left" in recorder.write_error

    session.open()
    turn = session.hear("yes this is John")  # the bot still answers, the turn is kept in memory
    assert turn.bot_text and "1,250" in turn.bot_text

    jsonl.unlink()  # space again: the next line writes every line kept, in order
    session.hear("I can pay on Friday")
    assert recorder.write_error is None
    kinds = [(r["type"], r.get("index")) for r in lines(jsonl)]
    assert kinds == [("call", None), ("turn", 0), ("turn", 1), ("turn", 2)]

    summary = recorder.finish()
    assert "record_error" not in summary
    assert json.loads(recorder.summary_path.read_text())["call_id"] == session.call_id


def test_a_call_that_ends_on_a_full_disk_is_written_when_the_disk_has_room(engines, accounts, tmp_path):
    """The summary cannot be written when the call ends: none is left half written, the caller
    still gets it, and it is written (whole, with the JSONL's last lines) once the disk takes it."""
    session = call(engines, accounts)
    recorder = CallRecorder(tmp_path, session)
    session.open()
    session.hear("yes this is John")
    jsonl_lines = len(lines(recorder.events_path))
    tmp = recorder.summary_path.with_name(recorder.summary_path.name + ".tmp")
    tmp.symlink_to(FULL)  # the summary's temporary file is on a full disk
    recorder.events_path.rename(tmp_path / "moved.jsonl")
    (tmp_path / f"{session.call_id}.jsonl").symlink_to(FULL)  # and so is the JSONL now

    summary = recorder.finish()

    assert "kept in memory" in summary["record_error"]
    assert summary["outcome"] and len(summary["turns"]) == 2  # the caller still gets the summary
    assert not recorder.summary_path.exists()
    assert session.call_id in late_writes.pending()

    (tmp_path / f"{session.call_id}.jsonl").unlink()  # room again
    (tmp_path / "moved.jsonl").rename(recorder.events_path)
    late_writes.retry_now()
    deadline = time.monotonic() + 10
    while session.call_id in late_writes.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    written = json.loads(recorder.summary_path.read_text())
    assert written["call_id"] == session.call_id and len(written["turns"]) == 2
    assert [r["type"] for r in lines(recorder.events_path)][jsonl_lines:] == ["result"]
    assert not tmp.exists()


def test_a_failing_listener_is_noted_and_the_others_still_hear(engines, accounts, tmp_path):
    session = call(engines, accounts)
    heard = []

    def broken_store(turn):
        raise OSError(28, "No space left on device")

    session.listeners += [broken_store, heard.append]
    session.open()
    turn = session.hear("stop calling me")

    assert turn.end and session.policy.state.opted_out  # the opt-out is acted on
    assert [t.index for t in heard] == [0, 1]  # the listener after the broken one (the journal)
    failed = [e for e in session.events if e["kind"] == "listener_failed"]
    assert len(failed) == 2 and "No space left" in failed[0]["error"]
    assert "broken_store" in failed[0]["listener"]


def test_a_recording_on_a_disk_that_fills_mid_call_is_marked_not_fatal(tmp_path):
    wav = GrowingWav(tmp_path / "call.wav", 8000, channels=2)
    recorder = StereoRecorder(wav)
    second = np.full(8000, 1000, np.int16).tobytes()
    recorder.heard(second)  # one second: written
    recorder.flush()
    assert recorder.failed is None and wav.seconds == pytest.approx(1.0)

    full = os.open(FULL, os.O_WRONLY)
    os.dup2(full, wav._fh.fileno())  # the disk is full from now on (the same descriptor, now ENOSPC)
    os.close(full)
    ticks = [recorder.heard(second[i:i + 320]) for _ in range(3) for i in range(0, len(second), 320)]
    recorder.close()

    assert recorder.failed and "No space left" in recorder.failed
    assert sum(t is not None for t in ticks) >= 10  # the dialogue's clock kept ticking


def test_writes_wait_for_a_database_that_went_away(engines, accounts):
    url = os.environ.get("VOICEBOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"vb_outage_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL at {url} is not usable: {exc}")
    own = url.rsplit("/", 1)[0] + f"/{name}"
    store = RecordStore(own, retry_for_s=60)
    try:
        session = engines["en"].start_call(accounts["EN-EARLY-1"], today=CALL_DATE)
        link = attach_session(store, session)
        session.open()
        store.flush()
        with admin.connect() as conn:  # the database goes away
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
        session.hear("yes this is John")
        session.hear("I can pay on Friday")
        deadline = time.monotonic() + 20
        while store.unavailable is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.unavailable, "the writer never noticed the database was away"
        flushed = threading.Thread(target=store.flush)
        flushed.start()
        time.sleep(1.0)
        assert flushed.is_alive()  # the writes wait, they are not dropped

        with admin.connect() as conn:  # it comes back
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        flushed.join(timeout=30)
        link.finish()
        store.flush()

        assert store.unavailable is None and store.failures == 0
        with store.session() as db:
            assert [t.index for t in db.scalars(select(Turn).where(Turn.call_id == session.call_id)
                                                .order_by(Turn.index))] == [0, 1, 2]
            assert db.get(Call, session.call_id).outcome == session.result().outcome
    finally:
        store.close()
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_ready_says_when_the_records_disk_refuses_writes(tmp_path):
    """/ready fails (503, naming the disk) while a write to the records folder fails at the OS,
    and recovers with it; /health says alive all along."""
    import httpx

    from conftest import CALL_DATE, SAMPLE_ACCOUNTS
    from media_server import free_port, serving
    from voicebot.server import ServerSettings, create_app

    port = free_port()
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=tmp_path, tokens=["t"],
                              call_date=CALL_DATE, warm_up=False, ready_min_free_mb=1)
    with serving(create_app(settings), port):
        web = httpx.Client(base_url=f"http://127.0.0.1:{port}")
        assert web.get("/ready").status_code == 200
        (tmp_path / ".ready-probe").symlink_to(FULL)  # the disk is full from here
        reply = web.get("/ready")
        assert reply.status_code == 503
        disk = reply.json()["checks"]["records_disk"]
        assert not disk["ok"] and "No space left" in disk["error"]
        assert web.get("/health").status_code == 200
        (tmp_path / ".ready-probe").unlink()
        assert web.get("/ready").json()["ready"] is True


def test_a_call_that_starts_on_a_full_disk_still_runs(tmp_path):
    """The recording cannot even get its header: the recorder says so and takes audio anyway."""
    (tmp_path / "call.wav").symlink_to(FULL)
    recorder = StereoRecorder(GrowingWav(tmp_path / "call.wav", 8000, channels=2))
    assert recorder.failed and "No space left" in recorder.failed
    ticks = [recorder.heard(np.zeros(160, np.int16).tobytes()) for _ in range(100)]
    recorder.close()
    assert sum(t is not None for t in ticks) >= 9
