"""The console as an attacker meets it (issue 19: items 5 and 6, and the low items), over the
real server (uvicorn on a loopback port, `create_app` with its records store):

- a session ends on the server: a cookie kept after signing out, or after the user's password
  was reset, opens nothing, and behind HTTPS the cookie is Secure;
- a recording is served only from the records folder (a row pointing at /etc/passwd, or a
  symlink out of the folder, serves nothing) and each fetch is in the audit log;
- pages holding personal data are not framed, not cached and run no foreign script; the API
  description is not published; agents cannot export the calls list;
- a token in a query string never reaches the log, however its name is spelt.
"""

from __future__ import annotations

import sqlite3
import wave
from datetime import UTC, datetime

import httpx
import numpy as np
import pytest

from conftest import CALL_DATE, SAMPLE_ACCOUNTS
from media_server import free_port, serving
from voicebot.cli.serve_cmd import redact_query_tokens
from voicebot.console.auth import add_user
from voicebot.records.models import Call
from voicebot.server import ServerSettings, create_app

PASSWORD = "hardening-pass-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    records = tmp_path_factory.mktemp("records")
    port = free_port()
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=records, tokens=["t"],
                              call_date=CALL_DATE, warm_up=False, public_url=f"https://bank.example:{port}")
    app = create_app(settings)
    store = app.state.records
    for user, role in (("sam", "supervisor"), ("alex", "agent"), ("rita", "supervisor")):
        add_user(store, user, PASSWORD, role)
    wav = records / "inside.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(2), out.setsampwidth(2), out.setframerate(8000)
        out.writeframes(np.zeros(16000, np.int16).tobytes())
    outside = tmp_path_factory.mktemp("elsewhere") / "secret.wav"
    outside.write_bytes(wav.read_bytes())
    (records / "escape.wav").symlink_to(outside)
    rows = {"good": str(wav), "passwd": "/etc/passwd", "dotdot": str(records / ".." / outside.parent.name / "secret.wav"),
            "symlink": str(records / "escape.wav")}

    def write(db) -> None:
        for cid, path in rows.items():
            db.add(Call(id=cid, account_id="ACC", debtor_name="Ann Lee", phone="+15550001111", locale="en",
                        stage="early", attempt=1, voice="en-joe", started_at=datetime.now(UTC), recording=path,
                        tags=[], tag_text=",", confidence_threshold=0.5))
    store.write_now(write)
    with serving(app, port):
        yield {"url": f"http://127.0.0.1:{port}", "store": store, "records": records}


def signed_in(server, user: str) -> httpx.Client:
    """A client signed in as `user`. The server believes it is behind HTTPS (its public URL), so
    its cookie is Secure and httpx would not send it over this loopback http: set by hand, as
    the TLS proxy in front would pass it."""
    reply = httpx.Client(base_url=server["url"]).post("/console/login", data={"username": user, "password": PASSWORD})
    assert reply.status_code == 303, reply.text
    return httpx.Client(base_url=server["url"], cookies={"vb_console": reply.cookies["vb_console"]})


def audit_rows(server, action: str) -> list[tuple[str, str]]:
    server["store"].flush()
    db = sqlite3.connect(server["records"] / "records.db")
    return db.execute("SELECT username, target FROM vb_audit WHERE action=?", (action,)).fetchall()


def test_a_signed_out_cookie_opens_nothing(server):
    web = signed_in(server, "sam")
    kept = web.cookies["vb_console"]
    assert web.get("/console/api/live").status_code == 200
    web.post("/console/logout")
    thief = httpx.Client(base_url=server["url"], cookies={"vb_console": kept})
    assert thief.get("/console/api/live").status_code == 401
    assert ("sam", "") in audit_rows(server, "sign_out")


def test_a_password_reset_ends_the_old_sessions(server):
    web = signed_in(server, "rita")
    assert web.get("/console/api/live").status_code == 200
    add_user(server["store"], "rita", "a-new-password-2", "supervisor", replace=True)
    assert web.get("/console/api/live").status_code == 401
    fresh = httpx.Client(base_url=server["url"])
    assert fresh.post("/console/login", data={"username": "rita", "password": "a-new-password-2"}).status_code == 303
    add_user(server["store"], "rita", PASSWORD, "supervisor", replace=True)  # as the other tests expect


def test_behind_https_the_session_cookie_is_secure_http_only_and_strict(server):
    reply = httpx.Client(base_url=server["url"]).post("/console/login", data={"username": "sam", "password": PASSWORD})
    cookie = reply.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


@pytest.mark.parametrize("row", ["passwd", "dotdot", "symlink"])
def test_a_recording_outside_the_records_folder_is_never_served(server, row):
    web = signed_in(server, "sam")
    reply = web.get(f"/console/calls/{row}/recording")
    assert reply.status_code == 404 and "root:" not in reply.text
    assert 'id="recording"' not in web.get(f"/console/calls/{row}").text


def test_a_recording_fetch_is_audited_and_not_cached(server):
    web = signed_in(server, "sam")
    reply = web.get("/console/calls/good/recording")
    assert reply.status_code == 200 and reply.content[:4] == b"RIFF"
    assert reply.headers["cache-control"] == "no-store"
    web.get("/console/calls/good/recording", headers={"Range": "bytes=100-200"})  # a seek: not another fetch
    assert audit_rows(server, "fetch_recording").count(("sam", "good")) == 1


def test_pages_with_personal_data_are_not_framed_cached_or_scripted_from_elsewhere(server):
    web = signed_in(server, "sam")
    for path in ("/console/login", "/console/calls", "/console/calls/good", "/console/api/live"):
        headers = web.get(path).headers
        assert headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in headers["content-security-policy"] and \
            "script-src 'self'" in headers["content-security-policy"], path
        assert headers["cache-control"] == "no-store", path
        assert headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in web.get("/console/static/live.js").headers.get("cache-control", "")
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert web.get(path).status_code == 404, path


def test_agents_cannot_export_the_calls_list(server):
    agent = signed_in(server, "alex")
    assert agent.get("/console/calls").status_code == 200
    assert agent.get("/console/calls.csv").status_code == 403
    assert signed_in(server, "sam").get("/console/calls.csv").status_code == 200


@pytest.mark.parametrize("logged, shown", [
    ("GET /media/pcm?token=s3cret&stage=early", "GET /media/pcm?token=***&stage=early"),
    ("/media/pcm?stage=early&%74oken=s3cret", "/media/pcm?stage=early&%74oken=***"),
    ("/media/pcm?TOKEN=s3cret", "/media/pcm?TOKEN=***"),
    ("/media/pcm?tokens=fine&x=1", "/media/pcm?tokens=fine&x=1"),
])
def test_a_token_in_a_query_string_never_reaches_the_log(logged, shown):
    assert redact_query_tokens(logged) == shown
