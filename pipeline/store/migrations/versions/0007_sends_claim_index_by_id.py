"""the claim index ends with the send id, so PostgreSQL walks a variant's rows in id order

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sends", schema=None) as batch_op:
        batch_op.drop_index("ix_sends_claim")
        batch_op.create_index(
            "ix_sends_claim", ["campaign_id", "status", "variant_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sends", schema=None) as batch_op:
        batch_op.drop_index("ix_sends_claim")
        batch_op.create_index(
            "ix_sends_claim", ["campaign_id", "status", "variant_id"], unique=False
        )
