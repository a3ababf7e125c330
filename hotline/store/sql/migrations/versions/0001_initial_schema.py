"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 17:19:59.673348
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=48), nullable=False),
    sa.Column('subscriber_id', sa.BigInteger(), nullable=True),
    sa.Column('msisdn', sa.String(length=11), nullable=True),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_msisdn_at', ['msisdn', 'at'], unique=False)

    op.create_table('subscribers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('msisdn', sa.String(length=11), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('brand', sa.String(length=16), nullable=False),
    sa.Column('payment_type', sa.String(length=16), nullable=False),
    sa.Column('star_level', sa.SmallInteger(), nullable=False),
    sa.Column('province', sa.String(length=8), nullable=False),
    sa.Column('city', sa.String(length=32), nullable=False),
    sa.Column('join_date', sa.Date(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('plan_code', sa.String(length=64), nullable=False),
    sa.Column('next_plan_code', sa.String(length=64), nullable=True),
    sa.Column('balance_fen', sa.BigInteger(), nullable=False),
    sa.Column('credit_limit_fen', sa.BigInteger(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('password_hash', sa.String(length=160), nullable=False),
    sa.Column('pw_failures', sa.SmallInteger(), nullable=False),
    sa.Column('pw_fail_day', sa.Date(), nullable=True),
    sa.Column('marketing_opt_out', sa.Boolean(), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscribers')),
    sa.UniqueConstraint('msisdn', name=op.f('uq_subscribers_msisdn'))
    )
    op.create_table('bills',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('subscriber_id', sa.BigInteger(), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('total_fen', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_bills_subscriber_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bills')),
    sa.UniqueConstraint('subscriber_id', 'cycle', name=op.f('uq_bills_subscriber_id_cycle'))
    )
    op.create_table('ledger',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('subscriber_id', sa.BigInteger(), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('description', sa.String(length=128), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_ledger_subscriber_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger'))
    )
    with op.batch_alter_table('ledger', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_subscriber_cycle', ['subscriber_id', 'cycle'], unique=False)

    op.create_table('orders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('subscriber_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('product_code', sa.String(length=64), nullable=True),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_orders_subscriber_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_orders_idempotency_key'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_subscriber', ['subscriber_id'], unique=False)

    op.create_table('subscriptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('subscriber_id', sa.BigInteger(), nullable=False),
    sa.Column('product_code', sa.String(length=64), nullable=False),
    sa.Column('in_plan', sa.Boolean(), nullable=False),
    sa.Column('start_cycle', sa.Integer(), nullable=False),
    sa.Column('end_cycle', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_subscriptions_subscriber_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions'))
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index('ix_subscriptions_subscriber', ['subscriber_id'], unique=False)

    op.create_table('usage_counters',
    sa.Column('subscriber_id', sa.BigInteger(), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('bucket', sa.String(length=16), nullable=False),
    sa.Column('used', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_usage_counters_subscriber_id')),
    sa.PrimaryKeyConstraint('subscriber_id', 'cycle', 'bucket', name=op.f('pk_usage_counters'))
    )
    op.create_table('usage_records',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('subscriber_id', sa.BigInteger(), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('direction', sa.String(length=4), nullable=True),
    sa.Column('other_party', sa.String(length=20), nullable=True),
    sa.Column('duration_s', sa.Integer(), nullable=False),
    sa.Column('volume_kb', sa.BigInteger(), nullable=False),
    sa.Column('location', sa.String(length=32), nullable=True),
    sa.Column('fee_fen', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_usage_records_subscriber_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_records'))
    )
    with op.batch_alter_table('usage_records', schema=None) as batch_op:
        batch_op.create_index('ix_usage_records_subscriber_cycle', ['subscriber_id', 'cycle'], unique=False)

    op.create_table('bill_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('bill_id', sa.BigInteger(), nullable=False),
    sa.Column('category', sa.String(length=24), nullable=False),
    sa.Column('description', sa.String(length=128), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.id'], name=op.f('fk_bill_items_bill_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bill_items'))
    )
    with op.batch_alter_table('bill_items', schema=None) as batch_op:
        batch_op.create_index('ix_bill_items_bill', ['bill_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('bill_items', schema=None) as batch_op:
        batch_op.drop_index('ix_bill_items_bill')

    op.drop_table('bill_items')
    with op.batch_alter_table('usage_records', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_records_subscriber_cycle')

    op.drop_table('usage_records')
    op.drop_table('usage_counters')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriptions_subscriber')

    op.drop_table('subscriptions')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_subscriber')

    op.drop_table('orders')
    with op.batch_alter_table('ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_subscriber_cycle')

    op.drop_table('ledger')
    op.drop_table('bills')
    op.drop_table('subscribers')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_msisdn_at')

    op.drop_table('audit_log')
