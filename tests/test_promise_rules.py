"""Promises, pure: kept / partly kept / broken at a given instant (dialogue/promises.py), the
follow-up steps a stage's policy names (telephony/campaign/follow_up.py), and the scripts'
broken-promise branch, which the validator keeps past the identity check (issue 21)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dialogue.promises import (
    PaymentFact, PromiseTerms, Verdict, heard_method, judge, promise_window, prior_promise, with_prior_promise,
)
from dialogue.script.checks import load_locale
from dialogue.script.loader import read_locale
from dialogue.script.checks import check_locale
from dialogue.script.models import FollowUpPolicy
from telephony.campaign.follow_up import next_steps, reminder_at, terms, wake_at
from telephony.campaign.promise_book import PromiseRecord

REPO = Path(__file__).resolve().parents[1]
LA = ZoneInfo("America/Los_Angeles")


def la(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LA)


def promise(pid: int = 1, amount: float = 200.0, made: date = date(2026, 12, 7),
            promised: date = date(2026, 12, 11), check: datetime | None = None) -> PromiseTerms:
    counts_from, due_by = promise_window(promised, made, LA)
    return PromiseTerms(pid, "A", amount, counts_from, due_by, check)


def pay(ref: str, amount: float, at: datetime, account: str = "A") -> PaymentFact:
    return PaymentFact(ref, account, amount, at)


# -- verdicts --------------------------------------------------------------------------------

def test_window_is_the_debtors_days():
    counts_from, due_by = promise_window(date(2026, 12, 11), date(2026, 12, 7), LA)
    assert counts_from == la("2026-12-07T00:00") and due_by == la("2026-12-12T00:00")


def test_pending_until_the_check_then_broken():
    terms_ = promise()
    assert judge([terms_], [], la("2026-12-11T23:59"))[1].state == "pending"
    assert judge([terms_], [], la("2026-12-12T00:00"))[1].state == "broken"


def test_paid_in_full_is_kept_at_once_even_before_the_date():
    verdict = judge([promise()], [pay("r1", 200, la("2026-12-09T10:00"))], la("2026-12-09T11:00"))[1]
    assert (verdict.state, verdict.paid) == ("kept", 200.0)


def test_partly_paid_is_pending_then_partly_kept():
    payments = [pay("r1", 80, la("2026-12-10T10:00"))]
    assert judge([promise()], payments, la("2026-12-11T12:00"))[1].state == "pending"
    verdict = judge([promise()], payments, la("2026-12-12T00:00"))[1]
    assert (verdict.state, verdict.paid) == ("partly_kept", 80.0)


def test_a_payment_after_the_window_is_late_not_kept_and_within_the_grace_is_kept():
    late = [pay("r1", 200, la("2026-12-12T09:00"))]
    assert judge([promise()], late, la("2026-12-13T00:00"))[1] == Verdict("paid_late", 200.0)
    assert judge([promise()], late, la("2026-12-13T00:00"), grace=timedelta(days=1))[1].state == "kept"
    # judged broken before the money came; the money then makes it paid late
    assert judge([promise()], late, la("2026-12-12T08:00"))[1].state == "broken"
    assert judge([promise()], [pay("r1", 50, la("2026-12-12T09:00"))], la("2026-12-13T00:00"))[1] == Verdict(
        "partly_kept", 50.0)


def test_late_money_fills_an_open_window_first_then_the_late_promise():
    old, new = promise(1, 100, promised=date(2026, 12, 9)), promise(2, 100, made=date(2026, 12, 10),
                                                                     promised=date(2026, 12, 20))
    verdicts = judge([old, new], [pay("r1", 150, la("2026-12-15T09:00"))], la("2026-12-16T00:00"))
    assert verdicts[2] == Verdict("kept", 100.0) and verdicts[1] == Verdict("partly_kept", 50.0)
    verdicts = judge([old, new], [pay("r1", 200, la("2026-12-15T09:00"))], la("2026-12-16T00:00"))
    assert verdicts[1] == Verdict("paid_late", 100.0)


def test_a_promise_paid_late_gets_no_follow_up_call_and_counts_toward_no_escalation():
    policy = FollowUpPolicy(call_when_broken=True, escalate_after_broken=2)
    broken = [record(1, "broken"), record(2, "broken", promised=date(2026, 12, 18))]
    assert [s.kind for s in next_steps(broken, lambda r: policy, la("2026-12-20T00:00"))] == ["escalate"]
    paid = [record(1, "paid_late"), record(2, "broken", promised=date(2026, 12, 18))]
    assert [(s.kind, s.promise.id) for s in next_steps(paid, lambda r: policy, la("2026-12-20T00:00"))] == [
        ("call", 2)]
    assert next_steps([record(1, "paid_late")], lambda r: policy, la("2026-12-20T00:00")) == []
    # with a grace, an unpaid promise is judged only when the grace is over
    assert judge([promise()], [], la("2026-12-12T12:00"), grace=timedelta(days=1))[1].state == "pending"


def test_payment_before_the_promise_was_made_does_not_count():
    early = [pay("r0", 200, la("2026-12-06T18:00"))]
    assert judge([promise()], early, la("2026-12-12T00:00"))[1].state == "broken"


def test_a_later_check_holds_the_verdict_back():
    terms_ = promise(check=la("2026-12-14T00:00"))
    assert judge([terms_], [], la("2026-12-13T00:00"))[1].state == "pending"
    assert judge([terms_], [], la("2026-12-14T00:00"))[1].state == "broken"


def test_one_payment_spreads_over_two_promises_oldest_first():
    first = promise(1, 100, promised=date(2026, 12, 9))
    second = promise(2, 100, promised=date(2026, 12, 11))
    verdicts = judge([second, first], [pay("r1", 150, la("2026-12-08T10:00"))], la("2026-12-12T01:00"))
    assert (verdicts[1].state, verdicts[1].paid) == ("kept", 100.0)
    assert (verdicts[2].state, verdicts[2].paid) == ("partly_kept", 50.0)


def test_other_accounts_payments_do_not_count_and_order_does_not_matter():
    payments = [pay("x", 500, la("2026-12-10T10:00"), account="B"), pay("b", 120, la("2026-12-10T12:00")),
                pay("a", 80, la("2026-12-09T12:00"))]
    forward = judge([promise()], payments, la("2026-12-12T01:00"))
    backward = judge([promise()], list(reversed(payments)), la("2026-12-12T01:00"))
    assert forward == backward and forward[1].state == "kept"


def test_method_heard_on_the_call():
    methods = ["the Cascade mobile app", "online banking", "a bank transfer"]
    assert heard_method(["yes it's me", "I'll pay friday with online banking"], methods) == "online banking"
    assert heard_method(["I will use the app"], methods) == "the Cascade mobile app"
    assert heard_method(["friday"], methods) is None
    assert heard_method(["我周五用手机银行还"], ["手机银行", "网上银行"]) == "手机银行"


# -- follow-up steps ---------------------------------------------------------------------------

POLICY = FollowUpPolicy(reminder_days_before=1, check_days_after=1, call_when_broken=True, escalate_after_broken=2)


def record(pid: int = 1, state: str = "pending", promised: date = date(2026, 12, 11), **kw) -> PromiseRecord:
    return PromiseRecord(id=pid, account_id="A", locale="en", stage="early", promised_on=promised,
                         made_on=date(2026, 12, 7), timezone="America/Los_Angeles", amount=200.0, currency="USD",
                         call_id=f"c{pid}", state=state, **kw)


def test_reminder_the_day_before_then_check_then_call():
    r = record()
    policy_for = lambda _r: POLICY  # noqa: E731
    assert reminder_at(r, POLICY) == la("2026-12-10T00:00")
    assert next_steps([r], policy_for, la("2026-12-09T12:00")) == []
    assert wake_at([r], policy_for, la("2026-12-09T12:00"), timedelta(0)) == la("2026-12-10T00:00")
    [remind] = next_steps([r], policy_for, la("2026-12-10T09:00"))
    assert remind.kind == "remind"
    reminded = replace(r, reminded_at=la("2026-12-10T09:00"))
    assert next_steps([reminded], policy_for, la("2026-12-10T10:00")) == []
    assert wake_at([reminded], policy_for, la("2026-12-10T10:00"), timedelta(0)) == la("2026-12-12T00:00")
    [call] = next_steps([replace(reminded, state="broken")], policy_for, la("2026-12-12T00:00"))
    assert (call.kind, call.due_at) == ("call", la("2026-12-12T00:00"))
    assert terms(r, POLICY).check_at == la("2026-12-12T00:00")


def test_no_reminder_for_a_promise_for_tomorrow():
    assert reminder_at(replace(record(), promised_on=date(2026, 12, 8)), POLICY) is None


def test_kept_promise_gets_nothing_and_escalation_after_n_broken():
    policy_for = lambda _r: POLICY  # noqa: E731
    now = la("2026-12-20T09:00")
    assert next_steps([record(state="kept", reminded_at=now)], policy_for, now) == []
    old = record(1, "broken", promised=date(2026, 12, 4), followed_up_at=now)
    [step] = next_steps([old, record(2, "broken")], policy_for, now)
    assert (step.kind, step.promise.id, step.detail) == ("escalate", 2, "collections")
    escalated = replace(old, escalated_at=now)
    assert next_steps([escalated, record(3, "broken")], policy_for, now) == []  # with people now


# -- the account a follow-up call is about ----------------------------------------------------

def test_prior_promise_rides_on_the_account(accounts):
    base = accounts["EN-EARLY-1"]
    follow = with_prior_promise(base, {"date": "2026-12-11", "amount": 200, "currency": "USD", "id": 4})
    assert prior_promise(follow).amount == 200 and prior_promise(base) is None
    assert prior_promise(with_prior_promise(follow, None)) is None


@pytest.mark.parametrize("locale,said", [("en", "You mentioned paying $200 on Friday, December 11; it hasn't "
                                                "reached us yet"),
                                         ("zh", "您之前说会在12月11日星期五还款200元,目前我们还没有收到这笔还款")])
def test_follow_up_call_says_the_promise_only_after_identity(engines, accounts, locale, said):
    base = accounts["EN-EARLY-1" if locale == "en" else "ZH-EARLY-1"]
    follow = with_prior_promise(base, {"date": "2026-12-11", "amount": 200})
    session = engines[locale].start_call(follow, today=date(2026, 12, 14))
    opening = session.open()
    assert "200" not in opening.bot_text  # identity first: not a word of the debt or the promise
    asked = session.hear("how much do I owe" if locale == "en" else "我欠多少钱")
    assert said not in asked.bot_text and "remind_broken_promise" not in asked.bot_nodes
    turn = session.hear("yes this is me" if locale == "en" else "对,我就是")
    assert turn.bot_nodes[:2] == ["remind", "remind_broken_promise"] and said in turn.bot_text
    plain = engines[locale].start_call(base, today=date(2026, 12, 14))
    plain.open()
    assert "remind_broken_promise" not in plain.hear("yes this is me" if locale == "en" else "对,我就是").bot_nodes


# -- the validator ------------------------------------------------------------------------------

def _copy(tmp_path: Path, locale: str = "en") -> Path:
    folder = tmp_path / locale
    shutil.copytree(REPO / "scripts" / locale, folder)
    shutil.copytree(REPO / "scripts" / "jurisdictions", tmp_path / "jurisdictions")
    return folder


def _problems(folder: Path) -> list[str]:
    scripts, problems = read_locale(folder)
    assert scripts is not None, problems
    return [f"{p.code}: {p.message}" for p in problems + check_locale(scripts) if p.severity == "error"]


def test_shipped_scripts_pass_with_the_branch():
    for locale in ("en", "zh"):
        load_locale(REPO / "scripts" / locale)


def test_branch_before_identity_is_refused(tmp_path):
    folder = _copy(tmp_path)
    path = folder / "early.yaml"
    text = path.read_text(encoding="utf-8")
    # the greeting itself branches into the promise: debt detail before identity
    text = text.replace('    identity_check: true\n    interruptible: false\n    disclosure: recording_notice\n',
                        '    interruptible: false\n    disclosure: recording_notice\n    next: verify\n'
                        '    on_broken_promise: remind_broken_promise\n', 1)
    path.write_text(text, encoding="utf-8")
    found = _problems(folder)
    assert any(p.startswith("identity-first") and "greeting -[on_broken_promise]-> remind_broken_promise" in p
               for p in found), found


def test_promise_said_outside_the_branch_is_refused(tmp_path):
    folder = _copy(tmp_path)
    path = folder / "early.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    on_broken_promise: remind_broken_promise   # a follow-up call: the promise not kept\n",
                                 "", 1).replace("    next: remind_details\n", "    next: remind_broken_promise\n", 1),
                    encoding="utf-8")
    found = _problems(folder)
    assert any(p.startswith("prior-promise") and "remind_broken_promise" in p for p in found), found


def test_reminder_template_is_required_and_only_it_may_say_the_promise(tmp_path):
    folder = _copy(tmp_path)
    path = folder / "strategy.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("      promise_reminder: promise_reminder\n", "", 1)
    text = text.replace("      after_call_no_payment: bill_reminder\n", "      after_call_no_payment: promise_reminder\n", 1)
    path.write_text(text, encoding="utf-8")
    found = _problems(folder)
    assert any("reminds of promises but names no SMS template" in p for p in found), found
    assert any(p.startswith("prior-promise") and "which only the promise_reminder trigger fills" in p
               for p in found), found
