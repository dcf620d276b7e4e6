"""The database tables, as SQLAlchemy Core metadata. Migrations are the source of truth for the
schema a database has; these definitions must match them (a test compares the two)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from pipeline.store.types import UtcDateTime

# The events attribution looks at (clicks, and opens by a person), as each database writes the
# condition; queries repeat it word for word so that each database uses the partial index.
TOUCH_EVENTS_SQLITE = "event = 'click' OR (event = 'open' AND machine_open = 0)"
TOUCH_EVENTS_POSTGRESQL = "event = 'click' OR (event = 'open' AND machine_open = false)"

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _timestamps() -> list[Column]:
    return [
        Column("created_at", UtcDateTime(), nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
    ]


articles = Table(
    "articles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", String(200), nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("published", Date),
    Column("tags", JSON, nullable=False),
    Column("canonical_url", Text),
    Column("hero_image", Text),
    Column("hero_alt", Text),
    Column("source_path", Text),
    Column("source_kind", String(20), nullable=False),
    Column("content_hash", String(64), nullable=False),
    # The whole parsed article (blocks, calls to action, warnings) as the JSON that
    # `content parse --json` prints, so an article is rebuilt without re-reading its file.
    Column("document", JSON, nullable=False),
    Column("word_count", Integer, nullable=False),
    Column("warning_count", Integer, nullable=False, default=0),
    *_timestamps(),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False),
    # Lower-cased address: the unique key, so case never makes a second contact.
    Column("email_key", String(320), nullable=False, unique=True),
    # sha256 of email_key: what suppressions are matched on, so an erased address stays blocked.
    Column("email_hash", String(64), nullable=False, index=True),
    Column("first_name", Text, nullable=False, default=""),
    Column("last_name", Text, nullable=False, default=""),
    # Tags as ",tag1,tag2," so a tag test is a portable LIKE '%,tag,%' on SQLite and PostgreSQL.
    Column("tags", Text, nullable=False, default=","),
    Column("attributes", JSON, nullable=False),
    Column("consent_status", String(20), nullable=False, default="none"),
    Column("consent_source", Text),
    Column("consent_at", UtcDateTime()),
    Column("consent_wording", Text),
    # Preference-centre choices: topics the client wants (empty: all) and a pause.
    Column("topics", JSON, nullable=False),
    Column("paused_until", UtcDateTime()),
    *_timestamps(),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email_hash", String(64), nullable=False, index=True),
    Column("reason", String(20), nullable=False),
    Column("detail", Text),
    Column("source", String(40), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("email_hash", "reason"),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", String(200), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("origin", String(10), nullable=False),  # "file" or "web"
    Column("spec", JSON, nullable=False),
    Column("spec_hash", String(64), nullable=False),
    Column("state", String(20), nullable=False),
    Column("scheduled_for", UtcDateTime()),
    Column("approved_at", UtcDateTime()),
    Column("approved_by", Text),
    Column("started_at", UtcDateTime()),
    Column("finished_at", UtcDateTime()),
    Column("state_reason", Text),
    # Set while a campaign is paused by quiet hours or a closure date: when it resumes by itself.
    Column("resume_at", UtcDateTime()),
    *_timestamps(),
)

variants = Table(
    "variants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("segment", String(60), nullable=False),
    Column("segment_code", String(40), nullable=False),
    Column("subject", Text, nullable=False),
    Column("preheader", Text, nullable=False),
    Column("score", Float, nullable=False),
    Column("matches", JSON, nullable=False),
    Column("excerpt", JSON, nullable=False),
    # The compiled HTML and text with per-recipient tokens still in them.
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=False),
    # The placeholders standing for each per-recipient token: {"html": {...}, "text": {...}}.
    Column("tokens", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("campaign_id", "segment"),
)

sends = Table(
    "sends",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("contact_id", ForeignKey("contacts.id", ondelete="SET NULL")),
    Column("variant_id", ForeignKey("variants.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("lease_owner", String(80)),
    Column("lease_expires_at", UtcDateTime()),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime()),
    Column("provider_message_id", Text),
    Column("reason", Text),
    Column("queued_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime()),
    Column("updated_at", UtcDateTime(), nullable=False),
    # Nobody gets a campaign twice. Contact first: the same index finds a contact's sends across
    # campaigns, which the weekly cap counts for every contact of a new campaign.
    UniqueConstraint("contact_id", "campaign_id"),
    # Claims walk it in id order within a variant. SQLite would keep that order without the id
    # (its index entries end with the rowid); PostgreSQL keeps equal keys in table order.
    Index("ix_sends_claim", "campaign_id", "status", "variant_id", "id"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sg_event_id", String(100), nullable=False, unique=True),
    Column("send_id", ForeignKey("sends.id", ondelete="SET NULL")),
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE")),
    Column("variant_id", ForeignKey("variants.id", ondelete="CASCADE")),
    Column("event", String(30), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("url", Text),
    Column("reason", Text),
    Column("machine_open", Boolean, nullable=False, default=False),
    Column("simulated", Boolean, nullable=False, default=False),
    Column("received_at", UtcDateTime(), nullable=False),
    # Reconciliation and a send's history look events up by send. Metrics never scan events
    # (they read event_counts), so no index by campaign: each one would slow every insert.
    Index("ix_events_send_id", "send_id"),
    # A campaign's clicks (its top links), indexed for click rows only.
    Index(
        "ix_events_clicks",
        "campaign_id",
        sqlite_where=text("event = 'click'"),
        postgresql_where=text("event = 'click'"),
    ),
    # Attribution: a client's latest click or human open of each send, read from the index
    # alone. Partial (clicks and human opens only), so ingestion of other events pays nothing.
    Index(
        "ix_events_touches",
        "send_id",
        "event",
        "occurred_at",
        sqlite_where=text(TOUCH_EVENTS_SQLITE),
        postgresql_where=text(TOUCH_EVENTS_POSTGRESQL),
    ),
)

# One row per send and kind of engagement (delivered, opens, clicks, ...) the first time it is
# seen: the primary key makes "unique opens per send" an insert that either happens or not, so
# ingestion knows which events are firsts without counting over the events table.
send_engagements = Table(
    "send_engagements",
    metadata,
    Column("send_id", ForeignKey("sends.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(20), primary_key=True),
    # On SQLite the primary key is the table itself: one B-tree to insert into, not two.
    sqlite_with_rowid=False,
)

# Per campaign, variant and local day (the clinic's timezone), how many sends had each kind of
# engagement for the first time: what campaign metrics sum, so they cost a few hundred rows to
# read whatever the number of events. `simulated` keeps made-up events (local server) apart.
event_counts = Table(
    "event_counts",
    metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("variant_id", ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("simulated", Boolean, primary_key=True),
    Column("count", Integer, nullable=False),
    sqlite_with_rowid=False,
)

# Appointments imported from the booking system. `booking_key` is what makes an import
# idempotent: the appointment's own id when the export has one, else (email, start, service).
# A booking of an address with no contact keeps contact_id NULL (counted, never attributed).
# The attributed_* columns hold the attribution computed set-based when bookings arrive (or
# the attribution settings change: `attribution` records which model and window made them),
# so the owner's comparison reads a few thousand rows, not events.
bookings = Table(
    "bookings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("booking_key", String(400), nullable=False, unique=True),
    Column("appointment_id", String(200)),
    Column("email_key", String(320), nullable=False),
    Column("contact_id", ForeignKey("contacts.id", ondelete="SET NULL")),
    Column("starts_at", UtcDateTime(), nullable=False),
    Column("booked_at", UtcDateTime(), nullable=False),
    Column("service", Text, nullable=False, default=""),
    Column("value_cents", Integer, nullable=False, default=0),
    Column("status", String(20), nullable=False),
    Column("new_client", Boolean, nullable=False, default=False),
    Column("simulated", Boolean, nullable=False, default=False),
    Column("attributed_send_id", ForeignKey("sends.id", ondelete="SET NULL")),
    Column("attributed_campaign_id", ForeignKey("campaigns.id", ondelete="SET NULL")),
    Column("attributed_variant_id", ForeignKey("variants.id", ondelete="SET NULL")),
    Column("attribution", String(40)),
    Column("imported_at", UtcDateTime(), nullable=False),
    # Attribution looks a client's bookings up by contact; new-client flags by address.
    Index("ix_bookings_contact_id", "contact_id"),
    Index("ix_bookings_email_key_starts_at", "email_key", "starts_at"),
    Index("ix_bookings_attributed_campaign_id", "attributed_campaign_id"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("must_change_password", Boolean, nullable=False, default=False),
    Column("last_login_at", UtcDateTime()),
    *_timestamps(),
)

# Failed sign-ins per account ("account:<email>") and per address ("ip:<address>"), kept in the
# database so a restart does not reset a lockout; one row per key, counted in a sliding window.
login_throttles = Table(
    "login_throttles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(400), nullable=False, unique=True),
    Column("failures", Integer, nullable=False),
    Column("window_started_at", UtcDateTime(), nullable=False),
    Column("locked_until", UtcDateTime()),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_used_at", UtcDateTime()),
)

# One row per occurrence of a recurring (digest) campaign, whatever became of it, so "the
# articles since the previous digest" is exact and a skipped or missed occurrence is on record.
digest_runs = Table(
    "digest_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("occurrence_at", UtcDateTime(), nullable=False),
    Column("outcome", String(20), nullable=False),  # started | skipped | missed | failed
    Column("reason", Text),
    Column("articles", JSON, nullable=False),
    Column("occurrence_campaign_id", ForeignKey("campaigns.id", ondelete="SET NULL")),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("campaign_id", "occurrence_at"),
)

# Signed-in staff sessions. The cookie carries the session's id (signed); only its hash is
# stored, so reading the table does not open sessions. Deleting a row ends that session: sign-out,
# a password change and removing the user do.
staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)

# Every change of a contact's consent after it was first recorded (unsubscribes by link, by
# mailbox or by staff at the client's request, and subscribing again), with how the person asked,
# so staff can answer "when and how did they leave?". Deleted with the contact on erasure.
consent_changes = Table(
    "consent_changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("source", Text, nullable=False),
    Column("wording", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_consent_changes_contact_id", "contact_id"),
)

# APScheduler creates and owns this table in the same database; migrations leave it alone.
SCHEDULER_JOBS_TABLE = "apscheduler_jobs"
