"""Tests for dialogue.nlu: Rasa-format data, the built-in classifier and its cache, the Rasa HTTP
backend (against a fake server), evaluation figures and the `voicebot nlu` commands.

Accuracy figures are printed; run with `-s` to see them.  Nothing here asserts on timing."""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from media_server import free_port
import dialogue.nlu.classifier as classifier
from dialogue.nlu.classifier import BuiltinNlu, TrainedModel, data_hash, train_cached
from dialogue.nlu.evaluate import evaluate, split, split_eval, with_threshold
from dialogue.nlu.factory import build_nlu, builtin_for
from dialogue.nlu.rasa_format import (AnnotatedEntity, NluData, NluDataError, dump_nlu,
                                      load_nlu_file, load_nlu_text, parse_example)
from dialogue.nlu.rasa_http import FallbackNlu, NluUnavailable, RasaHttpNlu
from dialogue.nlu.result import apply_threshold
from dialogue.paths import REPO_ROOT, locale_dir
from dialogue.script.checks import load_locale
from dialogue.script.loader import LocaleScripts

LOCALES = ("en", "zh")
TODAY = date(2026, 11, 23)  # a Monday
TEST_DIR = REPO_ROOT / "tests" / "data" / "nlu"
VOICEBOT = REPO_ROOT / ".venv" / "bin" / "voicebot"
DATA_FILES = [REPO_ROOT / "scripts" / loc / "nlu.yml" for loc in LOCALES] + \
             [TEST_DIR / f"{loc}_test.yml" for loc in LOCALES]


# --- shared, module-scoped: one loaded locale and one trained backend per locale ---------------

@pytest.fixture(scope="module")
def scripts() -> dict[str, LocaleScripts]:
    return {loc: load_locale(locale_dir(loc)) for loc in LOCALES}


@pytest.fixture(scope="module")
def shipped(scripts) -> dict[str, BuiltinNlu]:
    """The real built-in backend each locale ships with (model from ~/.cache/voicebot if there)."""
    out = {}
    for loc, s in scripts.items():
        assert s.strategy.nlu.backend == "builtin"
        cfg = s.strategy.nlu
        out[loc] = builtin_for(s.nlu_paths, loc, cfg.confidence_threshold, cfg.protected_floor,
                               cfg.embedding_weight)
    return out


@pytest.fixture(scope="module")
def held_out() -> dict[str, NluData]:
    return {loc: load_nlu_file(TEST_DIR / f"{loc}_test.yml") for loc in LOCALES}


# --- Rasa-format reading and writing -----------------------------------------------------------

def test_inline_entities_keep_offsets_on_the_plain_text():
    ex = parse_example("yes i'll pay the [200 dollars](amount) on [friday](date)", "promise_to_pay")
    assert ex.text == "yes i'll pay the 200 dollars on friday"
    assert ex.entities == (AnnotatedEntity("amount", "200 dollars", 17, 28),
                           AnnotatedEntity("date", "friday", 32, 38))
    for ent in ex.entities:
        assert ex.text[ent.start:ent.end] == ent.text


def test_json_style_annotations():
    ex = parse_example('i can do [fifty]{"entity": "amount", "value": "50"} by '
                       '[next friday]{"entity": "date"}', "partial_payment")
    assert ex.text == "i can do fifty by next friday"
    assert [(e.entity, e.text, ex.text[e.start:e.end]) for e in ex.entities] == [
        ("amount", "fifty", "fifty"), ("date", "next friday", "next friday")]


def test_examples_carry_their_line_and_other_sections_are_ignored():
    data = load_nlu_text('version: "3.1"\n'
                         "nlu:\n"
                         "- intent: affirm\n"          # line 3
                         "  examples: |\n"
                         "    - yes\n"                 # line 5
                         "    - yeah sure\n"           # line 6
                         "- synonym: dollars\n"
                         "  examples: |\n"
                         "    - bucks\n"
                         "- intent: deny\n"            # line 10
                         "  examples: |\n"
                         "    - no\n", "x.yml")        # line 12
    assert [(e.text, e.intent, e.line) for e in data.examples] == [
        ("yes", "affirm", 5), ("yeah sure", "affirm", 6), ("no", "deny", 12)]
    assert data.intents == ["affirm", "deny"]


