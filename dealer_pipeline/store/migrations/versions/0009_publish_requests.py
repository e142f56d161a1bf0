"""Publishing follows applied events: `publish_requests`, written with the change that asks for it.

Applying a webhook event that changes what a dealer publishes (a vehicle's price, availability,
visibility, photos, texts), or that lifts a block, adds a row in the same transaction; a sensor
reads the rows after its cursor (their ids) and requests the dealers' publish runs.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('publish_requests',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('dealer_id', sa.Text(), nullable=False),
    sa.Column('vehicle_id', sa.Text(), nullable=True,
              comment="the vehicle whose change asks for it; null for the whole dealer"),
    sa.Column('reason', sa.Text(), nullable=False,
              comment='the fields that changed, or the block a vendor signal lifted'),
    sa.Column('event_id', sa.BigInteger(), nullable=True,
              comment='the webhook event whose application asked for it'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publish_requests'))
    )


def downgrade() -> None:
    op.drop_table('publish_requests')
