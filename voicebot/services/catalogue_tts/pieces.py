"""Where each piece of a reply's audio comes from.

A reply is cut into pieces (`text_chunks`); a piece that lies inside fixed script text
(`static_text`: "This call is recorded." in a greeting that names the debtor) is replayed from
the process-wide prompt cache; a piece holding an account's values has its runs of fixed text
from the cache and only the values synthesised, then joined (`splice`); a value that may be
shared (`personal_values`) is cached like script text, a personal one is kept for the call
only (`call_values`), never in the shared cache.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from audio_models.prompt_cache import PromptCache, PromptKey
from voicebot.services.catalogue_tts import splice
from voicebot.services.catalogue_tts.call_values import CallValues
from voicebot.services.catalogue_tts.personal_values import PersonalValues
from voicebot.services.catalogue_tts.static_text import StaticText
from voicebot.services.catalogue_tts.synthesis import Synthesis
from voicebot.services.catalogue_tts.text_chunks import split_for_tts


class PieceSources:
    def __init__(self, *, voice_id: str, cache: PromptCache, synthesis: Synthesis,
                 call_values: CallValues, personal: PersonalValues, chunking: tuple[int, int],
                 splice_values: bool):
        self.voice_id = voice_id
        self.cache = cache
        self.synthesis = synthesis
        self.call_values = call_values
        self.personal = personal
        self.chunking = chunking
        self.splice = splice_values
        self.static_text = StaticText()  # script fragments: pieces inside them are cached too

    async def render(self, text: str, rate: int, *, pieces: bool = True) -> AsyncIterator[bytes]:
        """Piece by piece; with `pieces`, a piece inside fixed script text comes from the cache,
        and a piece holding an account's values has its fixed runs from the cache and only
        the values synthesised (`splice`), unless splicing is off.  Without: a static prompt,
        synthesised whole (its caller caches it)."""
        for piece in split_for_tts(text, *self.chunking):
            runs = self.static_text.spans(piece) if pieces and self.splice else []
            if pieces and self.static_text.covers(piece):
                source = self.cached(piece, rate)
            elif any(is_fixed for _, is_fixed in runs):
                source = self.spliced(runs, rate)
            elif pieces and self.personal.shareable(piece):  # e.g. "Friday, December 4."
                source = self.cached(piece, rate, script=False)
            elif pieces:  # e.g. "Thanks, Maria.": the call's own
                source = self.own(piece, rate)
            else:
                source = self.synthesis.pcm(piece, rate, fixed=True)  # static prompt
            async for out in source:
                yield out

    async def cached(self, text: str, rate: int, script: bool = True) -> AsyncIterator[bytes]:
        """Fixed script text (or, not `script`, shareable values): replayed from the cache, or
        rendered and stored the first time (a render cut short by a barge-in is not stored)."""
        key = PromptKey.of(self.voice_id, text, rate)
        if (cached := self.cache.get(key)) is not None:
            self.synthesis.note_cached(cached, rate)
            for segment in cached:
                yield segment
            return
        segments: list[bytes] = []
        async for out in self.synthesis.pcm(text, rate, fixed=script):
            segments.append(out)
            yield out
        self.cache.put(key, segments)

    async def own(self, text: str, rate: int) -> AsyncIterator[bytes]:
        """Text holding a personal value: prefetched or said before in this call, else
        synthesised (streamed) and kept for the call."""
        pcm, prefetched = self.call_values.take((text, rate))
        if pcm is not None:
            if not prefetched:
                self.synthesis.note_cached([pcm], rate)
            yield pcm
            return
        segments: list[bytes] = []
        async for out in self.synthesis.pcm(text, rate):
            segments.append(out)
            yield out
        self.call_values.put((text, rate), b"".join(segments))

    async def spliced(self, runs: list[tuple[str, bool]], rate: int) -> AsyncIterator[bytes]:
        """One sentence from its runs: fixed ones and shareable values cached, personal values
        synthesised (and kept for the call), joined with the pause the text asks for instead
        of each run's own silence."""
        for k, (run, fixed) in enumerate(runs):
            if fixed or self.personal.shareable(run):
                pcm = b"".join([seg async for seg in self.cached(run, rate, script=fixed)])
            else:
                pcm, prefetched = self.call_values.take((run, rate))
                if pcm is None:
                    pcm = await self.synthesis.whole(run, rate)
                    self.call_values.put((run, rate), pcm)
                elif not prefetched:  # said before in this call
                    self.synthesis.note_cached([pcm], rate)
            pcm = splice.trim(pcm, rate, start=k > 0, end=k < len(runs) - 1)
            if k < len(runs) - 1:
                pcm += splice.pause(splice.join_pause_ms(run), rate)
            yield pcm

    def prefetch(self, texts: Iterable[str], rate: int, deadline: float) -> None:
        """Start rendering the personal values in the first piece of each text, due at
        `deadline`, into the call's values (`call_values`)."""
        for text in texts:
            first = next(iter(split_for_tts(text, *self.chunking)), "")
            runs = self.static_text.spans(first)
            if self.static_text.covers(first) or self.personal.shareable(first):
                continue  # cached for everyone
            if not any(fixed for _, fixed in runs):
                runs = [(first, False)]  # synthesised whole (`own`)
            for run, fixed in runs:
                if not fixed and not self.personal.shareable(run):
                    self.call_values.prefetch(
                        (run, rate), lambda run=run: self.synthesis.whole(run, rate, deadline))