@pytest.mark.parametrize("bad_example", [
    "i'll pay [200 dollars on friday",
    "i'll pay 200] dollars",
    "i'll pay [200 dollars](amount on friday",
])
def test_unbalanced_brackets_name_file_and_line(tmp_path, bad_example):
    path = tmp_path / "bad.yml"
    path.write_text('version: "3.1"\n'
                    "nlu:\n"
                    "- intent: promise_to_pay\n"      # line 3
                    "  examples: |\n"
                    "    - i'll pay [200 dollars](amount) tomorrow\n"
                    f"    - {bad_example}\n", encoding="utf-8")  # line 6
    with pytest.raises(NluDataError) as info:
        load_nlu_file(path)
    err = info.value
    assert err.file == str(path)
    # Today the line is the intent block's (3); pointing at the example itself (6) would be fine too.
    assert 3 <= err.line <= 6
    assert str(err).startswith(f"{path}:{err.line}:")
    assert "bracket" in str(err)


def test_missing_nlu_key_is_an_error_with_file_and_line():
    with pytest.raises(NluDataError) as info:
        load_nlu_text('version: "3.1"\nrules:\n- rule: greet\n  steps: []\n', "rules.yml")
    assert (info.value.file, info.value.line) == ("rules.yml", 1)
    assert "nlu:" in str(info.value) and str(info.value).startswith("rules.yml:1:")


def test_broken_yaml_points_at_the_line():
    with pytest.raises(NluDataError) as info:
        load_nlu_text("nlu:\n- intent: affirm\n  examples: |\n    - yes\n- intent: [deny\n", "b.yml")
    assert info.value.file == "b.yml" and info.value.line >= 5
    assert "YAML" in str(info.value)


def test_missing_file_is_an_nlu_data_error(tmp_path):
    with pytest.raises(NluDataError) as info:
        load_nlu_file(tmp_path / "absent.yml")
    assert "absent.yml" in str(info.value)


def _content(data: NluData) -> dict[str, list]:
    return {intent: [(e.text, e.entities) for e in exs] for intent, exs in data.by_intent().items()}


@pytest.mark.parametrize("path", DATA_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_dump_nlu_round_trips_the_shipped_data(path):
    data = load_nlu_file(path)
    assert data.examples
    again = load_nlu_text(dump_nlu(data.examples), "dumped.yml")
    assert _content(again) == _content(data)


def test_dump_nlu_writes_json_annotations_as_plain_ones():
    ex = parse_example('pay [next friday]{"entity": "date", "value": "2026-12-04"}', "promise_to_pay")
    dumped = dump_nlu([ex])
    assert "    - pay [next friday](date)\n" in dumped
    assert load_nlu_text(dumped).examples[0].entities == ex.entities


# --- the built-in classifier -------------------------------------------------------------------

def test_fast_scorer_agrees_with_sklearn(shipped, held_out):
    """`_FastScorer` re-does sklearn's arithmetic by hand; it must give the same probabilities."""
    for loc in LOCALES:
        model = shipped[loc].model
        texts = [e.text for e in held_out[loc].examples] + ["", "!!!", "zzzzqqqq xyzzy", "ＯＫ"]
        worst = 0.0
        for text in texts:
            fast, slow = model.scores(text), model.sklearn_scores(text)
            assert fast.shape == slow.shape == (len(model.labels),)
            worst = max(worst, float(np.max(np.abs(fast - slow))))
            np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9, err_msg=f"{loc}: {text!r}")
        print(f"\n{loc}: fast scorer vs sklearn predict_proba, max |diff| {worst:.2e} "
              f"over {len(texts)} texts")


