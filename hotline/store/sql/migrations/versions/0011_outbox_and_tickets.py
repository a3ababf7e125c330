"""outbox delivery and retention, one ticket store

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 23:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    # sms_outbox: delivery state. Rows queued before the Outbox existed were never delivered; their codes have
    # long expired, so they are closed as failed and their text redacted (codes were stored in clear).
    with op.batch_alter_table('sms_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('redacted', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('attempts', sa.SmallInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('error', sa.String(length=200), nullable=True))
        batch_op.create_index('ix_sms_outbox_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_sms_outbox_created_at', ['created_at'], unique=False)
    op.execute("UPDATE sms_outbox SET secret = TRUE, redacted = TRUE, text = '（验证码已删除）' WHERE purpose = 'otp'")
    op.execute("UPDATE sms_outbox SET status = 'failed', error = 'queued before delivery existed' "
               "WHERE status = 'queued'")

    op.create_table('demo_inbox',
    sa.Column('id', Id, nullable=False),
    sa.Column('outbox_id', sa.BigInteger(), nullable=False),
    sa.Column('msisdn', sa.String(length=11), nullable=False),
    sa.Column('sender', sa.String(length=21), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demo_inbox'))
    )
    with op.batch_alter_table('demo_inbox', schema=None) as batch_op:
        batch_op.create_index('ix_demo_inbox_msisdn_id', ['msisdn', 'id'], unique=False)
        batch_op.create_index('ix_demo_inbox_delivered_at', ['delivered_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('demo_inbox', schema=None) as batch_op:
        batch_op.drop_index('ix_demo_inbox_delivered_at')
        batch_op.drop_index('ix_demo_inbox_msisdn_id')
    op.drop_table('demo_inbox')
    with op.batch_alter_table('sms_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_outbox_created_at')
        batch_op.drop_index('ix_sms_outbox_status_next_attempt_at')
        batch_op.drop_column('error')
        batch_op.drop_column('sent_at')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('redacted')
        batch_op.drop_column('secret')
