"""Recogniser-style training data (`voicebot nlu augment`): which transcripts are kept, and the
generated file, replaced or added to (`--add`), still says which voices made it."""

from __future__ import annotations

from dialogue.nlu.rasa_format import Example, NluData, load_nlu_file
from voicebot.evaluation.audio_eval import Spoken
from voicebot.evaluation.augment import asr_file_voices, misheard_examples, spread_sample, write_asr_file


def heard(text: str, transcript: str, intent: str = "stop_calling") -> Spoken:
    return Spoken(text, intent, "en-espeak", transcript, (transcript,), 1, intent, 0.9, False)


def test_only_slips_that_are_new_and_not_locked_are_kept():
    spoken = [heard("stop calling me", "start calling me"),       # a slip: kept
              heard("stop calling me", "stop calling me"),        # heard right: nothing to learn
              heard("please stop calling me", "start calling me"),  # the same slip again
              heard("do not call me again", "you"),               # too far from its text
              heard("stop calling my phone", "stop calling my fone"),  # a locked turn: never
              heard("quit calling", "")]                          # nothing heard
    kept = misheard_examples(spoken, known={"stop calling me"}, forbidden={"stop calling my fone"})
    assert [(e.text, e.intent) for e in kept] == [("start calling me", "stop_calling")]


def test_the_sample_is_spread_and_the_same_everywhere():
    data = NluData([Example(f"line {i}", "affirm") for i in range(50)] + [Example("no", "deny")])
    first, again = spread_sample(data, 5), spread_sample(data, 5)
    assert [e.text for e in first] == [e.text for e in again] and len(first) == 6
    assert [e.text for e in first if e.intent == "affirm"] != [f"line {i}" for i in range(5)]


def test_an_added_file_keeps_naming_every_voice(tmp_path):
    path = write_asr_file(tmp_path, [Example("start calling me", "stop_calling")], ["en-joe", "en-espeak-f3"])
    assert asr_file_voices(path) == ["en-joe", "en-espeak-f3"]
    kept = load_nlu_file(path).examples
    path = write_asr_file(tmp_path, [*kept, Example("a turn e", "attorney")],
                          list(dict.fromkeys([*asr_file_voices(path), "en-espeak"])))
    assert asr_file_voices(path) == ["en-joe", "en-espeak-f3", "en-espeak"]
    assert sorted(e.text for e in load_nlu_file(path).examples) == ["a turn e", "start calling me"]
