"""sends and events

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import pipeline.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("variant_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("lease_owner", sa.String(length=80), nullable=True),
        sa.Column(
            "lease_expires_at", pipeline.store.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", pipeline.store.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("provider_message_id", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("queued_at", pipeline.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", pipeline.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", pipeline.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_sends_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_sends_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["variants.id"],
            name=op.f("fk_sends_variant_id_variants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sends")),
        sa.UniqueConstraint(
            "contact_id", "campaign_id", name=op.f("uq_sends_contact_id_campaign_id")
        ),
    )
    with op.batch_alter_table("sends", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sends_claim", ["campaign_id", "status", "variant_id"], unique=False
        )

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sg_event_id", sa.String(length=100), nullable=False),
        sa.Column("send_id", sa.Integer(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("variant_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=30), nullable=False),
        sa.Column("occurred_at", pipeline.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("machine_open", sa.Boolean(), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("received_at", pipeline.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_events_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["send_id"], ["sends.id"], name=op.f("fk_events_send_id_sends"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["variants.id"],
            name=op.f("fk_events_variant_id_variants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("sg_event_id", name=op.f("uq_events_sg_event_id")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_send_id", ["send_id"], unique=False)
        batch_op.create_index(
            "ix_events_clicks",
            ["campaign_id"],
            unique=False,
            sqlite_where=sa.text("event = 'click'"),
            postgresql_where=sa.text("event = 'click'"),
        )

    op.create_table(
        "send_engagements",
        sa.Column("send_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["send_id"],
            ["sends.id"],
            name=op.f("fk_send_engagements_send_id_sends"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("send_id", "kind", name=op.f("pk_send_engagements")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "event_counts",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("variant_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_event_counts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["variants.id"],
            name=op.f("fk_event_counts_variant_id_variants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "campaign_id", "variant_id", "day", "kind", "simulated", name=op.f("pk_event_counts")
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("event_counts")
    op.drop_table("send_engagements")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_clicks")
        batch_op.drop_index("ix_events_send_id")

    op.drop_table("events")
    with op.batch_alter_table("sends", schema=None) as batch_op:
        batch_op.drop_index("ix_sends_claim")

    op.drop_table("sends")
