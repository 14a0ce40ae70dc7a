"""Retention and erasure in the campaigns' stores (issue 19): the SMS store, the SMS outboxes
and the campaign store give up what is past the retention period, or one account's personal
data, on every implementation (memory, a file, and a real Redis: the `redis_url` fixture),
while the opt-out and the dial times the contact rules count stay.

The data comes from the real paths: SmsTriggers plans and sends the reminders, a CampaignWorker
registers, dials and logs the accounts (PreparedDialer standing in for the audio call, whose
path test_campaign.py covers).  voicebot/records/retention.py drives these methods; its
command-line tests are in test_records_retention.py."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from telephony.campaign import CampaignWorker, InMemoryStore, ManualClock, PreparedDialer, RedisStore, connect
from telephony.campaign.store import AccountErasure
from telephony.sms import (AFTER_CALL, EIGHT_DAYS, FIVE_DAYS, FileOutbox, InMemorySmsStore, MemoryOutbox,
                           RedisSmsStore, RedisStreamOutbox, SmsRemoval, SmsTriggers)

UTC = timezone.utc
OLD_CALL = datetime.fromisoformat("2025-01-06T10:00:00-08:00")     # a Monday, inside John's SMS window
CUTOFF = datetime(2025, 2, 1, tzinfo=UTC)
RECENT_CALL = datetime.fromisoformat("2025-02-03T10:00:00-06:00")  # a Monday, inside Maria's SMS window
REFUSED = {"outcome": "refused", "tags": ["outcome:refused", "identity_confirmed"]}
MARIA = ("Maria Lopez", "+13125550102")  # EN-MID-1 in the sample accounts
JOHN = ("John Carter", "+12065550101")   # EN-EARLY-1


@pytest.fixture(params=["memory", "redis"])
def sms_store(request):
    if request.param == "memory":
        return InMemorySmsStore()
    return RedisSmsStore(connect(request.getfixturevalue("redis_url")), request.getfixturevalue("redis_prefix"))


@pytest.fixture(params=["memory", "file", "stream"])
def outbox(request, tmp_path):
    if request.param == "memory":
        return MemoryOutbox()
    if request.param == "file":
        return FileOutbox(tmp_path / "sms" / "outbox.jsonl")
    client = connect(request.getfixturevalue("redis_url"))
    return RedisStreamOutbox(client, f"{request.getfixturevalue('redis_prefix')}:sms:outbox")


@pytest.fixture(params=["memory", "redis"])
def campaign_store(request):
    if request.param == "memory":
        return InMemoryStore()
    return RedisStore(connect(request.getfixturevalue("redis_url")), request.getfixturevalue("redis_prefix"))


def reminders(accounts, store, outbox) -> None:
    """John (EN-EARLY-1) was called long ago and all three reminders went; Zhang (ZH-EARLY-1)
    was called long ago and none went (no sender ran); Maria (EN-MID-1) was called after the
    cut-off, her bill went and her 5- and 8-day reminders wait."""
    clock = ManualClock(OLD_CALL)
    triggers = SmsTriggers(store, outbox, InMemoryStore(), clock)
    triggers.after_call(accounts["EN-EARLY-1"], REFUSED)
    while (due := store.next_due()) is not None:
        clock.set(due)
        triggers.send_due()
    clock.set(RECENT_CALL)
    triggers.after_call(accounts["EN-MID-1"], REFUSED)
    assert [m.account_id for m in triggers.send_due()] == ["EN-MID-1"]
    clock.set(OLD_CALL + timedelta(days=10))
    triggers.after_call(accounts["ZH-EARLY-1"], REFUSED)


def keys(store) -> tuple[set[str], set[str], dict[str, datetime | None]]:
    """What waits, what is done, and the first reminders, as the store's own API shows them."""
    first = {a: store.first_reminder(a) for a in ("EN-EARLY-1", "ZH-EARLY-1", "EN-MID-1")}
    return {p.key for p in store.pending()}, set(store.done()), first


