"""The canonical store: every table of interface.md plus the shared-etiquette tables.

Revision ID: 0001
Revises: 
Create Date: 2026-11-22
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agency_links',
    sa.Column('adminmail', sa.Text(), nullable=False, comment='Autocosmos agency administrator e-mail'),
    sa.Column('dealer_id', sa.Text(), nullable=True),
    sa.Column('agency_name', sa.Text(), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raw', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('adminmail', name=op.f('pk_agency_links'))
    )
    op.create_table('api_blocks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('vendor', sa.Text(), nullable=False),
    sa.Column('service', sa.Text(), nullable=True, comment='null: every service for that dealer'),
    sa.Column('dealer_id', sa.Text(), nullable=True, comment='null: the whole vendor'),
    sa.Column('reason', sa.Text(), nullable=False, comment='403A, 403B, 400, ...'),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('action', sa.Text(), nullable=True, comment='what a person should do'),
    sa.Column('method', sa.Text(), nullable=True),
    sa.Column('path', sa.Text(), nullable=True),
    sa.Column('cf_ray', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_blocks'))
    )
    with op.batch_alter_table('api_blocks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_blocks_vendor_dealer_id_resolved_at'), ['vendor', 'dealer_id', 'resolved_at'], unique=False)

    op.create_table('api_calls',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('vendor', sa.Text(), nullable=False),
    sa.Column('service', sa.Text(), nullable=True),
    sa.Column('method', sa.Text(), nullable=False),
    sa.Column('path', sa.Text(), nullable=False, comment='path and query, secrets removed'),
    sa.Column('status', sa.Integer(), nullable=True, comment='null when no response arrived'),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('cf_ray', sa.Text(), nullable=True),
    sa.Column('dealer_id', sa.Text(), nullable=True),
    sa.Column('attempt', sa.Integer(), server_default='1', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('run_id', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_calls'))
    )
    with op.batch_alter_table('api_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_calls_dealer_id_ts'), ['dealer_id', 'ts'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_calls_vendor_ts'), ['vendor', 'ts'], unique=False)

    op.create_table('api_pauses',
    sa.Column('scope', sa.Text(), nullable=False, comment='vendor, or vendor/service'),
    sa.Column('vendor', sa.Text(), nullable=False),
    sa.Column('paused_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('cf_ray', sa.Text(), nullable=True),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope', name=op.f('pk_api_pauses'))
    )
    op.create_table('api_tokens',
    sa.Column('token_key', sa.Text(), nullable=False, comment='vendor + hash of (base URL, client, user)'),
    sa.Column('vendor', sa.Text(), nullable=False),
    sa.Column('ciphertext', sa.Text(), nullable=True, comment='token encrypted with a key derived from the vendor secret'),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('obtained_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.Text(), nullable=True, comment='the process refreshing it now'),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('invalidated_at', sa.DateTime(timezone=True), nullable=True, comment='set on a 401: stop using it'),
    sa.PrimaryKeyConstraint('token_key', name=op.f('pk_api_tokens'))
    )
    op.create_table('catalog_matches',
    sa.Column('spec_key', sa.Text(), nullable=False, comment='hash of the normalised request parameters'),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('make_href', sa.Text(), nullable=True),
    sa.Column('model_href', sa.Text(), nullable=True),
    sa.Column('version_href', sa.Text(), nullable=True),
    sa.Column('fuel_type', sa.Text(), nullable=True),
    sa.Column('transmission', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False, comment='matched, ranked, unresolved'),
    sa.Column('confidence', sa.Numeric(precision=4, scale=3), nullable=True),
    sa.Column('candidates', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('response', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('spec_key', name=op.f('pk_catalog_matches'))
    )
    with op.batch_alter_table('catalog_matches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_matches_status'), ['status'], unique=False)

    op.create_table('dealers',
    sa.Column('dealer_id', sa.Text(), nullable=False, comment='<source>:<source dealer id>'),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('source_dealer_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False, comment='active, left_integration, ...'),
    sa.Column('segment', sa.Text(), nullable=True),
    sa.Column('postcode', sa.Text(), nullable=True),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=True, comment='vendor time of the last applied record'),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raw', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True, comment='the vendor record as received'),
    sa.PrimaryKeyConstraint('dealer_id', name=op.f('pk_dealers')),
    sa.UniqueConstraint('source', 'source_dealer_id', name=op.f('uq_dealers_source_source_dealer_id'))
    )
    with op.batch_alter_table('dealers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dealers_status'), ['status'], unique=False)

    op.create_table('leads',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.Text(), nullable=False, comment='webmotors, autocosmos'),
    sa.Column('lead_key', sa.Text(), nullable=False),
    sa.Column('dealer_id', sa.Text(), nullable=True),
    sa.Column('vehicle_id', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('forwarded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('forward_status', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leads')),
    sa.UniqueConstraint('source', 'lead_key', name=op.f('uq_leads_source_lead_key'))
    )
    op.create_table('publications',
    sa.Column('target', sa.Text(), nullable=False, comment='autocosmos, autochat'),
    sa.Column('vehicle_id', sa.Text(), nullable=False),
    sa.Column('dealer_id', sa.Text(), nullable=False),
    sa.Column('account_id', sa.Text(), nullable=True, comment='Autocosmos adminmail or Autochat dealershipId'),
    sa.Column('external_id', sa.Text(), nullable=False, comment='stable; never changed'),
    sa.Column('state', sa.Text(), nullable=False, comment='active, suspended, archived, deleted, error'),
    sa.Column('payload_hash', sa.Text(), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('last_op', sa.Text(), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('flags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True, comment='dropped photos, unknown options, ...'),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('target', 'vehicle_id', name=op.f('pk_publications')),
    sa.UniqueConstraint('target', 'account_id', 'external_id', name=op.f('uq_publications_target_account_id_external_id'))
    )
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publications_dealer_id_state'), ['dealer_id', 'state'], unique=False)

    op.create_table('quality_findings',
    sa.Column('vehicle_id', sa.Text(), nullable=False),
    sa.Column('check_name', sa.Text(), nullable=False),
    sa.Column('dealer_id', sa.Text(), nullable=False),
    sa.Column('severity', sa.Text(), nullable=False, comment='blocking or warning'),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('vehicle_id', 'check_name', name=op.f('pk_quality_findings'))
    )
    with op.batch_alter_table('quality_findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quality_findings_dealer_id_severity'), ['dealer_id', 'severity'], unique=False)

    op.create_table('stock_enrichments',
    sa.Column('vehicle_id', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False, comment='features, charge_times'),
    sa.Column('derivative_id', sa.Text(), nullable=True, comment='derivativeId when fetched'),
    sa.Column('features_hash', sa.Text(), nullable=True, comment="hash of the record's features when fetched"),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('vehicle_id', 'kind', name=op.f('pk_stock_enrichments'))
    )
    op.create_table('sync_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('dealer_id', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False, comment='baseline, advertisers, ...'),
    sa.Column('run_id', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('complete', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=True),
    sa.Column('records', sa.Integer(), nullable=True),
    sa.Column('created', sa.Integer(), nullable=True),
    sa.Column('updated', sa.Integer(), nullable=True),
    sa.Column('removed', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_runs'))
    )
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_runs_dealer_id_kind_started_at'), ['dealer_id', 'kind', 'started_at'], unique=False)

    op.create_table('vehicle_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('vehicle_id', sa.Text(), nullable=False),
    sa.Column('field', sa.Text(), nullable=False),
    sa.Column('old_value', sa.Text(), nullable=True, comment='JSON text of the previous value'),
    sa.Column('new_value', sa.Text(), nullable=True, comment='JSON text of the new value'),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cause', sa.Text(), nullable=False, comment='baseline, notification, ...'),
    sa.Column('source_version', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vehicle_changes'))
    )
    with op.batch_alter_table('vehicle_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vehicle_changes_field_changed_at'), ['field', 'changed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_vehicle_changes_vehicle_id_changed_at'), ['vehicle_id', 'changed_at'], unique=False)

    op.create_table('vehicles',
    sa.Column('vehicle_id', sa.Text(), nullable=False, comment='<source>:<source vehicle id>'),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('source_vehicle_id', sa.Text(), nullable=False),
    sa.Column('dealer_id', sa.Text(), nullable=False),
    sa.Column('search_id', sa.Text(), nullable=True),
    sa.Column('external_stock_id', sa.Text(), nullable=True),
    sa.Column('external_stock_reference', sa.Text(), nullable=True),
    sa.Column('vin', sa.Text(), nullable=True),
    sa.Column('registration', sa.Text(), nullable=True),
    sa.Column('make', sa.Text(), nullable=True),
    sa.Column('model', sa.Text(), nullable=True),
    sa.Column('trim', sa.Text(), nullable=True),
    sa.Column('derivative', sa.Text(), nullable=True),
    sa.Column('derivative_id', sa.Text(), nullable=True),
    sa.Column('vehicle_type', sa.Text(), nullable=True),
    sa.Column('condition', sa.Text(), nullable=True, comment='new or used'),
    sa.Column('body_type', sa.Text(), nullable=True),
    sa.Column('fuel_type', sa.Text(), nullable=True, comment='canonical: petrol, diesel, electric, hybrid, plugin_hybrid, ...'),
    sa.Column('source_fuel_type', sa.Text(), nullable=True, comment="the vendor's fuel value, kept when mapped to other"),
    sa.Column('transmission', sa.Text(), nullable=True, comment='canonical: manual, automatic, other'),
    sa.Column('source_transmission', sa.Text(), nullable=True),
    sa.Column('doors', sa.Integer(), nullable=True),
    sa.Column('seats', sa.Integer(), nullable=True),
    sa.Column('engine_cc', sa.Integer(), nullable=True),
    sa.Column('power_kw', sa.Numeric(precision=7, scale=1), nullable=True),
    sa.Column('co2_g_km', sa.Integer(), nullable=True),
    sa.Column('colour', sa.Text(), nullable=True),
    sa.Column('model_year', sa.Integer(), nullable=True),
    sa.Column('manufacture_year', sa.Integer(), nullable=True),
    sa.Column('first_registration_date', sa.Date(), nullable=True),
    sa.Column('mileage_km', sa.Integer(), nullable=True),
    sa.Column('price_amount', sa.Numeric(precision=14, scale=2), nullable=True, comment='total price the buyer pays'),
    sa.Column('price_currency', sa.String(length=3), nullable=True),
    sa.Column('supplied_price_amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('admin_fee_amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('vat_status', sa.Text(), nullable=True),
    sa.Column('price_indicator_rating', sa.Text(), nullable=True),
    sa.Column('lifecycle_state', sa.Text(), nullable=True, comment="the vendor's state"),
    sa.Column('reservation_status', sa.Text(), nullable=True),
    sa.Column('availability', sa.Text(), nullable=False, comment='available, reserved, sold, removed'),
    sa.Column('shown_on_dealer_site', sa.Boolean(), nullable=True),
    sa.Column('attention_grabber', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('description2', sa.Text(), nullable=True),
    sa.Column('images', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True, comment='list of image URLs'),
    sa.Column('video_url', sa.Text(), nullable=True),
    sa.Column('spin_url', sa.Text(), nullable=True),
    sa.Column('features', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('highlights', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('source_version', sa.BigInteger(), nullable=True, comment='Autotrader versionNumber; older never overwrites newer'),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seen_in_baseline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raw', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True, comment='the vendor record as received'),
    sa.PrimaryKeyConstraint('vehicle_id', name=op.f('pk_vehicles')),
    sa.UniqueConstraint('source', 'source_vehicle_id', name=op.f('uq_vehicles_source_source_vehicle_id'))
    )
    with op.batch_alter_table('vehicles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vehicles_dealer_id_availability'), ['dealer_id', 'availability'], unique=False)
        batch_op.create_index(batch_op.f('ix_vehicles_updated_at'), ['updated_at'], unique=False)

    op.create_table('webhook_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.Text(), nullable=False, comment='autotrader, autocosmos, webmotors'),
    sa.Column('event_key', sa.Text(), nullable=False, comment='unique per source: dedupes redeliveries'),
    sa.Column('event_type', sa.Text(), nullable=True),
    sa.Column('subject_id', sa.Text(), nullable=True, comment='stockId, advertiserId, adminmail, lead id'),
    sa.Column('subject_version', sa.BigInteger(), nullable=True),
    sa.Column('dealer_id', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('headers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('body', sa.Text(), nullable=True, comment='the raw body as received (UTF-8)'),
    sa.Column('status', sa.Text(), nullable=False, comment='pending, applied, ignored, failed'),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events')),
    sa.UniqueConstraint('source', 'event_key', name=op.f('uq_webhook_events_source_event_key'))
    )
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_events_status_id'), ['status', 'id'], unique=False)

    op.create_table('webhook_rejections',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('remote_addr', sa.Text(), nullable=True),
    sa.Column('headers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('body', sa.Text(), nullable=True, comment='null when the body was over the size cap'),
    sa.Column('body_bytes', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_rejections'))
    )
    with op.batch_alter_table('webhook_rejections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_rejections_received_at'), ['received_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('webhook_rejections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_rejections_received_at'))

    op.drop_table('webhook_rejections')
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_events_status_id'))

    op.drop_table('webhook_events')
    with op.batch_alter_table('vehicles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vehicles_updated_at'))
        batch_op.drop_index(batch_op.f('ix_vehicles_dealer_id_availability'))

    op.drop_table('vehicles')
    with op.batch_alter_table('vehicle_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vehicle_changes_vehicle_id_changed_at'))
        batch_op.drop_index(batch_op.f('ix_vehicle_changes_field_changed_at'))

    op.drop_table('vehicle_changes')
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_runs_dealer_id_kind_started_at'))

    op.drop_table('sync_runs')
    op.drop_table('stock_enrichments')
    with op.batch_alter_table('quality_findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quality_findings_dealer_id_severity'))

    op.drop_table('quality_findings')
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_publications_dealer_id_state'))

    op.drop_table('publications')
    op.drop_table('leads')
    with op.batch_alter_table('dealers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dealers_status'))

    op.drop_table('dealers')
    with op.batch_alter_table('catalog_matches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_matches_status'))

    op.drop_table('catalog_matches')
    op.drop_table('api_tokens')
    op.drop_table('api_pauses')
    with op.batch_alter_table('api_calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_calls_vendor_ts'))
        batch_op.drop_index(batch_op.f('ix_api_calls_dealer_id_ts'))

    op.drop_table('api_calls')
    with op.batch_alter_table('api_blocks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_blocks_vendor_dealer_id_resolved_at'))

    op.drop_table('api_blocks')
    op.drop_table('agency_links')
