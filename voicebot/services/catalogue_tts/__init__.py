"""The engine-neutral TTS for a catalogue voice (`service.CatalogueTTSService`) and the small
parts it is made of; the engines (`services/piper/`, `services/espeak/`) only turn a piece of
text into PCM.

`service.py`   the pipecat service: the voice, frames in, audio frames out
`pieces.py`    which source each piece of a reply comes from (prompt cache, call's values, synthesis)
`synthesis.py` one piece through the engine, resampled whole, timed for the stats log
`utterance_clock.py`  when the next piece is due (deadline scheduling of inference)
`personal_values.py`  whether a value may be cached and shared, or is the call's own
`call_values.py`  a call's own values, said or prefetched
`static_text.py`  which text is fixed script text; `splice.py` joining runs; `text_chunks.py` cutting

Kept free of imports so that any one part loads without the others.
"""