def test_fast_scorer_with_two_intents_gives_both_probabilities():
    """sklearn keeps a single logit for two classes; the fast scorer used to return [1.0]."""
    from dialogue.nlu.classifier import train
    from dialogue.nlu.rasa_format import Example

    data = NluData([Example(t, "affirm") for t in ("yes", "yeah sure", "correct", "that's right")]
                   + [Example(t, "deny") for t in ("no", "nope", "not at all", "that's wrong")])
    model = train(data, "en")
    for text in ("yes", "no", "maybe", ""):
        fast, slow = model.scores(text), model.sklearn_scores(text)
        assert fast.shape == (2,) and fast.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9, err_msg=repr(text))
    assert model.labels[int(np.argmax(model.scores("nope")))] == "deny"


@pytest.mark.parametrize("locale", LOCALES)
def test_held_out_accuracy(shipped, held_out, locale):
    report = evaluate(shipped[locale], held_out[locale], TODAY)
    print(f"\n{locale}: held-out accuracy {report.accuracy:.3f} on {report.total} examples "
          f"({TEST_DIR / f'{locale}_test.yml'})")
    assert report.total == len(held_out[locale].examples)
    assert report.accuracy >= 0.90, report.errors


@pytest.mark.parametrize("locale", LOCALES)
def test_own_split_accuracy(scripts, locale):
    """Train on a deterministic 80% of nlu.yml, evaluate on the other 20% (a regression floor)."""
    s = scripts[locale]
    data = load_nlu_file(s.nlu_path)
    train_part, test_part = split(data)
    assert len(train_part.examples) + len(test_part.examples) == len(data.examples)
    assert set(train_part.intents) == set(test_part.intents) == set(data.intents)
    assert not {e.text for e in train_part.examples} & {e.text for e in test_part.examples}
    report = split_eval(data, locale, s.strategy.nlu.confidence_threshold, TODAY)
    print(f"\n{locale}: own-split accuracy {report.accuracy:.3f} on {report.total} examples "
          f"(threshold {s.strategy.nlu.confidence_threshold})")
    assert report.accuracy >= 0.80, report.confusions


def test_split_is_deterministic(scripts):
    data = load_nlu_file(scripts["en"].nlu_path)
    first, second = split(data), split(data)
    assert [e.text for e in first[1].examples] == [e.text for e in second[1].examples]


def test_low_confidence_becomes_out_of_scope_with_raw_intent_kept(shipped):
    text = "i'll pay 200 dollars on friday"
    normal = shipped["en"].parse(text, TODAY)
    assert normal.intent == "promise_to_pay" and normal.raw_intent is None
    strict = with_threshold(shipped["en"], 0.999).parse(text, TODAY)
    assert strict.intent == "out_of_scope"
    assert strict.raw_intent == "promise_to_pay"
    assert strict.confidence == pytest.approx(normal.confidence)
    assert strict.ranking[0][0] == "promise_to_pay"
    assert strict.to_dict()["raw_intent"] == "promise_to_pay"
    assert shipped["en"].threshold < 0.999  # the shared backend was not changed
    assert apply_threshold("out_of_scope", 0.1, 0.5) == ("out_of_scope", None)


def test_blank_text_is_out_of_scope(shipped):
    result = shipped["zh"].parse("  。。 ", TODAY)
    assert (result.intent, result.confidence, result.entities) == ("out_of_scope", 1.0, ())


@pytest.mark.parametrize("locale, text, iso, amount", [
    ("en", "i'll pay 200 dollars on friday", "2026-11-27", 200.0),
    # 下周五 is Friday of next week: from Monday 2026-11-23 that is 2026-12-04.
    ("zh", "我下周五还五百块", "2026-12-04", 500.0),
])
def test_entities_are_normalised_relative_to_the_call_date(shipped, locale, text, iso, amount):
    result = shipped[locale].parse(text, TODAY)
    found = {e.entity: e for e in result.entities}
    assert set(found) == {"date", "amount"}
    assert found["date"].value == iso
    assert isinstance(found["amount"].value, float) and found["amount"].value == amount
    for e in result.entities:
        assert text[e.start:e.end] == e.text


