"""desk agents and sessions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('desk_agents',
    sa.Column('login', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=160), nullable=False),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('capacity', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.SmallInteger(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('login', name=op.f('pk_desk_agents'))
    )
    op.create_table('desk_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('login', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['login'], ['desk_agents.login'], name=op.f('fk_desk_sessions_login')),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_desk_sessions'))
    )
    with op.batch_alter_table('desk_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_desk_sessions_login', ['login'], unique=False)
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.create_index('ix_handoffs_conversation', ['conversation_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index('ix_handoffs_conversation')
    with op.batch_alter_table('desk_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_desk_sessions_login')

    op.drop_table('desk_sessions')
    op.drop_table('desk_agents')
