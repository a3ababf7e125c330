"""one-time codes, flow sessions, conversation secrets

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 23:50:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ---- identity: one-time codes (services/identity.py)
    op.create_table('otp_codes',
    sa.Column('msisdn', sa.String(length=11), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('digest', sa.String(length=120), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('msisdn', 'purpose', name=op.f('pk_otp_codes'))
    )
    op.create_table('otp_sends',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('msisdn', sa.String(length=11), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_otp_sends'))
    )
    op.create_index('ix_otp_sends_msisdn_sent_at', 'otp_sends', ['msisdn', 'sent_at'], unique=False)
    op.create_index('ix_otp_sends_client_sent_at', 'otp_sends', ['client', 'sent_at'], unique=False)
    op.create_table('otp_counters',
    sa.Column('scope', sa.String(length=8), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=True),
    sa.Column('wrong', sa.SmallInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'subject', name=op.f('pk_otp_counters'))
    )
    # ---- end identity: one-time codes


def downgrade() -> None:
    # ---- identity: one-time codes
    op.drop_table('otp_counters')
    op.drop_index('ix_otp_sends_client_sent_at', table_name='otp_sends')
    op.drop_index('ix_otp_sends_msisdn_sent_at', table_name='otp_sends')
    op.drop_table('otp_sends')
    op.drop_table('otp_codes')
    # ---- end identity: one-time codes
