"""bookings imported from the booking system, with their attribution to campaign emails, and
a partial index of the events attribution reads (clicks and human opens)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

import pipeline.store.types

# Written out here (not imported) so the migration stays as it was when later code changes.
TOUCH_EVENTS_SQLITE = "event = 'click' OR (event = 'open' AND machine_open = 0)"
TOUCH_EVENTS_POSTGRESQL = "event = 'click' OR (event = 'open' AND machine_open = false)"

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = pipeline.store.types.UtcDateTime(timezone=True)
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_key", sa.String(length=400), nullable=False),
        sa.Column("appointment_id", sa.String(length=200), nullable=True),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", utc, nullable=False),
        sa.Column("booked_at", utc, nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("value_cents", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("new_client", sa.Boolean(), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("attributed_send_id", sa.Integer(), nullable=True),
        sa.Column("attributed_campaign_id", sa.Integer(), nullable=True),
        sa.Column("attributed_variant_id", sa.Integer(), nullable=True),
        sa.Column("attribution", sa.String(length=40), nullable=True),
        sa.Column("imported_at", utc, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_bookings_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["attributed_send_id"],
            ["sends.id"],
            name=op.f("fk_bookings_attributed_send_id_sends"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["attributed_campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_bookings_attributed_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["attributed_variant_id"],
            ["variants.id"],
            name=op.f("fk_bookings_attributed_variant_id_variants"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint("booking_key", name=op.f("uq_bookings_booking_key")),
    )
    op.create_index("ix_bookings_contact_id", "bookings", ["contact_id"])
    op.create_index("ix_bookings_email_key_starts_at", "bookings", ["email_key", "starts_at"])
    op.create_index("ix_bookings_attributed_campaign_id", "bookings", ["attributed_campaign_id"])
    op.create_index(
        "ix_events_touches",
        "events",
        ["send_id", "event", "occurred_at"],
        sqlite_where=sa.text(TOUCH_EVENTS_SQLITE),
        postgresql_where=sa.text(TOUCH_EVENTS_POSTGRESQL),
    )


def downgrade() -> None:
    op.drop_index("ix_events_touches", table_name="events")
    op.drop_table("bookings")
