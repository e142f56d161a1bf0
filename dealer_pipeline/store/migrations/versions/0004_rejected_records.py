"""Vendor records that could not be keyed or normalized, kept whole with the reason.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rejected_records',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False, comment='stock, advertiser'),
    sa.Column('dealer_id', sa.Text(), nullable=True, comment='the dealer whose listing held it, when known'),
    sa.Column('reason', sa.Text(), nullable=False, comment='why it could not be keyed or normalized'),
    sa.Column('run_id', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raw', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True,
              comment='the vendor record as received'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rejected_records'))
    )
    with op.batch_alter_table('rejected_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rejected_records_dealer_id_received_at'), ['dealer_id', 'received_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rejected_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rejected_records_dealer_id_received_at'))
    op.drop_table('rejected_records')
