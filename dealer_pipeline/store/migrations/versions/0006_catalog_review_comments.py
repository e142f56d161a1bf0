"""Data dictionary: the column comments of `v_catalog_review` (PostgreSQL).

The operators' review view is created by 0003 rather than from a view file, so 0005's reinstall of
the analyst views did not reach it; its text is `dictionary.yaml`'s like every other view's.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from alembic import op

from dealer_pipeline.store import dictionary

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for statement in dictionary.comment_statements(only="v_catalog_review"):
            op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for column in dictionary.described("view")["v_catalog_review"].columns:
            op.execute(f"COMMENT ON COLUMN v_catalog_review.{column} IS NULL")
