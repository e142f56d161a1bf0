"""Data dictionary and the publications view.

* A comment on every column of the analyst-facing tables and views (PostgreSQL), from
  `dealer_pipeline/store/dictionary.yaml`; SQLite has no comments (its view files carry the same
  text). Views installed from now on get their column comments with them.
* view `v_publications`: what is live on which classified, and what was held back and why. The
  views are dropped and installed again, so re-apply `sql/roles.sql` afterwards (grants and
  security barriers do not survive a recreated view).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from alembic import op

from dealer_pipeline.store import dictionary, views

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

#: The comments 0001-0004 gave these tables' columns (every other described column had none).
_BEFORE = {
    'dealers.dealer_id': '<source>:<source dealer id>', 'dealers.status': 'active, left_integration, ...',
    'dealers.source_updated_at': 'vendor time of the last applied record', 'dealers.raw': 'the vendor record as received',
    'vehicles.vehicle_id': '<source>:<source vehicle id>', 'vehicles.condition': 'new or used',
    'vehicles.fuel_type': 'canonical: petrol, diesel, electric, hybrid, plugin_hybrid, ...',
    'vehicles.source_fuel_type': "the vendor's fuel value, kept when mapped to other",
    'vehicles.transmission': 'canonical: manual, automatic, other', 'vehicles.price_amount': 'total price the buyer pays',
    'vehicles.lifecycle_state': "the vendor's state", 'vehicles.availability': 'available, reserved, sold, removed',
    'vehicles.images': 'list of image URLs',
    'vehicles.source_version': 'Autotrader versionNumber; older never overwrites newer',
    'vehicles.raw': 'the vendor record as received', 'vehicle_changes.old_value': 'JSON text of the previous value',
    'vehicle_changes.new_value': 'JSON text of the new value', 'vehicle_changes.cause': 'baseline, notification, ...',
    'quality_findings.severity': 'blocking or warning', 'publications.target': 'autocosmos, autochat',
    'publications.account_id': 'Autocosmos adminmail or Autochat dealershipId',
    'publications.external_id': 'stable; never changed', 'publications.state': 'active, suspended, archived, deleted, error',
    'publications.flags': 'dropped photos, unknown options, ...', 'sync_runs.kind': 'baseline, advertisers, ...',
    'api_blocks.service': 'null: every service for that dealer', 'api_blocks.dealer_id': 'null: the whole vendor',
    'api_blocks.reason': '403A, 403B, 400, ...', 'api_blocks.action': 'what a person should do',
}


#: Described relations that later revisions create (their comments come with them).
_LATER = frozenset({'vendor_state_changes', 'v_vendor_state_changes'})


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    views.drop_views(op.execute, dialect, upto='0005')
    views.install_views(op.execute, dialect, upto='0005')
    if dialect == "postgresql":
        for relation in dictionary.relations():
            if relation.name not in _LATER:
                for statement in dictionary.comment_statements(only=relation.name):
                    op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    # the views keep theirs: they come with the views (`views.install_views`) since this revision
    for relation in dictionary.described("table").values():
        if relation.name in _LATER:
            continue
        for column in relation.columns:
            before = _BEFORE.get(f"{relation.name}.{column}")
            text = "NULL" if before is None else "'" + before.replace("'", "''") + "'"
            op.execute(f"COMMENT ON COLUMN {relation.name}.{column} IS {text}")
