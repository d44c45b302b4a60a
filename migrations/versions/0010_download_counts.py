"""download_counts: certificates handed out per day, channel and kind

Revision ID: 9e4f2b7c1a05
Revises: 5c1d0e7a9b42
Create Date: 2026-11-27 04:50:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '9e4f2b7c1a05'
down_revision = '5c1d0e7a9b42'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('download_counts',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'channel', 'kind')
    )


def downgrade():
    op.drop_table('download_counts')
