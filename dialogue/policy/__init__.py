"""The stage policy: one engine that runs every stage's graph and enforces compliance."""
