"""care tickets, desk verifications

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tickets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reference', sa.String(length=24), nullable=False),
    sa.Column('msisdn', sa.String(length=11), nullable=True),
    sa.Column('contact_id', sa.String(length=64), nullable=True),
    sa.Column('conversation_id', sa.String(length=40), nullable=True),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('summary', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('priority', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=160), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_tickets_idempotency_key')),
    sa.UniqueConstraint('reference', name=op.f('uq_tickets_reference'))
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_msisdn_created', ['msisdn', 'created_at'], unique=False)

    op.create_table('desk_verifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agent', sa.String(length=32), nullable=False),
    sa.Column('msisdn', sa.String(length=11), nullable=False),
    sa.Column('contact_id', sa.String(length=64), nullable=True),
    sa.Column('method', sa.String(length=16), nullable=True),
    sa.Column('verified_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('otp_digest', sa.String(length=96), nullable=True),
    sa.Column('otp_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('otp_tries', sa.SmallInteger(), nullable=False),
    sa.Column('otp_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_desk_verifications')),
    sa.UniqueConstraint('agent', 'msisdn', name=op.f('uq_desk_verifications_agent_msisdn'))
    )


def downgrade() -> None:
    op.drop_table('desk_verifications')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_msisdn_created')

    op.drop_table('tickets')
