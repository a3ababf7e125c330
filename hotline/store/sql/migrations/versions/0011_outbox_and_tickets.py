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

# What the ticket.create handler filed in service_requests, by kind → the one ticket store's category.
TICKET_KINDS = {"complaint": "complaint", "suggestion": "suggestion", "praise": "praise",
                "network_fault": "fault", "billing_dispute": "billing_dispute", "broadband_fault": "fault",
                "broadband_order": "order"}
KIND_OF_BUSINESS = {"care.complaint": "complaint", "care.suggestion": "suggestion", "care.praise": "praise",
                    "care.network_fault": "network_fault", "care.billing_dispute": "billing_dispute",
                    "broadband.fault": "broadband_fault", "broadband.order": "broadband_order"}


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

    # One ticket store: tickets gain where they were filed; service_requests' tickets move over.
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=16), nullable=False, server_default='desk'))
        batch_op.add_column(sa.Column('business', sa.String(length=64), nullable=True))
    op.create_table('ticket_notes',
    sa.Column('id', Id, nullable=False),
    sa.Column('ticket_id', sa.BigInteger(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_notes_ticket_id'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_notes'))
    )
    with op.batch_alter_table('ticket_notes', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_notes_ticket_id', ['ticket_id'], unique=False)
    _move_tickets_out_of_service_requests()


def _tables() -> tuple[sa.Table, sa.Table]:
    meta = sa.MetaData()
    requests = sa.Table('service_requests', meta, sa.Column('id', Id), sa.Column('reference', sa.String(24)),
                        sa.Column('kind', sa.String(32)), sa.Column('business', sa.String(64)),
                        sa.Column('msisdn', sa.String(11)), sa.Column('channel', sa.String(16)),
                        sa.Column('status', sa.String(16)), sa.Column('detail', sa.JSON),
                        sa.Column('idempotency_key', sa.String(160)),
                        sa.Column('created_at', sa.DateTime(timezone=True)))
    tickets = sa.Table('tickets', meta, sa.Column('id', Id), sa.Column('reference', sa.String(24)),
                       sa.Column('msisdn', sa.String(11)), sa.Column('category', sa.String(16)),
                       sa.Column('summary', sa.String(200)), sa.Column('detail', sa.Text),
                       sa.Column('priority', sa.String(8)), sa.Column('status', sa.String(16)),
                       sa.Column('channel', sa.String(16)), sa.Column('business', sa.String(64)),
                       sa.Column('created_by', sa.String(64)), sa.Column('idempotency_key', sa.String(160)),
                       sa.Column('created_at', sa.DateTime(timezone=True)))
    return requests, tickets


def _move_tickets_out_of_service_requests() -> None:
    """Complaints, faults and the like filed by ticket.create: same reference, same key (prefixed as the
    handler now files them), the customer's words as summary and detail."""
    bind = op.get_bind()
    requests, tickets = _tables()
    rows = bind.execute(sa.select(requests).where(requests.c.kind.in_(list(TICKET_KINDS)))).all()
    for r in rows:
        detail = r.detail if isinstance(r.detail, dict) else {}
        words = " ".join(str(detail.get("content") or "").split())
        extra = "\n".join(f"{k}: {v}" for k, v in detail.items() if k != "content" and v not in (None, ""))
        summary = words if len(words) >= 2 else r.kind
        summary = summary if len(summary) <= 200 else summary[:199] + "…"
        bind.execute(sa.insert(tickets).values(
            reference=r.reference, msisdn=r.msisdn, category=TICKET_KINDS[r.kind], summary=summary,
            detail="\n".join(x for x in (words, extra) if x)[:4000], priority="normal", status=r.status,
            channel=(r.channel or "")[:16], business=r.business, created_by=f"{r.channel}:subscriber"[:64],
            idempotency_key=f"svc:{r.idempotency_key}"[:160] if r.idempotency_key else None,
            created_at=r.created_at))
    if rows:
        bind.execute(sa.delete(requests).where(requests.c.id.in_([r.id for r in rows])))


def _move_tickets_back() -> None:
    bind = op.get_bind()
    requests, tickets = _tables()
    rows = bind.execute(sa.select(tickets).where(tickets.c.business.in_(list(KIND_OF_BUSINESS)))).all()
    for t in rows:
        bind.execute(sa.insert(requests).values(
            reference=t.reference, kind=KIND_OF_BUSINESS[t.business], business=t.business, msisdn=t.msisdn,
            channel=t.channel, status=t.status, detail={"content": t.detail},
            idempotency_key=(t.idempotency_key or "").removeprefix("svc:") or None, created_at=t.created_at))
    if rows:
        bind.execute(sa.delete(tickets).where(tickets.c.id.in_([t.id for t in rows])))


def downgrade() -> None:
    _move_tickets_back()
    with op.batch_alter_table('ticket_notes', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_notes_ticket_id')
    op.drop_table('ticket_notes')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('business')
        batch_op.drop_column('channel')
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
