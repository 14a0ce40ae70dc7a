"""What the engine does when understanding is uncertain or legally loaded (issue 18).

- a yes that carries a no ("Yes, not me") never confirms identity;
- a question before identity ("how much do I owe?") gets the identity question again, up to
  the reprompt limit, then a polite close, never an immediate hang-up;
- a promise is recorded only after a yes to its read-back; a no forgets it;
- `attorney` ends collection talk and asks for the attorney's contact; `bankruptcy` stops it
  and goes to a person; both are their own outcomes; an abusive call ended by the bot too;
- relative dates resolve on the debtor's own calendar.

Driven with NluResults where the point is the policy (the classifier is measured elsewhere),
and with real text through the real classifier where the words matter."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from conftest import CALL_DATE
from dialogue.accounts import Account
from dialogue.compliance.rules import local_today
from dialogue.entities.entity import Entity
from dialogue.nlu.contradiction import denies
from dialogue.nlu.result import NluResult
from dialogue.outcome import decide_outcome
from telephony.campaign.schedule import HANDED_OFF

FRIDAY = Entity("date", "2026-11-27", "friday", 0, 6)


def _said(intent: str, text: str | None = None, *entities: Entity) -> NluResult:
    return NluResult(text or intent, intent, 0.9, ((intent, 0.9),), tuple(entities))


def _call(engines, accounts, account_id="EN-EARLY-1", locale="en"):
    session = engines[locale].start_call(accounts[account_id], today=CALL_DATE)
    session.open()
    return session


@pytest.mark.parametrize("text", ["yes, not me", "yeah no that's not me", "no it isn't",
                                  "yes wrong person", "nope"])
def test_a_contradicted_yes_never_confirms_identity(engines, accounts, text):
    session = _call(engines, accounts)
    turn = session.hear_result(_said("confirm_identity", text))
    assert not session.policy.state.identity_confirmed
    assert any(e.startswith("identity_contradiction") for e in turn.events), turn.events
    assert "1,250" not in turn.bot_text and "John" in turn.bot_text  # asked again, nothing told


def test_plain_yes_still_confirms(engines, accounts):
    session = _call(engines, accounts)
    session.hear_result(_said("confirm_identity", "yeah that's me"))
    assert session.policy.state.identity_confirmed


def test_contradiction_patterns_per_locale():
    assert denies("Yes, not me.", "en") and denies("that ain't him", "en")
    assert not denies("yes this is john", "en") and not denies("yeah speaking", "en")
    assert denies("不是我", "zh") and denies("你打错了", "zh")
    assert not denies("对,是我", "zh")


def test_question_before_identity_is_asked_again_then_closed_politely(engines, accounts):
    session = _call(engines, accounts)
    limit = session.policy.stage.settings.max_reprompts
    for n in range(1, limit + 1):
        turn = session.hear_result(_said("ask_amount", "how much do I owe"))
        assert not turn.end and not session.policy.state.identity_confirmed
        assert turn.bot_nodes == ["identity_again"], turn.bot_nodes
        assert f"identity_detour:ask_amount:{n}" in turn.events
        assert "1,250" not in turn.bot_text
    turn = session.hear_result(_said("ask_amount"))
    assert turn.end and "1,250" not in turn.bot_text
    assert turn.bot_nodes == [session.policy.stage.settings.on_retry_limit]


def test_question_then_yes_continues_the_call(engines, accounts):
    session = _call(engines, accounts)
    session.hear_result(_said("ask_amount", "how much do I owe"))
    turn = session.hear(text="yes this is John")
    assert session.policy.state.identity_confirmed
    assert "1,250" in turn.bot_text  # the reminder with the amount follows the confirmation


def _confirmed(engines, accounts, account_id="EN-EARLY-1", locale="en"):
    session = _call(engines, accounts, account_id, locale)
    session.hear_result(_said("confirm_identity"))
    assert session.policy.state.identity_confirmed
    return session


def test_promise_is_read_back_and_recorded_only_after_yes(engines, accounts):
    session = _confirmed(engines, accounts)
    turn = session.hear_result(_said("promise_to_pay", "I'll pay on friday", FRIDAY))
    assert turn.bot_nodes[-1] == "readback_promise" and not turn.end
    assert "Friday, November 27" in turn.bot_text and "$1,250" in turn.bot_text
    assert session.policy.state.outcome is None
    turn = session.hear_result(_said("affirm", "yes"))
    assert turn.bot_nodes[0] == "confirm_promise" and turn.end
    result = session.result()
    assert result.outcome == "promise_to_pay" and result.details["promise_date"] == "2026-11-27"


def test_a_misheard_date_is_not_a_promise(engines, accounts):
    """'fine I'll pay half of it on the fifteenth' heard as gibberish with a date in it."""
    session = _confirmed(engines, accounts)
    turn = session.hear_result(_said("out_of_scope", "hi how do they have been on the 15th",
                                     Entity("date", "2026-12-15", "the 15th", 30, 38)))
    assert turn.bot_nodes[-1] == "readback_promise", turn.bot_nodes
    assert "I've noted" not in turn.bot_text
    turn = session.hear_result(_said("deny", "no"))
    assert "promise_date" not in session.policy.state.slots
    assert session.policy.state.outcome is None and not turn.end
    session.hangup()
    assert session.result().outcome != "promise_to_pay"


