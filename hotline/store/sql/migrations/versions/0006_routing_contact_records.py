"""routing contact records

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('contacts',
    sa.Column('contact_id', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('queue', sa.String(length=48), nullable=True),
    sa.Column('msisdn', sa.String(length=11), nullable=True),
    sa.Column('tier', sa.String(length=16), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('business', sa.String(length=64), nullable=True),
    sa.Column('category', sa.String(length=32), nullable=True),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_offered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('leg_answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('agent_id', sa.String(length=64), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('wrapped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('abandoned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('callback_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('transferred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('wrap_code', sa.String(length=48), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('transfers', sa.Integer(), nullable=False),
    sa.Column('overflow_step', sa.SmallInteger(), nullable=False),
    sa.Column('talk_ms', sa.BigInteger(), nullable=False),
    sa.Column('wrap_ms', sa.BigInteger(), nullable=False),
    sa.Column('handoff_id', sa.BigInteger(), nullable=True),
    sa.Column('conversation_id', sa.String(length=40), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('contact_id', name=op.f('pk_contacts'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_enqueued_at', ['enqueued_at'], unique=False)
        batch_op.create_index('ix_contacts_queue_enqueued_at', ['queue', 'enqueued_at'], unique=False)
        batch_op.create_index('ix_contacts_agent_answered', ['agent_id', 'answered_at'], unique=False)
        batch_op.create_index('ix_contacts_handoff_id', ['handoff_id'], unique=False)

    op.create_table('agent_states',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('skills', sa.String(length=255), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_states')),
    sa.UniqueConstraint('agent_id', 'started_at', 'state', name=op.f('uq_agent_states_agent_id_started_at_state'))
    )
    with op.batch_alter_table('agent_states', schema=None) as batch_op:
        batch_op.create_index('ix_agent_states_started_at', ['started_at'], unique=False)
        batch_op.create_index('ix_agent_states_ended_at', ['ended_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('agent_states', schema=None) as batch_op:
        batch_op.drop_index('ix_agent_states_ended_at')
        batch_op.drop_index('ix_agent_states_started_at')

    op.drop_table('agent_states')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_handoff_id')
        batch_op.drop_index('ix_contacts_agent_answered')
        batch_op.drop_index('ix_contacts_queue_enqueued_at')
        batch_op.drop_index('ix_contacts_enqueued_at')

    op.drop_table('contacts')
