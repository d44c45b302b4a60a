"""admin_events: the append-only trail of administration changes

Revision ID: 5c1d0e7a9b42
Revises: 80d399011357
Create Date: 2026-11-27 04:35:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '5c1d0e7a9b42'
down_revision = '80d399011357'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('admin_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=300), nullable=False),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('target', sa.String(length=100), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('admin_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_admin_events_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_admin_events_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_admin_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_admin_events_facility_id'), ['facility_id'], unique=False)
        batch_op.create_index('ix_admin_events_target', ['target'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("""
            CREATE FUNCTION admin_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'admin_events is append-only (% refused)', TG_OP;
            END $$;
            CREATE TRIGGER admin_events_append_only BEFORE UPDATE OR DELETE ON admin_events
                FOR EACH ROW EXECUTE FUNCTION admin_events_append_only();
        """)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER admin_events_append_only ON admin_events;"
                   " DROP FUNCTION admin_events_append_only();")
    with op.batch_alter_table('admin_events', schema=None) as batch_op:
        batch_op.drop_index('ix_admin_events_target')
        batch_op.drop_index(batch_op.f('ix_admin_events_facility_id'))
        batch_op.drop_index(batch_op.f('ix_admin_events_at'))
        batch_op.drop_index(batch_op.f('ix_admin_events_actor_id'))
        batch_op.drop_index(batch_op.f('ix_admin_events_action'))
    op.drop_table('admin_events')
