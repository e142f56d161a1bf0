"""Catalogue review and Autocosmos publishing: photo checks, vehicle specs, review view.

* `photo_checks`: one row per photo URL, what the last check found (reachable, format, size),
  so a photo is fetched once, not once per run.
* `vehicle_specs`: which catalogue specification (`catalog_matches.spec_key`) a vehicle maps to,
  so the review queue can say how many vehicles wait on each unresolved spec.
* `catalog_matches.recheck_requested_at`, `review_note`: an operator sends a spec back to be
  asked again, or resolves it by hand with a note.
* `agency_links.api_confirmed_at`: our app's access to the agency was confirmed through the API
  (the agency webhook body is unsigned).
* view `v_catalog_review`: the review queue (unresolved specs, and specs sent back).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_REVIEW_COMMENT = ("One row per catalogue specification an operator must look at: no version matched and no "
                   "candidate was accepted, or the spec was sent back to be asked again.")


def _review_view(dialect: str) -> str:
    if dialect == "postgresql":
        def field(column: str, path: str) -> str:
            parts = path.split(".")
            head = "->".join([column] + [p if p.isdigit() else f"'{p}'" for p in parts[:-1]])
            last = parts[-1] if parts[-1].isdigit() else f"'{parts[-1]}'"
            return f"({head}->>{last})"
    else:
        def field(column: str, path: str) -> str:
            json_path = "$" + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path.split("."))
            return f"json_extract({column}, '{json_path}')"
    return f"""CREATE VIEW v_catalog_review AS
SELECT m.spec_key,
       m.status,
       {field('m.params', 'make')} AS make,
       {field('m.params', 'model')} AS model,
       {field('m.params', 'trim')} AS trim,
       {field('m.params', 'year')} AS year,
       {field('m.params', 'fuelType')} AS fuel_type,
       {field('m.params', 'transmissionType')} AS transmission_type,
       m.model_href,
       m.confidence,
       {field('m.candidates', '0.href')} AS top_candidate_href,
       {field('m.candidates', '0.Nombre')} AS top_candidate_name,
       (SELECT count(*) FROM vehicle_specs s WHERE s.spec_key = m.spec_key) AS vehicles,
       m.resolved_at,
       m.recheck_requested_at,
       m.review_note
FROM catalog_matches m
WHERE m.status = 'unresolved'
   OR (m.recheck_requested_at IS NOT NULL AND m.recheck_requested_at >= m.resolved_at)"""


def upgrade() -> None:
    op.create_table('photo_checks',
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False, comment='reachable, JPG/PNG/WEBP, at least the minimum size'),
    sa.Column('http_status', sa.Integer(), nullable=True, comment='null when no response arrived'),
    sa.Column('image_format', sa.Text(), nullable=True, comment='JPEG, PNG, WEBP, ... as detected from the bytes'),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True, comment='why the photo is not usable'),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('url', name=op.f('pk_photo_checks'))
    )
    op.create_table('vehicle_specs',
    sa.Column('vehicle_id', sa.Text(), nullable=False),
    sa.Column('spec_key', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('vehicle_id', name=op.f('pk_vehicle_specs'))
    )
    with op.batch_alter_table('vehicle_specs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vehicle_specs_spec_key'), ['spec_key'], unique=False)
    with op.batch_alter_table('catalog_matches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recheck_requested_at', sa.DateTime(timezone=True), nullable=True,
                                      comment='an operator sent the spec back: ask the catalogue again'))
        batch_op.add_column(sa.Column('review_note', sa.Text(), nullable=True))
    with op.batch_alter_table('agency_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('api_confirmed_at', sa.DateTime(timezone=True), nullable=True,
                                      comment='access to the agency confirmed through the API'))
    dialect = op.get_context().dialect.name
    op.execute(_review_view(dialect))
    if dialect == "postgresql":
        op.execute(f"COMMENT ON VIEW v_catalog_review IS '{_REVIEW_COMMENT}'")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_catalog_review")
    with op.batch_alter_table('agency_links', schema=None) as batch_op:
        batch_op.drop_column('api_confirmed_at')
    with op.batch_alter_table('catalog_matches', schema=None) as batch_op:
        batch_op.drop_column('review_note')
        batch_op.drop_column('recheck_requested_at')
    with op.batch_alter_table('vehicle_specs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vehicle_specs_spec_key'))
    op.drop_table('vehicle_specs')
    op.drop_table('photo_checks')