# --- the on-disk model cache -------------------------------------------------------------------

@pytest.fixture
def small_data(scripts) -> NluData:
    """A few examples per intent: enough to train in a blink."""
    data = load_nlu_file(scripts["en"].nlu_path)
    return NluData([ex for exs in data.by_intent().values() for ex in exs[:4]])


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("VOICEBOT_CACHE", str(tmp_path))
    return tmp_path / "nlu"


def _refuse_training(*_args, **_kwargs):
    raise AssertionError("train() called although a cached model should have been used")


def test_cache_writes_then_loads(cache, small_data, monkeypatch):
    expected = cache / f"en-{data_hash(small_data, 'en', 50.0)}.pkl"
    first = train_cached(small_data, "en")
    assert expected.is_file()
    assert [p.name for p in cache.iterdir()] == [expected.name]  # no temp files left behind
    monkeypatch.setattr(classifier, "train", _refuse_training)
    second = train_cached(small_data, "en")
    assert isinstance(second, TrainedModel) and second is not first
    assert second.labels == first.labels
    np.testing.assert_allclose(second.scores("i will pay friday"), first.scores("i will pay friday"))


def test_changed_example_changes_the_hash(small_data):
    before = data_hash(small_data, "en", 50.0)
    changed = NluData(list(small_data.examples))
    changed.examples[0] = parse_example(changed.examples[0].text + " please",
                                        changed.examples[0].intent)
    relabelled = NluData(list(small_data.examples))
    relabelled.examples[0] = parse_example(relabelled.examples[0].text, "out_of_scope")
    assert len({before, data_hash(changed, "en", 50.0), data_hash(relabelled, "en", 50.0),
                data_hash(small_data, "zh", 50.0), data_hash(small_data, "en", 10.0)}) == 5
    assert data_hash(small_data, "en", 50.0) == before


@pytest.mark.parametrize("junk", [b"not a pickle at all", pickle.dumps({"foreign": True})],
                         ids=["garbage", "foreign-pickle"])
def test_corrupt_cache_file_is_rebuilt(cache, small_data, monkeypatch, junk):
    path = cache / f"en-{data_hash(small_data, 'en', 50.0)}.pkl"
    path.parent.mkdir(parents=True)
    path.write_bytes(junk)
    calls = []
    real_train = classifier.train
    monkeypatch.setattr(classifier, "train", lambda *a, **k: calls.append(1) or real_train(*a, **k))
    model = train_cached(small_data, "en")
    assert calls == [1]
    assert model.scores("yes").shape == (len(small_data.intents),)
    with path.open("rb") as fh:
        assert isinstance(pickle.load(fh), TrainedModel)  # the bad file was replaced


# --- the Rasa HTTP backend, against a fake Rasa server -----------------------------------------
# Rasa Open Source cannot be installed on Python 3.11, so these tests run a small stdlib
# http.server on 127.0.0.1 that answers POST /model/parse in the response shape Rasa documents
# (https://rasa.com/docs/rasa/pages/http-api, "Parse a message using the Rasa model"):
# {"text", "intent": {"name", "confidence"}, "entities": [...], "intent_ranking": [...]}.

