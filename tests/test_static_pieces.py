"""Pieces of per-account prompts that are fixed script text are cached like static prompts.

Real scripts (en), real Piper: a greeting that names the debtor is synthesised in pieces; the
pieces inside the script's literal text ("This call is recorded.") are rendered once and
replayed for the next debtor, the piece with the name never enters the cache."""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import pytest
from conftest import CALL_DATE

from audio_models.prompt_cache import PromptCache, PromptKey
from dialogue.engine import engine_for
from voicebot.services.catalogue_tts.static_text import StaticText, literal_fragments, static_text_for
from voicebot.services.tts import create_tts_service

GREETING = ("Hello, this is Alex, a virtual assistant calling from Northwind Account Services. "
            "This call is recorded. May I speak with {name}?")


def test_fragments_are_template_text_with_constants_filled():
    template = "Hello, this is {agent_name} from {company}. May I speak with {name}? You owe {amount}."
    fragments = literal_fragments(template, {"agent_name": "Alex", "company": "Northwind"})
    assert fragments == ["Hello, this is Alex from Northwind. May I speak with", "? You owe", "."]
    text = StaticText(fragments)
    assert text.covers("Hello, this is Alex from Northwind.") and text.covers("May I  speak with")
    assert not text.covers("May I speak with Maria Lopez?") and not text.covers("Maria")
    assert not text.covers("is Al") and not StaticText().covers("anything")  # word boundaries


def test_shipped_scripts_mark_fixed_sentences_only():
    text = static_text_for(engine_for("en").scripts)
    assert text.covers("This call is recorded.") and text.covers("Hello, this is Alex,")
    assert not text.covers("May I speak with Maria Lopez?")
    assert not text.covers("your payment of $860.50 was due on Thursday, November 19 and is still unpaid.")


def test_static_pieces_of_a_per_account_prompt_are_replayed():
    cache = PromptCache()
    fixed = static_text_for(engine_for("en").scripts)

    def render(name: str) -> bytes:
        tts = create_tts_service("en-joe", sample_rate=8000, prompt_cache=cache, first_chunk_chars=30,
                                 splice_values=False)  # whole pieces only; splicing: below
        tts.mark_static_fragments(fixed)
        return asyncio.run(tts.render(GREETING.format(name=name), 8000))

    first = render("Maria Lopez")
    stored = cache.stats().entries
    assert stored == 3 and cache.hits == 0  # "Hello, this is Alex,", "a virtual ...", "This call ..."
    second = render("John Carter")
    assert cache.hits == 3 and cache.stats().entries == 3  # the named piece was not stored
    cached_bytes = cache.stats().bytes
    assert first[:cached_bytes] == second[:cached_bytes]  # the fixed pieces are the same audio
    assert len(second) > cached_bytes  # and the name was synthesised after them


AMOUNT_SENTENCE = ("I'm calling from {lender} about your payment of {amount}, which was due on "
                   "Saturday, November 21. The minimum payment is {amount}.")


def longest_inner_silence_ms(pcm: bytes, rate: int = 8000) -> float:
    samples = np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32))
    loud = np.flatnonzero(samples >= 400)
    gaps = np.diff(loud) if len(loud) > 1 else np.array([0])
    return 1000 * gaps.max() / rate


def test_values_are_spliced_between_cached_runs_of_script_text(whisper_model):
    """The fixed runs of a sentence with an account's values are cached and replayed; only the
    values are synthesised, once per call even when said twice, and never stored; the joins
    keep a speech-like pause, and the sentence is still heard right (Whisper)."""
    cache = PromptCache()
    fixed = static_text_for(engine_for("en").scripts)
    synthesised: list[str] = []

    def service():
        tts = create_tts_service("en-joe", sample_rate=8000, prompt_cache=cache, first_chunk_chars=30,
                                 splice_values=True)
        tts.mark_static_fragments(fixed)
        # Without Piper's sampling noise: Whisper's check below hears the same audio every run
        # (with it, "Cascade Bank" came out as "kiska bang" once in CI).
        tts._syn_config = dataclasses.replace(tts._syn_config, noise_scale=0.0, noise_w_scale=0.0)
        real = tts._synthesize_piece  # counted, still the real Piper synthesis

        def counted(text: str, deadline: float):
            synthesised.append(text)
            return real(text, deadline)
        tts._synthesize_piece = counted
        return tts

    first = asyncio.run(service().render(AMOUNT_SENTENCE.format(lender="Cascade Bank", amount="$1,250")))
    runs = ["I'm calling from", "about your payment of", "which was due on", "The minimum payment is"]
    assert all(PromptKey.of("en-joe", run, 8000) in cache for run in runs)
    assert not any(v in key.text for key in cache._entries for v in ("Cascade", "1,250", "November"))
    assert synthesised.count("$1,250,") == 1 and "$1,250." in synthesised  # once per spelling

    synthesised.clear()
    hits = cache.hits
    second = asyncio.run(service().render(AMOUNT_SENTENCE.format(lender="Harbor Credit", amount="$860")))
    assert cache.hits - hits >= len(runs) and not any(run in synthesised for run in runs)
    assert "Harbor Credit" in synthesised

    for pcm in (first, second):
        assert longest_inner_silence_ms(pcm) < 450  # a sentence pause at most, not dead air
    heard = whisper_text(whisper_model, first).lower()
    assert "bank" in heard and "1,250" in heard and "due on" in heard and "minimum" in heard, heard


