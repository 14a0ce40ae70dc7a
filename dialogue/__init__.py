"""Pure dialogue layer: scripts, NLU, stage policy, compliance gate, scoring.

Nothing in this package touches audio, sockets or storage, so every behaviour of a call can be
tested with text alone.
"""