def test_partial_promise_read_back_in_chinese(engines, accounts):
    session = _confirmed(engines, accounts, "ZH-EARLY-1", "zh")
    turn = session.hear_result(_said("partial_payment", "先还五百", FRIDAY,
                                     Entity("amount", 500.0, "五百", 2, 4)))
    assert turn.bot_nodes[-1] == "readback_partial", turn.bot_nodes
    assert "星期五" in turn.bot_text  # the weekday with the date
    turn = session.hear_result(_said("affirm", "对"))
    assert session.result().outcome == "partial_payment"


def test_attorney_stops_collection_and_asks_for_the_contact(engines, accounts):
    session = _confirmed(engines, accounts)
    turn = session.hear(text="talk to my attorney")
    assert turn.nlu["intent"] == "attorney"
    assert turn.bot_nodes == ["attorney_contact"] and "name and phone number" in turn.bot_text
    turn = session.hear(text="it's Jane Doe at 555 0100, how much do I owe anyway")
    assert turn.end and "1,250" not in turn.bot_text
    result = session.result()
    assert result.outcome == "attorney" and "represented:attorney" in result.tags
    assert "attorney" in HANDED_OFF


def test_after_an_attorney_no_debt_detail_is_said(engines, accounts):
    session = _confirmed(engines, accounts)
    session.hear_result(_said("attorney"))
    turn = session.hear_result(_said("ask_amount"))
    assert turn.end and "1,250" not in turn.bot_text


def test_bankruptcy_goes_to_a_person_with_its_own_outcome(engines, accounts):
    session = _call(engines, accounts, "EN-MID-1")
    turn = session.hear_result(_said("bankruptcy", "I filed chapter 7 last month"))
    assert [a["kind"] for a in turn.actions] == ["transfer"]
    assert turn.actions[0]["reason"] == "bankruptcy"
    assert "860" not in turn.bot_text
    assert decide_outcome(session.policy.state, ["bankruptcy"]) == "bankruptcy"


def test_abusive_call_ended_by_the_bot_has_its_own_outcome(engines, accounts):
    session = _confirmed(engines, accounts)
    session.hear_result(_said("abusive"))
    turn = session.hear_result(_said("abusive"))
    assert turn.end and session.result().outcome == "abusive"


def test_the_debtors_calendar_decides_tomorrow(engines):
    honolulu = Account(id="HNL-1", name="Keoni Akana", phone="+18085550100", locale="en",
                       timezone="Pacific/Honolulu", lender="Cascade Bank", amount=300.0,
                       days_overdue=2, due_date="2026-12-03", minimum_payment=30.0,
                       payment_methods=["online banking"], agent_line="1-800-555-0199", late_fee=29.0)
    # 4 pm in Honolulu is already 02:00 the next day in UTC (and on most servers).
    at = datetime(2026, 12, 6, 2, 0, tzinfo=timezone.utc)
    assert local_today(honolulu, at) == date(2026, 12, 5)
    session = engines["en"].start_call(honolulu, today=local_today(honolulu, at))
    result = session.nlu.parse("I'll do it tomorrow", session.today)
    assert result.entity("date").value == "2026-12-06"


def test_a_call_without_a_date_uses_the_account_zone(engines, accounts):
    account = accounts["ZH-EARLY-1"]
    before = local_today(account)
    session = engines["zh"].start_call(account)
    assert session.today in {before, local_today(account)}
