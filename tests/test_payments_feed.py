"""The payments feed into the promise book (issue 21): `voicebot payments import FILE.csv` (every
bad row named by its line, formula-like cells refused, the same file twice adds nothing, a
reference already recorded with other facts is never overwritten) and the server's POST
/payments (its own bearer token, all or nothing, idempotent), served on a real socket.  A
payment in time marks its promise kept; the console's pages show the book by role."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from conftest import SAMPLE_ACCOUNTS
from media_server import free_port, serving
from voicebot.console.auth import add_user
from voicebot.records.models import Call
from voicebot.records.promise_book import write_promise
from voicebot.records.store import RecordStore, sqlite_url
from voicebot.server import ServerSettings, create_app

VOICEBOT = [str(Path(sys.executable).with_name("voicebot"))]
TOKEN = "feed-token-1"


def seed_promise(records: Path, account_id: str, call_id: str, amount: float = 200.0,
                 promised: date = date(2026, 12, 11), made: date = date(2026, 12, 7),
                 debtor: tuple[str, str] | None = None) -> None:
    """A promise as a call's end writes it (and, with `debtor`, that call's row: name, phone)."""
    store = RecordStore(sqlite_url(records / "records.db"))
    if debtor is not None:
        started = datetime.combine(made, datetime.min.time(), tzinfo=UTC).replace(hour=18)
        store.submit(lambda db: db.add(Call(id=call_id, account_id=account_id, debtor_name=debtor[0], phone=debtor[1],
                                            locale="en", stage="early", started_at=started, outcome="promise_to_pay")))
    store.submit(write_promise(dict(account_id=account_id, call_id=call_id, locale="en", stage="early", voice="en-joe",
                                    outcome="promise_to_pay", promised_on=promised, made_on=made,
                                    timezone="America/Los_Angeles", amount=amount, currency="USD",
                                    method="online banking", state="pending", paid=0.0,
                                    created_at=datetime(2026, 12, 7, 18, tzinfo=UTC))))
    store.close()


def payments_cli(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "VOICEBOT_DATABASE_URL"}
    return subprocess.run(VOICEBOT + ["payments", *args, "--records", str(tmp)], env=env, capture_output=True,
                          text=True, timeout=300)


def stored(tmp: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(tmp / "records.db") as db:
        return db.execute(sql).fetchall()


def test_csv_import_reports_bad_rows_keeps_good_ones_and_is_idempotent(tmp_path):
    seed_promise(tmp_path, "ACC-1", "call-1")
    csv_file = tmp_path / "feed.csv"
    csv_file.write_text(
        "\ufeffAccount_ID,amount,paid_at,reference,currency\n"   # Excel's BOM, a capitalised header
        "ACC-1,200.00,2026-12-10T17:00:00-08:00,BANK-1,USD\n"
        "=HYPERLINK(\"http://x\"),10,2026-12-10,BANK-2,\n"        # formula injection
        "ACC-2,-5,2026-12-10,BANK-3,\n"                           # not a payment
        "ACC-2,12.345,2026-12-10,BANK-4,\n"                        # fractions of a cent
        "ACC-2,40,next tuesday,BANK-5,\n"                          # not a date
        "ACC-2,40,2026-12-10,,\n"                                  # no reference
        "ACC-3,75.50,2026-12-09,@SUM(A1),\n",                      # formula as a reference
        encoding="utf-8")
    first = payments_cli(tmp_path, "import", str(csv_file), "--at", "2026-12-12T12:00:00Z")
    assert first.returncode == 1, first.stderr
    errors = [line for line in first.stderr.splitlines() if ": line " in line]
    assert [e.split(": ")[1] for e in errors] == ["line 3", "line 4", "line 5", "line 6", "line 7", "line 8"]
    assert "starts like a spreadsheet formula" in errors[0] and "greater than 0" in errors[1]
    assert "two decimals" in errors[2] and "paid_at" in errors[3] and "reference" in errors[4]
    assert "1 added, 0 already recorded, 6 refused" in first.stdout
    assert stored(tmp_path, "SELECT reference, account_id, amount FROM vb_payments") == [("BANK-1", "ACC-1", 200.0)]
    assert stored(tmp_path, "SELECT state, paid FROM vb_promises") == [("kept", 200.0)]

    again = payments_cli(tmp_path, "import", str(csv_file), "--at", "2026-12-12T12:00:00Z", "--json")
    assert json.loads(again.stdout)["added"] == 0 and json.loads(again.stdout)["duplicates"] == 1
    assert stored(tmp_path, "SELECT count(*) FROM vb_payments") == [(1,)]

    changed = tmp_path / "changed.csv"
    changed.write_text("account_id,amount,paid_at,reference\nACC-1,999,2026-12-10,BANK-1\n")
    conflict = payments_cli(tmp_path, "import", str(changed))
    assert conflict.returncode == 1 and "already recorded for ACC-1, 200.00" in conflict.stderr
    assert stored(tmp_path, "SELECT amount FROM vb_payments") == [(200.0,)]  # the first record stands


def test_a_file_without_the_columns_is_refused_whole(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("account,amount,date\nACC-1,10,2026-12-10\n")
    done = payments_cli(tmp_path, "import", str(bad))
    assert done.returncode == 2 and "missing column(s) account_id, paid_at, reference" in done.stderr
    assert payments_cli(tmp_path, "import", str(tmp_path / "none.csv")).returncode == 2


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    records = tmp_path_factory.mktemp("feed")
    # The server judges at the real time: promises of last week, whatever today is.
    today = date.today()
    seed_promise(records, "EN-EARLY-1", "call-a", amount=300.0, promised=today - timedelta(days=3),
                 made=today - timedelta(days=10), debtor=("John Carter", "+12065550101"))
    seed_promise(records, "EN-MID-1", "call-b", amount=150.0, promised=today - timedelta(days=4),
                 made=today - timedelta(days=10))
    port = free_port()
    settings = ServerSettings(accounts_file=SAMPLE_ACCOUNTS, records_dir=records, tokens=["stream-token"],
                              payments_token=TOKEN, warm_up=False)
    app = create_app(settings)
    for name, role in (("sam", "supervisor"), ("alex", "agent"), ("dana", "script_designer")):
        add_user(app.state.records, name, "console-pass-1", role)
    with serving(app, port):
        yield f"http://127.0.0.1:{port}", records, app


def test_http_feed_needs_its_own_token(served):
    base, _records, _app = served
    body = {"payments": [{"account_id": "EN-EARLY-1", "amount": 10, "paid_at": "2026-12-08", "reference": "H-0"}]}
    assert httpx.post(f"{base}/payments", json=body).status_code == 401
    assert httpx.post(f"{base}/payments", json=body, headers={"Authorization": "Bearer stream-token"}).status_code == 401
    assert httpx.post(f"{base}/payments", json=body, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_http_feed_is_all_or_nothing_and_idempotent(served):
    base, records, _app = served
    auth = {"Authorization": f"Bearer {TOKEN}"}
    paid_on = (date.today() - timedelta(days=4)).isoformat()
    good = {"account_id": "EN-EARLY-1", "amount": 300, "paid_at": f"{paid_on}T12:00:00Z", "reference": "H-1"}
    bad = {"account_id": "+cmd|calc", "amount": 5, "paid_at": paid_on, "reference": "H-2"}
    refused = httpx.post(f"{base}/payments", json={"payments": [good, bad]}, headers=auth)
    assert refused.status_code == 422
    assert [e["where"] for e in refused.json()["errors"]] == ["payments[1]"]
    assert stored(records, "SELECT count(*) FROM vb_payments WHERE source='http'") == [(0,)]
    assert httpx.post(f"{base}/payments", content=b"{not json", headers=auth).status_code == 400

    added = httpx.post(f"{base}/payments", json={"payments": [good]}, headers=auth)
    assert added.status_code == 200 and added.json()["added"] == 1 and added.json()["judged"] == {"kept": 1}
    again = httpx.post(f"{base}/payments", json={"payments": [good]}, headers=auth)
    assert again.status_code == 200 and (again.json()["added"], again.json()["duplicates"]) == (0, 1)
    other = dict(good, amount=1)
    assert httpx.post(f"{base}/payments", json={"payments": [other]}, headers=auth).status_code == 409
    assert stored(records, "SELECT reference, amount FROM vb_payments WHERE source='http'") == [("H-1", 300.0)]
    assert stored(records, "SELECT state FROM vb_promises WHERE account_id='EN-EARLY-1'") == [("kept",)]


def test_http_feed_refuses_an_oversized_body_before_reading_it(served):
    """A declared Content-Length over the limit is answered 413 at once: the server does not
    wait for (and hold) megabytes to find out.  The body is never sent here, so a server that
    read it first would not answer at all."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(served[0])
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall((f"POST /payments HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {TOKEN}\r\n"
                      "Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n").encode())
        status_line = sock.recv(200).split(b"\r\n", 1)[0]
    assert status_line.split()[1] == b"413", status_line


