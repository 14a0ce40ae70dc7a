"""The revisions, oldest first by their NNNN_ prefix (Alembic follows down_revision)."""
