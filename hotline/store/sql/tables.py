"""The relational schema of the reference back end (SQLAlchemy Core). Alembic migrations follow it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
})

# BIGINT ids that are still SQLite rowids (SQLite only autoincrements INTEGER PRIMARY KEY).
Id = BigInteger().with_variant(Integer, "sqlite")

subscribers = Table(
    "subscribers", metadata,
    Column("id", Id, primary_key=True),
    Column("msisdn", String(11), nullable=False, unique=True),
    Column("name", String(64), nullable=False),
    Column("id_number", String(18), nullable=False),
    Column("brand", String(16), nullable=False),
    Column("payment_type", String(16), nullable=False),
    Column("star_level", SmallInteger, nullable=False, default=0),
    Column("province", String(8), nullable=False),
    Column("city", String(32), nullable=False),
    Column("join_date", Date, nullable=False),
    Column("language", String(8), nullable=False, default="zh"),
    Column("status", String(24), nullable=False),
    Column("plan_code", String(64), nullable=False),
    Column("next_plan_code", String(64)),
    Column("balance_fen", BigInteger, nullable=False, default=0),
    Column("credit_limit_fen", BigInteger, nullable=False, default=0),
    Column("points", BigInteger, nullable=False, default=0),
    Column("password_hash", String(160), nullable=False, default=""),
    Column("pw_failures", SmallInteger, nullable=False, default=0),
    Column("pw_fail_day", Date),
    Column("marketing_opt_out", Boolean, nullable=False, default=False),
    Column("cycle", Integer, nullable=False),
    Column("version", Integer, nullable=False, default=0),
)

# Products a subscriber has: active now, or scheduled from a later cycle, or ended.
subscriptions = Table(
    "subscriptions", metadata,
    Column("id", Id, primary_key=True),
    Column("subscriber_id", BigInteger, ForeignKey("subscribers.id"), nullable=False),
    Column("product_code", String(64), nullable=False),
    Column("in_plan", Boolean, nullable=False, default=False),
    Column("start_cycle", Integer, nullable=False),
    Column("end_cycle", Integer),  # last cycle it is valid in; NULL while it renews
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("order_id", BigInteger),
    Index("ix_subscriptions_subscriber", "subscriber_id"),
)

usage_counters = Table(
    "usage_counters", metadata,
    Column("subscriber_id", BigInteger, ForeignKey("subscribers.id"), primary_key=True),
    Column("cycle", Integer, primary_key=True),
    Column("bucket", String(16), primary_key=True),
    Column("used", BigInteger, nullable=False, default=0),
)

# Itemised records (详单): calls, messages and data sessions.
usage_records = Table(
    "usage_records", metadata,
    Column("id", Id, primary_key=True),
    Column("subscriber_id", BigInteger, ForeignKey("subscribers.id"), nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("kind", String(8), nullable=False),  # call | sms | data
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("direction", String(4)),             # out | in (calls, sms)
    Column("other_party", String(20)),
    Column("duration_s", Integer, nullable=False, default=0),
    Column("volume_kb", BigInteger, nullable=False, default=0),
    Column("location", String(32)),
    Column("fee_fen", BigInteger, nullable=False, default=0),
    Index("ix_usage_records_subscriber_cycle", "subscriber_id", "cycle"),
)

# Every movement of money: + credits (recharge), - debits (fees, usage).
ledger = Table(
    "ledger", metadata,
    Column("id", Id, primary_key=True),
    Column("subscriber_id", BigInteger, ForeignKey("subscribers.id"), nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("kind", String(24), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("description", String(128), nullable=False),
    Column("order_id", BigInteger),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_ledger_subscriber_cycle", "subscriber_id", "cycle"),
)

bills = Table(
    "bills", metadata,
    Column("id", Id, primary_key=True),
    Column("subscriber_id", BigInteger, ForeignKey("subscribers.id"), nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("total_fen", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("subscriber_id", "cycle"),
)

bill_items = Table(
    "bill_items", metadata,
    Column("id", Id, primary_key=True),
    Column("bill_id", BigInteger, ForeignKey("bills.id"), nullable=False),
    Column("category", String(24), nullable=False),
    Column("description", String(128), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Index("ix_bill_items_bill", "bill_id"),
)

orders = Table(
    "orders", metadata,
    Column("id", Id, primary_key=True),
    Column("idempotency_key", String(128), nullable=False, unique=True),
    Column("subscriber_id", BigInteger, ForeignKey("subscribers.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("product_code", String(64)),
    Column("amount_fen", BigInteger, nullable=False, default=0),
    Column("channel", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # completed | failed
    Column("params", JSON, nullable=False),
    Column("result", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True)),
    Index("ix_orders_subscriber", "subscriber_id"),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Id, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(48), nullable=False),
    Column("subscriber_id", BigInteger),
    Column("msisdn", String(11)),
    Column("order_id", BigInteger),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_audit_log_msisdn_at", "msisdn", "at"),
)

# ---------------------------------------------------------------- hotline's own records (not the operator's BSS)

# Requests taken by self-service that people or other systems follow up: complaints, faults,
# suggestions, broadband orders, spam reports, number-portability codes, e-invoices.
service_requests = Table(
    "service_requests", metadata,
    Column("id", Id, primary_key=True),
    Column("reference", String(24), nullable=False, unique=True),  # what the customer is told
    Column("kind", String(32), nullable=False),
    Column("business", String(64), nullable=False),
    Column("msisdn", String(11), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # open | closed
    Column("detail", JSON, nullable=False),
    Column("idempotency_key", String(160), unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_service_requests_msisdn", "msisdn"),
)

# SMS business hall: one conversation state per number (pending confirmation, password, 0000 map, menu).
sms_sessions = Table(
    "sms_sessions", metadata,
    Column("msisdn", String(11), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# Every inbound SMS once: the gateway's message id dedupes retries; the replies are kept to answer them.
sms_inbound = Table(
    "sms_inbound", metadata,
    Column("id", Id, primary_key=True),
    Column("message_key", String(160), nullable=False, unique=True),
    Column("msisdn", String(11), nullable=False),
    Column("port", String(21), nullable=False),
    Column("text", Text, nullable=False),
    Column("business", String(64)),
    Column("replies", JSON, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("ix_sms_inbound_msisdn_received", "msisdn", "received_at"),
)

# The assistant's conversations: the dialogue state (pending step, context, identity) with its expiry.
conversations = Table(
    "conversations", metadata,
    Column("id", String(40), primary_key=True),
    Column("msisdn", String(11)),
    Column("channel", String(16), nullable=False),
    Column("state", JSON, nullable=False),
    Column("version", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_conversations_msisdn", "msisdn"),
)

# The transcript: what the customer and 小贝 said, in order. Secrets (passwords, codes) are stored masked.
conversation_messages = Table(
    "conversation_messages", metadata,
    Column("id", Id, primary_key=True),
    Column("conversation_id", String(40), ForeignKey("conversations.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("role", String(16), nullable=False),        # customer | assistant
    Column("text", Text, nullable=False),
    Column("intent", String(64)),
    Column("confidence", Integer),                     # per mille
    Column("client_id", String(64)),                   # the client's message id: a retry is answered once
    Column("at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("conversation_id", "seq"),
    UniqueConstraint("conversation_id", "client_id"),
)

# A hand-off to a human: the event the routing engine picks up, with all the context it needs.
handoffs = Table(
    "handoffs", metadata,
    Column("id", Id, primary_key=True),
    Column("conversation_id", String(40), ForeignKey("conversations.id"), nullable=False),
    Column("msisdn", String(11)),
    Column("channel", String(16), nullable=False),
    Column("reason", String(32), nullable=False),      # asked | misunderstood | angry
    Column("priority", Boolean, nullable=False, default=False),
    Column("business", String(64)),
    Column("slots", JSON, nullable=False),
    Column("sentiment", JSON, nullable=False),
    Column("transcript", JSON, nullable=False),
    Column("status", String(16), nullable=False, default="waiting"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_handoffs_status_created", "status", "created_at"),
)

# Text messages the platform sends on its own (one-time codes now; notices later), for the SMS gateway.
sms_outbox = Table(
    "sms_outbox", metadata,
    Column("id", Id, primary_key=True),
    Column("msisdn", String(11), nullable=False),
    Column("sender", String(21), nullable=False),
    Column("text", Text, nullable=False),
    Column("purpose", String(16), nullable=False),     # otp | notice
    Column("status", String(16), nullable=False, default="queued"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_sms_outbox_msisdn_created", "msisdn", "created_at"),
)

# ---------------------------------------------------------------- the agent desktop (issue 5)

# People who work in the desk: agents, supervisors and admins. Skills, languages and capacity feed routing.
desk_agents = Table(
    "desk_agents", metadata,
    Column("login", String(32), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("role", String(16), nullable=False),            # agent | supervisor | admin
    Column("password_hash", String(160), nullable=False),
    Column("skills", JSON, nullable=False),                # {"billing": 8, "general": 5}
    Column("languages", JSON, nullable=False),             # ["zh", "en"]
    Column("capacity", JSON, nullable=False),              # {"voice": 1, "chat": 3, ...}
    Column("active", Boolean, nullable=False, default=True),
    Column("failed_logins", SmallInteger, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Desk sessions: only the SHA-256 of the random token is stored, so a database leak opens no session.
desk_sessions = Table(
    "desk_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("login", String(32), ForeignKey("desk_agents.login"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Index("ix_desk_sessions_login", "login"),
)

# ---------------------------------------------------------------- routing records (issue 5, wallboard)

# One row per routed contact, kept up to date from the router's events (hotline/routing/records.py);
# interval reports and "today so far" read it. Times are UTC; reports bucket them in the business zone.
contacts = Table(
    "contacts", metadata,
    Column("contact_id", String(40), primary_key=True),
    Column("channel", String(16)),
    Column("queue", String(48)),                       # the queue it entered (metrics are counted there)
    Column("msisdn", String(11)),
    Column("tier", String(16)),
    Column("language", String(8)),
    Column("business", String(64)),
    Column("category", String(32)),
    Column("urgent", Boolean, nullable=False, default=False),
    Column("enqueued_at", DateTime(timezone=True)),
    Column("first_offered_at", DateTime(timezone=True)),
    Column("answered_at", DateTime(timezone=True)),     # first answer: speed of answer ends here
    Column("leg_answered_at", DateTime(timezone=True)), # latest answer (after a transfer)
    Column("agent_id", String(64)),                     # the latest agent
    Column("finished_at", DateTime(timezone=True)),     # latest talk end (wrap-up starts)
    Column("wrapped_at", DateTime(timezone=True)),      # latest wrap-up end
    Column("abandoned_at", DateTime(timezone=True)),
    Column("callback_at", DateTime(timezone=True)),
    Column("transferred_at", DateTime(timezone=True)),
    Column("outcome", String(16)),                      # answered | abandoned | refused | transferred | callback
    Column("wrap_code", String(48)),
    Column("notes", Text),
    Column("transfers", Integer, nullable=False, default=0),
    Column("overflow_step", SmallInteger, nullable=False, default=0),
    Column("talk_ms", BigInteger, nullable=False, default=0),   # summed over legs
    Column("wrap_ms", BigInteger, nullable=False, default=0),
    Column("handoff_id", BigInteger),
    Column("conversation_id", String(40)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_contacts_enqueued_at", "enqueued_at"),
    Index("ix_contacts_queue_enqueued_at", "queue", "enqueued_at"),
    Index("ix_contacts_agent_answered", "agent_id", "answered_at"),
    Index("ix_contacts_handoff_id", "handoff_id"),
)

# Agents' state history from the router's agent_state events: one row per state, closed by the next one.
agent_states = Table(
    "agent_states", metadata,
    Column("id", Id, primary_key=True),
    Column("agent_id", String(64), nullable=False),
    Column("state", String(16), nullable=False),        # offline | available | offered | busy | wrap_up | break
    Column("reason", String(64)),
    Column("skills", String(255)),                      # ",billing,general," when known: per-queue occupancy
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    UniqueConstraint("agent_id", "started_at", "state"),
    Index("ix_agent_states_started_at", "started_at"),
    Index("ix_agent_states_ended_at", "ended_at"),
)

# ---------------------------------------------------------------- care tickets and desk verification (issue 5)

# A ticket an agent opens for follow-up (a stub: the care issue adds SLAs, assignment and closing).
tickets = Table(
    "tickets", metadata,
    Column("id", Id, primary_key=True),
    Column("reference", String(24), nullable=False, unique=True),  # T20261124123456: what the customer is told
    Column("msisdn", String(11)),
    Column("contact_id", String(64)),
    Column("conversation_id", String(40)),
    Column("category", String(16), nullable=False),     # complaint | fault | suggestion | inquiry
    Column("summary", String(200), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("priority", String(8), nullable=False, default="normal"),   # normal | high | urgent
    Column("status", String(16), nullable=False, default="open"),
    Column("created_by", String(64), nullable=False),   # the agent's login
    Column("idempotency_key", String(160), unique=True),  # a double click files once
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_tickets_msisdn_created", "msisdn", "created_at"),
)

# Whom an agent has verified (and how, until when) before running protected businesses for them;
# also the one-time code pending for that pair (only its salted digest).
desk_verifications = Table(
    "desk_verifications", metadata,
    Column("id", Id, primary_key=True),
    Column("agent", String(32), nullable=False),
    Column("msisdn", String(11), nullable=False),
    Column("contact_id", String(64)),
    Column("method", String(16)),                       # conversation | password | otp
    Column("verified_until", DateTime(timezone=True)),
    Column("otp_digest", String(96)),
    Column("otp_until", DateTime(timezone=True)),
    Column("otp_tries", SmallInteger, nullable=False, default=0),
    Column("otp_sent_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("agent", "msisdn"),
)

# The customer's web chat finds its conversation's live hand-off (and the agent) by conversation id.
Index("ix_handoffs_conversation", handoffs.c.conversation_id)

# ---------------------------------------------------------------- api keys (migration 0007)

# API credentials: only the SHA-256 of the random key is kept (a leak opens nothing); the prefix names it.
api_keys = Table(
    "api_keys", metadata,
    Column("id", Id, primary_key=True),
    Column("prefix", String(16), nullable=False, unique=True),    # hlk_1a2b3c4d: shown in lists and logs
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("name", String(64), nullable=False, default=""),
    Column("scopes", String(64), nullable=False),                 # "read write billing admin"
    Column("created_by", String(64), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

# ---------------------------------------------------------------- payments, top-up cards (migration 0008)

# Top-up cards (充值卡): single-use vouchers. The PIN is kept only as a salted scrypt digest.
topup_cards = Table(
    "topup_cards", metadata,
    Column("id", Id, primary_key=True),
    Column("serial", String(20), nullable=False, unique=True),   # printed on the card, not secret
    Column("pin_hash", String(160), nullable=False),
    Column("face_value_fen", BigInteger, nullable=False),
    Column("expires_on", Date, nullable=False),        # the last day it can be used (operator's time zone)
    Column("status", String(12), nullable=False),      # active | used | void
    Column("batch", String(32), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("used_by", BigInteger),                     # the subscriber credited
    Column("order_id", BigInteger),
)

# Daily counters that must not be exceeded under concurrency: wrong card PINs per number and per card,
# an agent's adjustments per day. One row per key, reset when its day passes (operator's time zone).
money_counters = Table(
    "money_counters", metadata,
    Column("key", String(64), primary_key=True),       # card-msisdn:138…, card-serial:…, adjust:<agent>
    Column("day", Date, nullable=False),
    Column("value", BigInteger, nullable=False, default=0),
)

# Online payments: one row per pay link; credited once, on a verified notification.
payments = Table(
    "payments", metadata,
    Column("id", Id, primary_key=True),
    Column("ref", String(40), nullable=False, unique=True),         # our reference, in the pay link
    Column("provider", String(24), nullable=False),
    Column("msisdn", String(11), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),               # what is credited, whatever is notified
    Column("status", String(12), nullable=False),                   # pending | paying | paid | failed | refund
    Column("provider_txn", String(64), unique=True),                # one credit per provider transaction
    Column("order_id", BigInteger),
    Column("channel", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),  # the pay page closes; a late payment still counts
    Column("paid_at", DateTime(timezone=True)),
    Index("ix_payments_msisdn_created", "msisdn", "created_at"),
)

# Agents' balance adjustments (调账): applied within the agent's limits, else pending a supervisor's decision.
adjustments = Table(
    "adjustments", metadata,
    Column("id", Id, primary_key=True),
    Column("msisdn", String(11), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),      # + credit, - debit
    Column("reason", String(200), nullable=False),
    Column("agent", String(32), nullable=False),
    Column("contact_id", String(64)),
    Column("status", String(12), nullable=False),          # pending | approved | applied | rejected
    Column("decided_by", String(32)),
    Column("decision_note", String(200)),
    Column("order_id", BigInteger),
    Column("idempotency_key", String(128), unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True)),
    Index("ix_adjustments_status_created", "status", "created_at"),
    Index("ix_adjustments_agent_created", "agent", "created_at"),
)

# ---------------------------------------------------------------- identity: codes, flow sessions (migration 0009)

# One-time codes (services/identity.py): the live code per number and purpose, salted and hashed, never in clear.
otp_codes = Table(
    "otp_codes", metadata,
    Column("msisdn", String(11), primary_key=True),
    Column("purpose", String(16), primary_key=True),
    Column("digest", String(120), nullable=False),      # salt$hmac-sha256(salt, number:purpose:code)
    Column("client", String(64)),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# Every code sent, for the limits per number and per client address (rolling hour, calendar day); purged after days.
otp_sends = Table(
    "otp_sends", metadata,
    Column("id", Id, primary_key=True),
    Column("msisdn", String(11), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("client", String(64)),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Index("ix_otp_sends_msisdn_sent_at", "msisdn", "sent_at"),
    Index("ix_otp_sends_client_sent_at", "client", "sent_at"),
)

# One row per number (and per client address): the row every send and check locks first, and the day's wrong
# guesses across codes (the guess budget).
otp_counters = Table(
    "otp_counters", metadata,
    Column("scope", String(8), primary_key=True),       # number | client
    Column("subject", String(64), primary_key=True),
    Column("day", Date),
    Column("wrong", SmallInteger, nullable=False, default=0),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# ---------------------------------------------------------------- desk scope (migration 0010)

# A verification belongs to one contact: made by one agent for the contact's number, valid nowhere else.
# Also the one-time code pending in that contact (only its salted digest).
desk_contact_checks = Table(
    "desk_contact_checks", metadata,
    Column("id", Id, primary_key=True),
    Column("contact_id", String(64), nullable=False),
    Column("agent", String(32), nullable=False),
    Column("msisdn", String(11), nullable=False),
    Column("method", String(16)),                       # conversation | password | otp
    Column("verified_until", DateTime(timezone=True)),
    Column("otp_digest", String(96)),
    Column("otp_until", DateTime(timezone=True)),
    Column("otp_tries", SmallInteger, nullable=False, default=0),
    Column("otp_sent_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("contact_id", "agent", "msisdn"),
)

# Desk login attempts per login ("login:<login>") and per client address ("addr:<ip>"): an attempt is
# counted before its password is checked, so concurrent guesses cannot pass the limit.
desk_login_attempts = Table(
    "desk_login_attempts", metadata,
    Column("key", String(80), primary_key=True),
    Column("failures", SmallInteger, nullable=False, default=0),   # wrong ones, plus the ones in flight
    Column("locked_until", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# ---------------------------------------------------------------- outbox, tickets (migration 0011)

# The Outbox's delivery state on sms_outbox (hotline/services/outbox.py): secrets are redacted once sent,
# failures retried with backoff (next_attempt_at is also a claim's lease), everything purged after retention.
for _column in (Column("secret", Boolean, nullable=False, default=False),
                Column("redacted", Boolean, nullable=False, default=False),
                Column("attempts", SmallInteger, nullable=False, default=0),
                Column("next_attempt_at", DateTime(timezone=True)),
                Column("sent_at", DateTime(timezone=True)),
                Column("error", String(200))):
    sms_outbox.append_column(_column)
Index("ix_sms_outbox_status_next_attempt_at", sms_outbox.c.status, sms_outbox.c.next_attempt_at)
Index("ix_sms_outbox_created_at", sms_outbox.c.created_at)

# The embedded demo's phone: what a message's recipient would read, codes included. Written only when no
# SMS gateway is configured (never in production); `hotline outbox` prints it.
demo_inbox = Table(
    "demo_inbox", metadata,
    Column("id", Id, primary_key=True),
    Column("outbox_id", BigInteger, nullable=False),
    Column("msisdn", String(11), nullable=False),
    Column("sender", String(21), nullable=False),
    Column("text", Text, nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=False),
    Index("ix_demo_inbox_msisdn_id", "msisdn", "id"),
    Index("ix_demo_inbox_delivered_at", "delivered_at"),
)

# One ticket store (hotline/care/tickets.py) for every channel: where a ticket was filed and by which business.
# Complaints and faults once filed in service_requests are moved here (their references keep resolving).
for _column in (Column("channel", String(16), nullable=False, default="desk"),
                Column("business", String(64))):
    tickets.append_column(_column)

# A ticket's follow-up trail: more detail from the customer, an agent's notes.
ticket_notes = Table(
    "ticket_notes", metadata,
    Column("id", Id, primary_key=True),
    Column("ticket_id", BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("text", Text, nullable=False),
    Column("author", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_ticket_notes_ticket_id", "ticket_id"),
)

# ---------------------------------------------------------------- bounds, idempotency (migration 0012)

# What an order's idempotency key was first used for: SHA-256 of the operation, the number and the parameters
# (hotline/bss/records.py request_hash). The same key with another request is refused, never replayed.
orders.append_column(Column("request_hash", String(64)))

# The SMS hall's per-number rate, counted atomically (one upsert per message): the window opens with the
# first message after the previous one ended; rows of ended windows are purged.
sms_rate = Table(
    "sms_rate", metadata,
    Column("msisdn", String(11), primary_key=True),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("messages", Integer, nullable=False),
    Index("ix_sms_rate_window_start", "window_start"),
)
