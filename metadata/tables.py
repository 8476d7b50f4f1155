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

# Action runs: every async call (durable: the row is written before the caller gets its id), and
# sync calls when auditing is on. Times are epoch seconds; `lease_until`/`claimed_by` mark a run a
# worker holds, so a dead worker's runs are taken over once the lease expires.
WAITING = sa.text("status = 'created'")
LEASED = sa.text("status = 'processing'")
FINISHED = sa.text("status IN ('completed', 'error')")
REPLAYS = sa.text("replay_of IS NOT NULL")
runs = sa.Table(
    "switchboard_action_runs",
    schema,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("input", sa.Text, nullable=False),
    sa.Column("session", sa.Text, nullable=False),
    sa.Column("headers", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("user_id", sa.Text, nullable=True),
    sa.Column("output", sa.Text, nullable=True),
    sa.Column("errors", sa.Text, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("lease_seconds", sa.Float, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("run_at", sa.Float, nullable=False),
    sa.Column("lease_until", sa.Float, nullable=True),
    sa.Column("claimed_by", sa.String(36), nullable=True),
    # A replay (replay_action_run) is a new run: the run it replays, and who replayed it; a
    # cancelled run (cancel_action_run) says who cancelled it. Who: JSON {role, user_id?, api_key?}.
    sa.Column("replay_of", sa.String(36), nullable=True),
    sa.Column("replayed_by", sa.Text, nullable=True),
    sa.Column("cancelled_by", sa.Text, nullable=True),
    # Partial indexes hold only the runs a claim looks for (finished runs, the bulk of the table,
    # are in neither), so claiming reads the rows it takes and no others. Their predicates are
    # literals, which the claim repeats literally: a bound parameter would not match them.
    sa.Index("switchboard_action_runs_waiting", "run_at", postgresql_where=WAITING, sqlite_where=WAITING),
    sa.Index("switchboard_action_runs_leased", "lease_until", postgresql_where=LEASED, sqlite_where=LEASED),
    # The log's order (newest first, the id breaking ties) and its filters, so every page of it
    # reads only its own rows, whatever the number of runs (keyset paging, metadata/runs.py).
    sa.Index("switchboard_action_runs_log", "created_at", "id"),
    sa.Index("switchboard_action_runs_action_log", "action", "created_at", "id"),
    # Finished runs only, so the claim's planner never mistakes it for the waiting index.
    sa.Index(
        "switchboard_action_runs_finished_log",
        "status",
        "created_at",
        "id",
        postgresql_where=FINISHED,
        sqlite_where=FINISHED,
    ),
    # The replays of a run (few runs are replayed: only those are in it), so replaying the failed
    # runs of a filter skips, by index, those replayed already.
    sa.Index("switchboard_action_runs_replays", "replay_of", postgresql_where=REPLAYS, sqlite_where=REPLAYS),
)
# Columns added since the table was first made: added to an older store when it opens.
ADDED_RUN_COLUMNS = ("replay_of", "replayed_by", "cancelled_by")
# Indexes of earlier versions, dropped when the store opens: the partial ones and the log's
# replace them.
OLD_INDEXES = ("switchboard_action_runs_due", "switchboard_action_runs_action")

# API keys for scripts: only a hash of each key is kept (the key itself is shown once, when it
# is created). Keys are not metadata: they have no versions and are never exported.
api_keys = sa.Table(
    "switchboard_api_keys",
    schema,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=True),
    sa.Column("last_used_at", sa.Float, nullable=True),
)

# People who sign in to Metabase's REST API (/api/session). A user is a superuser (Switchboard's
# admin) or holds one Switchboard role. Like API keys, users are not metadata: no versions, never
# exported. Users are deactivated, never deleted, so an id is never reused.
users = sa.Table(
    "switchboard_users",
    schema,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("first_name", sa.Text, nullable=True),
    sa.Column("last_name", sa.Text, nullable=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=True),  # None for a superuser
    sa.Column("is_superuser", sa.Boolean, nullable=False),
    sa.Column("is_active", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("last_login", sa.Float, nullable=True),
    sqlite_autoincrement=True,
)

# Their sessions: only a hash of each token is kept (the token is answered once, at sign-in).
sessions = sa.Table(
    "switchboard_sessions",
    schema,
    sa.Column("key_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

# Metabase's API names objects by integer ids, Switchboard's by names: each (kind, name) gets an
# id the first time Metabase's API shows it, kept for good (ids are never reused: autoincrement,
# and rows are never deleted), the same on every server sharing the store.
metabase_ids = sa.Table(
    "switchboard_metabase_ids",
    schema,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.UniqueConstraint("kind", "name", name="switchboard_metabase_ids_object"),
    sqlite_autoincrement=True,
)

# Hasura's catalog state (get_catalog_state / set_catalog_state): what the CLI and the console
# keep on the server beside the metadata (the CLI: which migrations ran, its settings), and the
# store's id. One row each: `id` (a UUID, made once), `cli` and `console` (JSON). As Hasura keeps
# it beside its metadata (hdb_catalog.hdb_version), it is not metadata: no versions, never
# exported, and replace_metadata, clear_metadata and rollbacks leave it as it is.
catalog_state = sa.Table(
    "switchboard_catalog_state",
    schema,
    sa.Column("name", sa.String(16), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
)
