"""notify: the outbox becomes the delivery log; per-program notification settings

Revision ID: 2911201fac86
Revises: 62f04773d961
Create Date: 2026-11-27 09:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '2911201fac86'
down_revision = '62f04773d961'
branch_labels = None
depends_on = None

PENDING = "status IN ('queued', 'sending')"


def upgrade():
    tz = sa.DateTime(timezone=True)
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template', sa.String(length=100), server_default='', nullable=False))
        batch_op.add_column(sa.Column('subject', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('reference', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('program_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sender', sa.String(length=40), server_default='', nullable=False))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('next_attempt_at', tz, nullable=True))
        batch_op.add_column(sa.Column('enqueued_at', tz, nullable=True))
        batch_op.add_column(sa.Column('claimed_at', tz, nullable=True))
        batch_op.add_column(sa.Column('sent_at', tz, nullable=True))
        batch_op.add_column(sa.Column('status_at', tz, nullable=True))
    # Rows from before the delivery log keep a key of their own; their status is final.
    op.execute("UPDATE outbox_messages SET idempotency_key = 'legacy:' || CAST(id AS VARCHAR), "
               "next_attempt_at = created_at, status_at = created_at")
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.alter_column('idempotency_key', existing_type=sa.String(length=300), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_outbox_messages_idempotency_key'), ['idempotency_key'])
        batch_op.create_foreign_key(batch_op.f('fk_outbox_messages_program_id_programs'), 'programs',
                                    ['program_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index('ix_outbox_messages_reference_created', ['reference', 'created_at'], unique=False)
        batch_op.create_index('ix_outbox_messages_provider_id', ['provider_id'], unique=False)
        batch_op.create_index('ix_outbox_messages_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_outbox_messages_pending', ['status', 'next_attempt_at'], unique=False,
                              postgresql_where=sa.text(PENDING), sqlite_where=sa.text(PENDING))

    op.create_table('notification_settings',
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('events', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('sender_id', sa.String(length=20), nullable=False),
    sa.Column('quiet_start', sa.Time(), nullable=True),
    sa.Column('quiet_end', sa.Time(), nullable=True),
    sa.Column('default_language', sa.String(length=10), nullable=False),
    sa.Column('updated_at', tz, nullable=False),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_notification_settings_program_id_programs'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('program_id', name=op.f('pk_notification_settings'))
    )


def downgrade():
    op.drop_table('notification_settings')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_pending', postgresql_where=sa.text(PENDING),
                            sqlite_where=sa.text(PENDING))
        batch_op.drop_index('ix_outbox_messages_created_at')
        batch_op.drop_index('ix_outbox_messages_provider_id')
        batch_op.drop_index('ix_outbox_messages_reference_created')
        batch_op.drop_constraint(batch_op.f('fk_outbox_messages_program_id_programs'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_outbox_messages_idempotency_key'), type_='unique')
        for column in ('status_at', 'sent_at', 'claimed_at', 'enqueued_at', 'next_attempt_at', 'last_error',
                       'attempts', 'sender', 'program_id', 'reference', 'idempotency_key', 'subject', 'template'):
            batch_op.drop_column(column)
