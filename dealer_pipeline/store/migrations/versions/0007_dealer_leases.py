"""One run at a time per dealer: a lease row while a run syncs the dealer.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dealer_leases',
    sa.Column('dealer_id', sa.Text(), nullable=False),
    sa.Column('owner', sa.Text(), nullable=False, comment='the process and thread syncing the dealer now'),
    sa.Column('run_id', sa.Text(), nullable=True, comment='the Dagster run it works for'),
    sa.Column('work', sa.Text(), nullable=False, comment='baseline, features, charge_times, ...'),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=False,
              comment='taken over by another run after this (a crashed holder)'),
    sa.PrimaryKeyConstraint('dealer_id', name=op.f('pk_dealer_leases'))
    )


def downgrade() -> None:
    op.drop_table('dealer_leases')
