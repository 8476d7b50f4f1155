"""The store's schema: current objects as rows, a change log, one version row and the history.

`resource_version` lives in one row that every write updates with a compare-and-swap, so two
writers that read the same version can never both commit (alembic keeps its head the same way).
"""

import sqlalchemy as sa

schema = sa.MetaData()

state = sa.Table(
    "switchboard_state",
    schema,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("resource_version", sa.Integer, nullable=False),
)

objects = sa.Table(
    "switchboard_objects",
    schema,
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
)

# One row per object a version changed; a NULL body is a deletion. The state at version N is,
# for each object, its last change at or before N.
changes = sa.Table(
    "switchboard_changes",
    schema,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("body", sa.Text, nullable=True),
    sa.Index("switchboard_changes_object", "kind", "name", "version"),
)

versions = sa.Table(
    "switchboard_versions",
    schema,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("operation", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=True),
)
