"""load forecasts

One row per meter, issue time and hour ahead, with the hour's actual energy
once it is known (openbms.service.forecasts).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 12:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forecasts",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("meter", sa.String(length=200), nullable=False),
        sa.Column("issued_at", sa.Float(precision=53), nullable=False),
        sa.Column("start", sa.Float(precision=53), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("kwh", sa.Float(), nullable=False),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("actual_kwh", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("site_id", "meter", "issued_at", "start", name=op.f("pk_forecasts")),
    )
    with op.batch_alter_table("forecasts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_forecasts_site_id_meter_start"), ["site_id", "meter", "start"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("forecasts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_forecasts_site_id_meter_start"))
    op.drop_table("forecasts")
