"""scheduling: automatic resume time on campaigns, and one row per digest occurrence

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import pipeline.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("resume_at", pipeline.store.types.UtcDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "digest_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("occurrence_at", pipeline.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("articles", sa.JSON(), nullable=False),
        sa.Column("occurrence_campaign_id", sa.Integer(), nullable=True),
        sa.Column("created_at", pipeline.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_digest_runs_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["occurrence_campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_digest_runs_occurrence_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_runs")),
        sa.UniqueConstraint(
            "campaign_id", "occurrence_at", name=op.f("uq_digest_runs_campaign_id_occurrence_at")
        ),
    )


def downgrade() -> None:
    op.drop_table("digest_runs")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("resume_at")
