"""idempotency request hashes, atomic rate counters

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 23:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Orders made before this have no hash; a reused key is then checked against their kind, number and params.
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_hash', sa.String(length=64), nullable=True))

    op.create_table('sms_rate',
    sa.Column('msisdn', sa.String(length=11), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('msisdn', name=op.f('pk_sms_rate'))
    )
    with op.batch_alter_table('sms_rate', schema=None) as batch_op:
        batch_op.create_index('ix_sms_rate_window_start', ['window_start'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sms_rate', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_rate_window_start')
    op.drop_table('sms_rate')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('request_hash')
