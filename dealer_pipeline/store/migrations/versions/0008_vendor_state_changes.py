"""Changes a classified made on its own to our publications, as each publish run reads them back.

* table `vendor_state_changes`: one row per suspension, archive, deletion or restoration the target
  made on its own, with the reason and what the run did about it (healing);
* view `v_vendor_state_changes` for analysts (re-apply `sql/roles.sql` to grant it).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from alembic import op
import sqlalchemy as sa

from dealer_pipeline.store import dictionary, views

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

VIEW = 'v_vendor_state_changes'


def upgrade() -> None:
    op.create_table('vendor_state_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('target', sa.Text(), nullable=False),
    sa.Column('dealer_id', sa.Text(), nullable=False),
    sa.Column('vehicle_id', sa.Text(), nullable=False),
    sa.Column('account_id', sa.Text(), nullable=True),
    sa.Column('external_id', sa.Text(), nullable=False),
    sa.Column('change', sa.Text(), nullable=False),
    sa.Column('vendor_state', sa.Text(), nullable=True),
    sa.Column('state_before', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('healing', sa.Text(), nullable=True),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vendor_state_changes'))
    )
    with op.batch_alter_table('vendor_state_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vendor_state_changes_dealer_id_seen_at'), ['dealer_id', 'seen_at'],
                              unique=False)
    dialect = op.get_context().dialect.name
    if dialect == 'postgresql':
        for statement in dictionary.comment_statements(only='vendor_state_changes'):
            op.execute(statement)
    views.install_views(op.execute, dialect, only=VIEW)


def downgrade() -> None:
    views.drop_views(op.execute, op.get_context().dialect.name, only=VIEW)
    with op.batch_alter_table('vendor_state_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vendor_state_changes_dealer_id_seen_at'))
    op.drop_table('vendor_state_changes')
