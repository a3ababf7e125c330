"""top-up cards, payment transactions, agent adjustments

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 23:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('topup_cards',
    sa.Column('id', _ID, nullable=False),
    sa.Column('serial', sa.String(length=20), nullable=False),
    sa.Column('pin_hash', sa.String(length=160), nullable=False),
    sa.Column('face_value_fen', sa.BigInteger(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('batch', sa.String(length=32), nullable=False),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('used_at', _TS, nullable=True),
    sa.Column('used_by', sa.BigInteger(), nullable=True),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topup_cards')),
    sa.UniqueConstraint('serial', name=op.f('uq_topup_cards_serial'))
    )
    op.create_table('money_counters',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_money_counters'))
    )
    op.create_table('payments',
    sa.Column('id', _ID, nullable=False),
    sa.Column('ref', sa.String(length=40), nullable=False),
    sa.Column('provider', sa.String(length=24), nullable=False),
    sa.Column('msisdn', sa.String(length=11), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('provider_txn', sa.String(length=64), nullable=True),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('expires_at', _TS, nullable=False),
    sa.Column('paid_at', _TS, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('provider_txn', name=op.f('uq_payments_provider_txn')),
    sa.UniqueConstraint('ref', name=op.f('uq_payments_ref'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index('ix_payments_msisdn_created', ['msisdn', 'created_at'], unique=False)

    op.create_table('adjustments',
    sa.Column('id', _ID, nullable=False),
    sa.Column('msisdn', sa.String(length=11), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('agent', sa.String(length=32), nullable=False),
    sa.Column('contact_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('decided_by', sa.String(length=32), nullable=True),
    sa.Column('decision_note', sa.String(length=200), nullable=True),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('decided_at', _TS, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adjustments')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_adjustments_idempotency_key'))
    )
    with op.batch_alter_table('adjustments', schema=None) as batch_op:
        batch_op.create_index('ix_adjustments_status_created', ['status', 'created_at'], unique=False)
        batch_op.create_index('ix_adjustments_agent_created', ['agent', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('adjustments', schema=None) as batch_op:
        batch_op.drop_index('ix_adjustments_agent_created')
        batch_op.drop_index('ix_adjustments_status_created')
    op.drop_table('adjustments')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_msisdn_created')
    op.drop_table('payments')
    op.drop_table('money_counters')
    op.drop_table('topup_cards')
