"""Pieces of per-account prompts that are fixed script text are cached like static prompts.

Real scripts (en), real Piper: a greeting that names the debtor is synthesised in pieces; the
pieces inside the script's literal text ("This call is recorded.") are rendered once and
replayed for the next debtor, the piece with the name never enters the cache."""

from __future__ import annotations

import asyncio

from audio_models.prompt_cache import PromptCache
from dialogue.engine import engine_for
from voicebot.services.piper.base import create_tts_service
from voicebot.services.piper.static_text import StaticText, literal_fragments, static_text_for

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
        tts = create_tts_service("en-joe", sample_rate=8000, prompt_cache=cache, first_chunk_chars=30)
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
