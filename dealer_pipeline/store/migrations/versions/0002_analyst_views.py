"""Analyst views: v_stock_current, v_price_history, v_dealer_sync_health, v_data_quality.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import op

from dealer_pipeline.store import views

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    views.install_views(op.execute, op.get_context().dialect.name, upto='0002')


def downgrade() -> None:
    views.drop_views(op.execute, op.get_context().dialect.name, upto='0002')
