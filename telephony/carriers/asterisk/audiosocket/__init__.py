"""Asterisk AudioSocket: TLV frames over TCP (`frames.py`), calls named by registered UUIDs."""
