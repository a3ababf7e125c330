"""desk: verifications per contact, login attempts, session revocation

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 23:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('desk_contact_checks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('contact_id', sa.String(length=64), nullable=False),
    sa.Column('agent', sa.String(length=32), nullable=False),
    sa.Column('msisdn', sa.String(length=11), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=True),
    sa.Column('verified_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('otp_digest', sa.String(length=96), nullable=True),
    sa.Column('otp_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('otp_tries', sa.SmallInteger(), nullable=False),
    sa.Column('otp_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_desk_contact_checks')),
    sa.UniqueConstraint('contact_id', 'agent', 'msisdn', name=op.f('uq_desk_contact_checks_contact_id_agent_msisdn'))
    )
    op.create_table('desk_login_attempts',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('failures', sa.SmallInteger(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_desk_login_attempts'))
    )


def downgrade() -> None:
    op.drop_table('desk_login_attempts')
    op.drop_table('desk_contact_checks')