def test_console_promise_book_by_role(served):
    base, _records, app = served
    pages = {}
    for name in ("sam", "alex", "dana"):
        with httpx.Client(base_url=f"{base}/console") as web:
            web.post("/login", data={"username": name, "password": "console-pass-1"})
            pages[name] = (web.get("/promises"), web.get("/accounts/EN-EARLY-1"), web.get("/accounts/NOBODY"))
    book, debtor, missing = pages["sam"]
    assert book.status_code == 200 and debtor.status_code == 200 and missing.status_code == 404
    assert 'data-account="EN-EARLY-1"' in book.text and 'data-account="EN-MID-1"' in book.text
    assert "300.00 USD" in debtor.text and "online banking" in debtor.text
    assert "John Carter" in book.text and "+12065550101" in debtor.text  # a supervisor sees all
    agent_book, agent_debtor, _ = pages["alex"]
    assert agent_book.status_code == 200 and "300.00 USD" in agent_debtor.text  # agents see amounts
    assert "John Carter" in agent_book.text  # and names, but not phone numbers (auth.SEES)
    assert "+12065550101" not in agent_debtor.text and "0101" in agent_debtor.text
    assert all(page.status_code == 403 for page in pages["dana"][:2])  # designers need no debtor
    app.state.records.flush()
    assert stored(_records, "SELECT count(*) FROM vb_audit WHERE action='open_account'") >= [(2,)]