def whisper_text(model, pcm: bytes) -> str:
    import soxr

    from voicebot.services.whisper.decode import transcribe_short

    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
    audio = soxr.resample(audio, 8000, 16000).astype(np.float32)
    return transcribe_short(model, audio, beam_size=1, min_window_secs=30, margin_secs=1,
                            tokens_per_sec=6).text


@pytest.fixture(scope="module")
def whisper_model():
    from voicebot.services.whisper.model import load_shared_whisper

    return load_shared_whisper(None)


def counting_tts(engine, session, cache: PromptCache, synthesised: list[str]):
    """The call's TTS as the pipeline sets it up, noting each text it synthesises."""
    tts = create_tts_service("en-joe", sample_rate=8000, prompt_cache=cache, first_chunk_chars=30)
    tts.mark_static_fragments(static_text_for(engine.scripts))
    tts.share_values_except(session.personal_values)
    real = tts._synthesize_piece

    def counted(text: str, deadline: float):
        synthesised.append(text)
        return real(text, deadline)
    tts._synthesize_piece = counted
    return tts


def test_values_shared_by_many_accounts_are_cached_and_personal_ones_never(accounts):
    """Once the service knows the call's personal values (CallSession.personal_values: names,
    exact amounts, a promised amount), the other values (the lender, dates, payment methods)
    are cached and replayed for the next call; no cached text holds a personal value."""
    cache = PromptCache()
    engine = engine_for("en")
    synthesised: list[str] = []

    def service(session):
        return counting_tts(engine, session, cache, synthesised)

    def say_everything(session) -> list[str]:
        """Every prompt of the call's greeting and its reminder, as the TTS receives them."""
        texts = [p["text"] for p in session.open().prompts]
        texts += [p["text"] for p in session.hear("yes this is John").prompts]
        texts += [p["text"] for p in session.hear("I can pay 100 dollars on Friday").prompts]
        tts = service(session)
        for text in texts:
            asyncio.run(tts.render(text))
        return texts

    john = engine.start_call(accounts["EN-EARLY-1"], today=CALL_DATE)
    spoken = " ".join(say_everything(john))
    personal = john.personal_values()
    assert {"John Carter", "John", "$1,250", "$125", "$100"} <= set(personal), personal
    for value in personal:
        assert not any(value.lower() in key.text.lower() for key in cache._entries), value
    assert "Cascade Bank" in spoken and any("Cascade Bank" in key.text for key in cache._entries)
    assert any("November 21" in key.text for key in cache._entries)  # the due date

    # The next debtor of the same lender: the shared values come from the cache, names do not.
    synthesised.clear()
    maria = engine.start_call(accounts["EN-MID-1"], today=CALL_DATE)
    say_everything(maria)
    assert not any("Cascade Bank" in text for text in synthesised), synthesised
    assert any("Maria" in text for text in synthesised)


def test_likely_next_values_are_rendered_while_the_debtor_talks(accounts):
    """After the greeting, the dialogue names the replies the debtor's answer may bring; the
    TTS renders their personal values ("John.") at once, so when the debtor confirms, the
    reply's first piece needs no synthesis. Looking ahead does not change the call."""
    engine = engine_for("en")
    session = engine.start_call(accounts["EN-EARLY-1"], today=CALL_DATE)
    session.open()
    state_before = (session.policy.state.waiting, dict(session.policy.state.visits))
    likely = session.likely_first_prompts()
    assert (session.policy.state.waiting, dict(session.policy.state.visits)) == state_before
    assert session.policy.state.debtor_turns == 0
    assert any(text.startswith("Thank you, John.") for text in likely), likely

    synthesised: list[str] = []
    tts = counting_tts(engine, session, PromptCache(), synthesised)

    async def call() -> tuple[str, list[str]]:
        tts.prefetch_values(likely)
        for _ in range(200):  # the debtor talks; the prefetch finishes meanwhile
            await asyncio.sleep(0.05)
            if all(task.done() for task in tts._call_values._coming.values()):
                break
        reply = session.hear("yes this is John").prompts[0]["text"]
        before = list(synthesised)
        await tts.render(reply)
        await tts._call_values.close()
        return reply, before

    reply, before = asyncio.run(call())
    assert reply in likely  # the look-ahead saw the real reply
    assert "John." in before  # rendered ahead
    assert synthesised.count("John.") == 1 and tts._call_values.prefetched_used == 1, synthesised
