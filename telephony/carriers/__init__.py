"""The edges to phone networks' media: one folder per carrier, listed in `registry.py`.

Each folder holds what is the carrier's own: its pipecat frame serializer (strict: size limits,
close codes from `errors.py`), the parsing of its stream's opening into a `StreamStart`
(`stream_start.py`), its authentication or request signature, and its REST provider if it has
one.  `voicebot/server/` mounts one route per registered carrier (docs/architecture.md).
"""
