"""desk agents and sessions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:00:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled in by the desk helper


def downgrade() -> None:
    pass