def test_an_sms_store_purge_removes_what_dates_from_before_the_cutoff(accounts, sms_store):
    reminders(accounts, sms_store, MemoryOutbox())
    before = keys(sms_store)
    assert before[1] == {f"EN-EARLY-1:{t}" for t in (AFTER_CALL, FIVE_DAYS, EIGHT_DAYS)} | {f"EN-MID-1:{AFTER_CALL}"}
    last_sent = max(datetime.fromisoformat(v.rsplit(" ", 1)[1]) for k, v in sms_store.done().items()
                    if k.startswith("EN-EARLY-1:"))
    assert sms_store.reserve_send("EN-EARLY-1", "probe", last_sent, cap=1) is not None  # the cap counts his texts

    expected = SmsRemoval(pending=3, done=3, sent=3, first_reminder=2)
    assert sms_store.purge_before(CUTOFF, dry_run=True) == expected
    assert keys(sms_store) == before  # a dry run only counts
    assert sms_store.purge_before(CUTOFF) == expected

    pending, done, first = keys(sms_store)
    assert pending == {f"EN-MID-1:{FIVE_DAYS}", f"EN-MID-1:{EIGHT_DAYS}"}  # due after the cut-off: kept
    assert done == {f"EN-MID-1:{AFTER_CALL}"}
    assert first == {"EN-EARLY-1": None, "ZH-EARLY-1": None, "EN-MID-1": first["EN-MID-1"]}
    assert first["EN-MID-1"] is not None
    assert sms_store.reserve_send("EN-MID-1", "probe", RECENT_CALL, cap=1) is not None  # her text still counts
    assert sms_store.reserve_send("EN-EARLY-1", "probe", last_sent, cap=1) is None      # his are gone
    assert sms_store.purge_before(CUTOFF) == SmsRemoval(sent=1)  # only that probe, itself before the cut-off


def test_an_sms_store_erasure_removes_every_entry_of_one_account(accounts, sms_store):
    reminders(accounts, sms_store, MemoryOutbox())
    assert sms_store.erase_account("EN-EARLY-1", dry_run=True) == SmsRemoval(done=3, sent=3, first_reminder=1)
    assert sms_store.first_reminder("EN-EARLY-1") is not None
    assert sms_store.erase_account("EN-EARLY-1") == SmsRemoval(done=3, sent=3, first_reminder=1)
    assert sms_store.erase_account("ZH-EARLY-1") == SmsRemoval(pending=3, first_reminder=1)
    assert sms_store.erase_account("EN-MID") == SmsRemoval()  # a prefix of another id is another account

    pending, done, first = keys(sms_store)
    assert pending == {f"EN-MID-1:{FIVE_DAYS}", f"EN-MID-1:{EIGHT_DAYS}"}
    assert done == {f"EN-MID-1:{AFTER_CALL}"}
    assert first["EN-EARLY-1"] is None and first["ZH-EARLY-1"] is None and first["EN-MID-1"] is not None
    assert sms_store.reserve_send("EN-EARLY-1", "probe", OLD_CALL + timedelta(days=9), cap=1) is None
    for account_id in ("EN-EARLY-1", "ZH-EARLY-1"):
        assert not any(account_id in p.model_dump_json() for p in sms_store.pending())


def test_an_outbox_gives_up_old_messages_and_one_accounts(accounts, outbox):
    reminders(accounts, InMemorySmsStore(), outbox)
    sent = outbox.read()
    assert [m.account_id for m in sent] == ["EN-EARLY-1"] * 3 + ["EN-MID-1"]
    assert outbox.purge_before(CUTOFF, dry_run=True) == 3 and outbox.read() == sent

    assert outbox.purge_before(CUTOFF) == 3
    (maria,) = outbox.read()
    assert maria == sent[-1] and maria.to == MARIA[1]
    assert outbox.erase_account("EN-EARLY-1") == 0
    assert outbox.erase_account("EN-MID-1") == 1 and outbox.read() == []
    outbox.send(maria)  # still an outbox after its rewrite
    assert outbox.read() == [maria]