class _FakeRasa(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        server.requests.append((self.path, body))
        if self.path != "/model/parse":
            return self._send(404, {"status": "failure", "reason": "NotFound"})
        if server.status != 200:
            return self._send(server.status, {"version": "3.6.0", "status": "failure",
                                              "message": "model exploded", "code": server.status})
        if server.garbage:
            return self._send(200, None, raw=b"<html>not json</html>")
        name, confidence = server.intent
        self._send(200, {
            "text": body.get("text", ""),
            "intent": {"name": name, "confidence": confidence},
            # Rasa's own entities: deliberately wrong, our extractor must be used instead.
            "entities": [{"entity": "amount", "start": 0, "end": 4, "value": "999",
                          "extractor": "DIETClassifier", "confidence_entity": 0.99}],
            "intent_ranking": [{"name": name, "confidence": confidence},
                               {"name": "nlu_fallback", "confidence": 0.3},
                               {"name": "partial_payment", "confidence": 0.05}],
        })

    def _send(self, status, payload, raw=None):
        data = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args):
        pass


@pytest.fixture(scope="module")
def rasa_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeRasa)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def rasa(rasa_server):
    rasa_server.intent, rasa_server.status, rasa_server.garbage = ("promise_to_pay", 0.91), 200, False
    rasa_server.requests = []
    return rasa_server


def _dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there any more


def test_rasa_intent_from_server_entities_from_our_extractor(rasa):
    nlu = RasaHttpNlu(rasa.url + "/", "en", 0.45)
    result = nlu.parse("i'll pay 200 dollars on friday", TODAY)
    assert rasa.requests == [("/model/parse", {"text": "i'll pay 200 dollars on friday"})]
    assert (result.intent, result.confidence, result.source) == ("promise_to_pay", 0.91, "rasa")
    assert result.ranking == (("promise_to_pay", 0.91), ("partial_payment", 0.05))  # unknown dropped
    assert result.raw_intent is None and result.notes == ()
    assert {(e.entity, e.value) for e in result.entities} == {("amount", 200.0),
                                                             ("date", "2026-11-27")}


def test_rasa_result_goes_through_the_threshold(rasa):
    rasa.intent = ("promise_to_pay", 0.30)
    result = RasaHttpNlu(rasa.url, "zh", 0.45).parse("我下周五还五百块", TODAY)
    assert (result.intent, result.raw_intent, result.confidence) == ("out_of_scope", "promise_to_pay", 0.30)
    assert result.entity("date").value == "2026-12-04" and result.entity("amount").value == 500.0


@pytest.mark.parametrize("failure", ["unknown-intent", "http-500", "not-json", "dead-port"])
def test_rasa_failures_raise_nlu_unavailable(rasa, failure):
    url = rasa.url
    if failure == "unknown-intent":
        rasa.intent = ("greet", 0.99)
    elif failure == "http-500":
        rasa.status = 500
    elif failure == "not-json":
        rasa.garbage = True
    else:
        url = _dead_url()
    with pytest.raises(NluUnavailable) as info:
        RasaHttpNlu(url, "en", 0.45, timeout_s=2.0).parse("yes", TODAY)
    assert url in str(info.value)
    if failure == "unknown-intent":
        assert "greet" in str(info.value)


def test_fallback_answers_with_builtin_and_notes_the_failure(shipped):
    builtin = shipped["en"]
    nlu = FallbackNlu(RasaHttpNlu(_dead_url(), "en", 0.45, timeout_s=2.0), builtin)
    text = "i'll pay 200 dollars on friday"
    result = nlu.parse(text, TODAY)
    expected = builtin.parse(text, TODAY)
    assert (result.intent, result.confidence, result.ranking, result.entities, result.source) == \
           (expected.intent, expected.confidence, expected.ranking, expected.entities, "builtin")
    assert len(result.notes) == 1 and "failed" in result.notes[0]
    assert nlu.failures == 1 and nlu.locale == "en"


def test_fallback_uses_rasa_when_it_answers(rasa, shipped):
    nlu = FallbackNlu(RasaHttpNlu(rasa.url, "en", 0.45), shipped["en"])
    result = nlu.parse("yes", TODAY)
    assert (result.source, result.intent, result.notes, nlu.failures) == ("rasa", "promise_to_pay", (), 0)


