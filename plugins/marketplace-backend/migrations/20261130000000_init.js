// @ts-check

/**
 * Marketplace schema: the listing index synced from the catalog, visibility
 * overrides set by owners, entitlements with their audit trail, and usage
 * records fed by the product control plane.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('listings', table => {
    table.comment('Agent entities indexed from the catalog for server-side discovery');
    table.string('agent_ref', 255).primary().comment('e.g. agent:default/summarizer');
    table.string('namespace', 255).notNullable();
    table.string('name', 255).notNullable();
    table.string('title', 255).notNullable();
    table.text('description').notNullable().defaultTo('');
    table.string('owner_ref', 255).notNullable().comment('Lower-case full group/user ref');
    table.text('tags').notNullable().defaultTo(',').comment('Delimited: ,tag1,tag2,');
    table.text('pricing_models').notNullable().defaultTo(',').comment('Delimited: ,free,per-run,');
    table.text('allowed_groups').notNullable().defaultTo(',').comment('Delimited lower-case full refs');
    table.string('catalog_visibility', 32).notNullable();
    table.string('version', 255).notNullable();
    table.text('versions').notNullable().comment('JSON array of versions seen, newest last');
    table.string('lifecycle', 64).notNullable().defaultTo('');
    table.text('search_text').notNullable().comment('Lower-case text for q=');
    table.text('entity').notNullable().comment('The Agent entity as JSON');
    table.integer('consecutive_failures').notNullable().defaultTo(0);
    table.timestamp('first_seen_at', { useTz: true }).notNullable();
    table.timestamp('synced_at', { useTz: true }).notNullable();
    table.index(['owner_ref'], 'listings_owner_idx');
    table.index(['catalog_visibility'], 'listings_visibility_idx');
    table.index(['title'], 'listings_title_idx');
    table.index(['first_seen_at'], 'listings_first_seen_idx');
  });

  await knex.schema.createTable('visibility_overrides', table => {
    table.comment('Visibility set by an owner in the portal; wins over the catalog YAML');
    table.string('agent_ref', 255).primary();
    table.string('visibility', 32).notNullable();
    table.string('changed_by', 255).notNullable();
    table.timestamp('changed_at', { useTz: true }).notNullable();
  });

  await knex.schema.createTable('entitlements', table => {
    table.comment('Who holds which plan of which agent');
    table.string('id', 64).primary();
    table.string('holder_ref', 255).notNullable();
    table.string('agent_ref', 255).notNullable();
    table.string('plan', 255).notNullable();
    table.string('status', 16).notNullable().comment('active | cancelled | revoked');
    table.timestamp('expires_at', { useTz: true }).nullable();
    table.string('created_by', 255).notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('updated_at', { useTz: true }).notNullable();
    // Set to "<holder>|<agent>" while active, NULL otherwise: the unique index
    // allows one active entitlement per holder and agent on SQLite and PostgreSQL.
    table.string('active_key', 511).nullable();
    table.unique(['active_key'], { indexName: 'entitlements_one_active_uidx' });
    table.index(['holder_ref'], 'entitlements_holder_idx');
    table.index(['agent_ref'], 'entitlements_agent_idx');
  });

  await knex.schema.createTable('entitlement_audit', table => {
    table.comment('Who changed what and when, with the before/after state');
    table.bigIncrements('id').primary();
    table.string('subject', 255).notNullable().comment('entitlement:<id> or listing:<agentRef>');
    table.string('action', 32).notNullable();
    table.string('actor_ref', 255).notNullable();
    table.text('before').nullable();
    table.text('after').nullable();
    table.timestamp('at', { useTz: true }).notNullable();
    table.index(['subject'], 'entitlement_audit_subject_idx');
  });

  await knex.schema.createTable('usage_records', table => {
    table.comment('One row per finished execution, from the product control plane');
    table.string('execution_id', 255).primary();
    table.string('agent_ref', 255).notNullable();
    table.string('agent_version', 255).nullable();
    table.string('user_ref', 255).notNullable();
    table.string('holder_ref', 255).notNullable();
    table.string('plan', 255).notNullable();
    table.string('state', 32).notNullable();
    table.timestamp('started_at', { useTz: true }).nullable();
    table.timestamp('finished_at', { useTz: true }).notNullable();
    table.float('compute_seconds').notNullable();
    table.float('cost').notNullable();
    table.index(['agent_ref', 'finished_at'], 'usage_agent_time_idx');
    table.index(['holder_ref', 'finished_at'], 'usage_holder_time_idx');
    table.index(['user_ref', 'finished_at'], 'usage_user_time_idx');
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('usage_records');
  await knex.schema.dropTable('entitlement_audit');
  await knex.schema.dropTable('entitlements');
  await knex.schema.dropTable('visibility_overrides');
  await knex.schema.dropTable('listings');
};