def test_a_message_sent_while_the_outbox_file_is_rewritten_is_kept(accounts, tmp_path):
    """Two FileOutbox objects on one file stand for two processes: the sender waits for the
    rewrite, so its line is not appended to the file the rewrite then replaces."""
    path = tmp_path / "outbox.jsonl"
    reminders(accounts, InMemorySmsStore(), FileOutbox(path))
    late = FileOutbox(path).read()[-1].model_copy(update={"id": "late"})
    rewriting = threading.Event()

    def slowly(message) -> bool:
        rewriting.set()
        time.sleep(0.05)
        return message.sent_at < CUTOFF

    purge = threading.Thread(target=FileOutbox(path).remove_where, args=(slowly,))
    purge.start()
    assert rewriting.wait(5)
    FileOutbox(path).send(late)
    purge.join()
    assert [m.id for m in FileOutbox(path).read()][-1] == "late" and len(FileOutbox(path).read()) == 2


def everything_in(store) -> str:
    """Every key and value the campaign store holds, as text: a debtor's details, anywhere."""
    if isinstance(store, InMemoryStore):
        return json.dumps(store.to_json(), ensure_ascii=False)
    out = []
    for key in store.r.scan_iter(match=f"{store.prefix}:*"):
        kind = store.r.type(key)
        values = {"string": lambda: [store.r.get(key)], "hash": lambda: store.r.hgetall(key).items(),
                  "list": lambda: store.r.lrange(key, 0, -1), "set": lambda: store.r.smembers(key),
                  "zset": lambda: store.r.zrange(key, 0, -1)}[kind]()
        out.append(f"{key} {list(values)}")
    return "\n".join(out)


def test_a_campaign_store_erasure_removes_the_accounts_details_and_keeps_its_opt_out(accounts, campaign_store):
    now = datetime.fromisoformat("2026-11-23T10:00:00-08:00")  # inside every US calling window
    dialer = PreparedDialer(default="answered:refused")
    for campaign, ids in (("spring", ["EN-MID-1", "EN-EARLY-1"]), ("autumn", ["EN-MID-1"])):
        worker = CampaignWorker(campaign_store, dialer, campaign, clock=ManualClock(now))
        asyncio.run(worker.run([accounts[i] for i in ids]))
    campaign_store.opt_out("EN-MID-1", now, "letter")
    campaign_store.mark_paid("EN-MID-1")
    dials = campaign_store.attempts_since("EN-MID-1", now - timedelta(days=1))
    assert len(dials) == 1 and len(campaign_store.blocked("autumn")) == 1  # a second call so soon: refused
    assert all(detail in everything_in(campaign_store) for detail in MARIA)

    expected = AccountErasure(accounts=2, states=2, calls=1, paid=1)
    assert campaign_store.erase_account("EN-MID-1", dry_run=True) == expected
    assert "EN-MID-1" in campaign_store.accounts("autumn")  # a dry run only counts
    assert campaign_store.erase_account("EN-MID-1") == expected

    for campaign in ("spring", "autumn"):
        assert "EN-MID-1" not in campaign_store.accounts(campaign)
        assert "EN-MID-1" not in campaign_store.states(campaign)
        assert all(c.account_id != "EN-MID-1" for c in campaign_store.calls(campaign))
    kept = everything_in(campaign_store)
    assert MARIA[0] not in kept and MARIA[1] not in kept
    assert campaign_store.is_opted_out("EN-MID-1") and "EN-MID-1" in campaign_store.opted_out()
    assert campaign_store.attempts_since("EN-MID-1", now - timedelta(days=1)) == dials  # the caps count them
    assert not campaign_store.is_paid("EN-MID-1")
    # Another account is untouched, and a call on the line is reported: its end writes again.
    assert list(campaign_store.accounts("spring")) == ["EN-EARLY-1"] and JOHN[1] in kept
    assert [c.account_id for c in campaign_store.calls("spring")] == ["EN-EARLY-1"]
    lease = campaign_store.claim("spring", "EN-EARLY-1", "w1", now + timedelta(days=2), ttl_s=60, max_lines=5)
    assert campaign_store.erase_account("EN-EARLY-1", dry_run=True).in_call == lease.value
