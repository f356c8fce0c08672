"""alarm events keep shelved and flap_count; commands indexed by updated_at

An alarm event is stored with every field it is published with (``AlarmEvent``), so the
edge's ``history`` ``events`` answer (a backfill from the centre) is the change its bridge
published. Rows written before have none (read as false and 0). The commands' ``updated_at``
index serves the same answer for command changes (the commands last changed in a range).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 20:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alarm_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shelved", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("flap_count", sa.Integer(), nullable=True))
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commands_updated_at"), ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commands_updated_at"))
    with op.batch_alter_table("alarm_events", schema=None) as batch_op:
        batch_op.drop_column("flap_count")
        batch_op.drop_column("shelved")