def test_build_nlu_honours_voicebot_rasa_url(rasa, scripts, monkeypatch):
    monkeypatch.setenv("VOICEBOT_RASA_URL", rasa.url)
    nlu = build_nlu(scripts["zh"])
    assert isinstance(nlu, FallbackNlu) and isinstance(nlu.primary, RasaHttpNlu)
    assert nlu.primary.url == rasa.url + "/model/parse"
    assert isinstance(nlu.fallback, BuiltinNlu) and nlu.fallback.locale == "zh"
    assert nlu.primary.threshold == scripts["zh"].strategy.nlu.confidence_threshold
    assert nlu.parse("好的", TODAY).source == "rasa"
    assert rasa.requests == [("/model/parse", {"text": "好的"})]
    monkeypatch.delenv("VOICEBOT_RASA_URL")
    assert isinstance(build_nlu(scripts["zh"]), BuiltinNlu)


# --- `voicebot nlu ...` as a user runs it ------------------------------------------------------

ACCURACY_LINE = re.compile(r"^accuracy: (0\.\d{3}|1\.000)$")


def _voicebot(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "VOICEBOT_RASA_URL"}
    return subprocess.run([str(VOICEBOT), *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_cli_eval_prints_table_and_ends_with_accuracy():
    proc = _voicebot("nlu", "eval", str(TEST_DIR / "en_test.yml"), "--locale", "en")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.rstrip("\n").splitlines()
    assert ACCURACY_LINE.match(lines[-1]), lines[-1]
    accuracy = float(lines[-1].split()[1])
    print(f"\nvoicebot nlu eval en_test.yml: {lines[-1]}")
    assert accuracy >= 0.90
    for word in ("precision", "recall", "F1", "support", "promise_to_pay", "most confused"):
        assert word in proc.stdout


def test_cli_eval_json():
    proc = _voicebot("nlu", "eval", str(TEST_DIR / "zh_test.yml"), "--locale", "zh", "--json",
                     "--threshold", "0.3")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)  # the whole output is one JSON object
    assert report["total"] == 276 and 0.0 <= report["accuracy"] <= 1.0
    assert {s["intent"] for s in report["per_intent"]} >= {"promise_to_pay", "hardship"}
    assert set(report["per_intent"][0]) == {"intent", "precision", "recall", "f1", "support"}


@pytest.mark.parametrize("kind", ["missing", "broken-yaml", "not-rasa"])
def test_cli_eval_bad_file_exits_2_naming_it(tmp_path, kind):
    path = tmp_path / f"{kind}.yml"
    if kind == "broken-yaml":
        path.write_text("nlu:\n- intent: affirm\n  examples: [\n", encoding="utf-8")
    elif kind == "not-rasa":
        path.write_text("stories:\n- story: happy path\n  steps: []\n", encoding="utf-8")
    proc = _voicebot("nlu", "eval", str(path), "--locale", "en")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert str(path) in proc.stderr


def test_cli_split_eval_ends_with_accuracy():
    proc = _voicebot("nlu", "split-eval", "--locale", "zh")
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.rstrip("\n").splitlines()[-1]
    print(f"\nvoicebot nlu split-eval --locale zh: {last}")
    assert ACCURACY_LINE.match(last), last


def test_cli_bench_prints_percentiles():
    proc = _voicebot("nlu", "bench", "--locale", "en", "--runs", "1")
    assert proc.returncode == 0, proc.stderr
    print("\n" + proc.stdout.strip())
    assert re.search(r"p50 \d+\.\d+ ms", proc.stdout)
    assert re.search(r"p95 \d+\.\d+ ms", proc.stdout)
    assert re.search(r"p99 \d+\.\d+ ms", proc.stdout) and "max" in proc.stdout
    assert "parses/s" in proc.stdout and re.search(r"target p95 < \d+ ms: (met|NOT met)", proc.stdout)
    assert "en_test.yml" in proc.stdout
