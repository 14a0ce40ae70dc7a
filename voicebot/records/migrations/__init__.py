"""Alembic migrations of the records store: `versions/` holds one revision per schema change,
applied in order when a `RecordStore` opens (voicebot/records/migrate.py), or by
`voicebot records migrate`.

Writing a new one (after changing voicebot/records/models.py):

    .venv/bin/alembic -c voicebot/records/migrations/alembic.ini \
        -x url=sqlite:////tmp/scratch.db upgrade head
    .venv/bin/alembic -c voicebot/records/migrations/alembic.ini \
        -x url=sqlite:////tmp/scratch.db revision --autogenerate --rev-id 0003_name -m "what changes"

Revision ids are `NNNN_name`, each naming the one before as its `down_revision`; the tests
(tests/test_records_migrations.py) fail while the models and the revisions disagree.
"""
