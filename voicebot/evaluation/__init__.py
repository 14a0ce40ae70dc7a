"""Evaluations that need the voice loop (the audio side), as opposed to `dialogue.nlu.evaluate`.

`voicebot nlu eval FILE --audio`: the intent classifier on examples spoken by several voices
over a simulated phone line and heard by the call's VAD and recogniser. Modules, in the order
an utterance meets them: `speak` (voices), `phone_line` (8 kHz mu-law), `recognise` (VAD +
recogniser pipeline), `transcript_cache`, `audio_eval` (the run), `text_error` (WER/CER),
`report` (figures and tables).
"""
