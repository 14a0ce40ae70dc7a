"""From a ranking to the intent the bot acts on (`dialogue/nlu/decision.py`): the same for the
built-in classifier, a Rasa server and the session's second look with context."""

from __future__ import annotations

from dialogue.nlu.decision import DecisionSettings, choose, with_context

SETTINGS = DecisionSettings(threshold=0.45, protected_floor=0.3)


def test_a_protected_top_intent_under_the_threshold_is_still_acted_on():
    """0.40 for stop_calling on top is as much evidence as 0.40 behind another intent: an
    opt-out must not become 'sorry, could you say that again?'."""
    ranking = (("stop_calling", 0.40), ("callback_later", 0.35), ("goodbye", 0.25))
    assert choose(ranking, SETTINGS) == ("stop_calling", 0.40, None)


def test_a_protected_runner_up_at_the_floor_wins_over_the_top_intent():
    ranking = (("promise_to_pay", 0.55), ("dispute", 0.31), ("affirm", 0.14))
    assert choose(ranking, SETTINGS) == ("dispute", 0.31, "promise_to_pay")


def test_under_the_floor_a_protected_intent_does_not_win_and_a_weak_top_is_asked_again():
    ranking = (("promise_to_pay", 0.40), ("request_human", 0.29), ("affirm", 0.31))
    assert choose(ranking, SETTINGS) == ("out_of_scope", 0.40, "promise_to_pay")
    ranking = (("abusive", 0.29), ("refuse_to_pay", 0.28), ("deny", 0.27))
    assert choose(ranking, SETTINGS) == ("out_of_scope", 0.29, "abusive")


def test_a_confident_ordinary_intent_is_kept():
    ranking = (("promise_to_pay", 0.80), ("partial_payment", 0.15), ("stop_calling", 0.05))
    assert choose(ranking, SETTINGS) == ("promise_to_pay", 0.80, None)


def test_the_waiting_nodes_answers_are_made_likelier_and_the_ranking_stays_a_distribution():
    ranking = (("out_of_scope", 0.40), ("confirm_identity", 0.35), ("deny", 0.25))
    boosted = with_context(ranking, {"confirm_identity", "deny"}, 1.5)
    assert boosted[0][0] == "confirm_identity"
    assert abs(sum(p for _, p in boosted) - 1.0) < 1e-9
    assert with_context(ranking, set(), 1.5) == ranking
