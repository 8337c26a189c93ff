// @ts-check

/**
 * Execution records, their audit trail, the outbox towards the infra control
 * plane and the marketplace, the versions seen per agent, admission lock rows
 * and user-provided secrets.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('pcp_executions', table => {
    table.string('id', 64).primary();
    table.string('agent_ref', 255).notNullable();
    table.string('agent_version', 64).notNullable();
    table.string('user_ref', 255).notNullable();
    table.string('holder_ref', 255).notNullable();
    // The agent's owner when admitted: owners see all runs of their agents.
    table.string('owner_ref', 255).notNullable();
    table.string('entitlement_id', 255).notNullable();
    table.string('plan_name', 255).notNullable();
    table.text('plan_json').notNullable();
    table.string('state', 32).notNullable();
    table.string('mode', 16).notNullable();
    table.integer('attempt').notNullable().defaultTo(1);
    table.string('retry_of', 64).nullable();
    table.string('idempotency_key', 255).nullable();
    table.string('request_hash', 64).nullable();
    table.text('input_json').notNullable();
    table.text('resources_json').notNullable();
    table.text('tools_json').notNullable();
    table.text('secrets_json').notNullable();
    table.string('image', 512).notNullable();
    table.string('entrypoint', 512).notNullable();
    table.text('code_dir').nullable();
    table.text('output_schema_json').nullable();
    // UTC day (YYYY-MM-DD) the run was admitted on, for daily quotas.
    table.string('day', 10).notNullable();
    table.string('created_at', 32).notNullable();
    table.string('updated_at', 32).notNullable();
    table.string('dispatched_at', 32).nullable();
    table.string('started_at', 32).nullable();
    table.string('finished_at', 32).nullable();
    table.string('cancel_requested_at', 32).nullable();
    table.string('cancel_requested_by', 255).nullable();
    table.bigInteger('duration_ms').nullable();
    table.double('compute_seconds').nullable();
    table.double('cost').nullable();
    table.string('exit_reason', 255).nullable();
    table.integer('exit_code').nullable();
    table.text('message').nullable();
    table.text('result_json').nullable();
    table.boolean('result_truncated').notNullable().defaultTo(false);
    table.unique(['user_ref', 'idempotency_key'], {
      indexName: 'pcp_executions_idempotency_idx',
    });
    table.index(['agent_ref', 'state'], 'pcp_executions_agent_state_idx');
    table.index(['user_ref', 'state'], 'pcp_executions_user_state_idx');
    table.index(['agent_ref', 'holder_ref', 'day'], 'pcp_executions_quota_idx');
    table.index(['created_at'], 'pcp_executions_created_idx');
  });

  await knex.schema.createTable('pcp_execution_events', table => {
    table.bigIncrements('id').primary();
    table
      .string('execution_id', 64)
      .notNullable()
      .references('id')
      .inTable('pcp_executions')
      .onDelete('CASCADE');
    table.string('from_state', 32).nullable();
    table.string('to_state', 32).notNullable();
    table.string('actor', 255).notNullable();
    table.string('at', 32).notNullable();
    table.text('details_json').nullable();
    table.index(['execution_id'], 'pcp_execution_events_execution_idx');
  });

  await knex.schema.createTable('pcp_outbox', table => {
    table.bigIncrements('id').primary();
    table.string('execution_id', 64).notNullable();
    // dispatch | cancel | usage
    table.string('kind', 16).notNullable();
    table.text('payload_json').notNullable();
    table.integer('attempts').notNullable().defaultTo(0);
    table.string('next_attempt_at', 32).notNullable();
    table.string('lease_until', 32).nullable();
    table.string('delivered_at', 32).nullable();
    table.text('last_error').nullable();
    table.index(['delivered_at', 'next_attempt_at'], 'pcp_outbox_pending_idx');
    table.index(['execution_id'], 'pcp_outbox_execution_idx');
  });

  await knex.schema.createTable('pcp_agent_versions', table => {
    table.string('agent_ref', 255).notNullable();
    table.string('version', 64).notNullable();
    table.text('spec_json').notNullable();
    table.string('first_seen_at', 32).notNullable();
    table.string('last_seen_at', 32).notNullable();
    table.primary(['agent_ref', 'version']);
  });

  // One row per admission scope (agent or user); admission locks them.
  await knex.schema.createTable('pcp_admission_locks', table => {
    table.string('scope', 300).primary();
    table.bigInteger('admitted').notNullable().defaultTo(0);
  });

  await knex.schema.createTable('pcp_user_secrets', table => {
    table.string('id', 64).primary();
    table.string('user_ref', 255).notNullable();
    table.string('agent_ref', 255).notNullable();
    table.string('name', 255).notNullable();
    // AES-256-GCM: base64 of iv | tag | ciphertext. Never returned by the API.
    table.text('ciphertext').notNullable();
    table.string('updated_at', 32).notNullable();
    table.unique(['user_ref', 'agent_ref', 'name'], {
      indexName: 'pcp_user_secrets_owner_idx',
    });
  });

  await knex.schema.createTable('pcp_keys', table => {
    table.string('id', 64).primary();
    table.text('value').notNullable();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('pcp_keys');
  await knex.schema.dropTable('pcp_user_secrets');
  await knex.schema.dropTable('pcp_admission_locks');
  await knex.schema.dropTable('pcp_agent_versions');
  await knex.schema.dropTable('pcp_outbox');
  await knex.schema.dropTable('pcp_execution_events');
  await knex.schema.dropTable('pcp_executions');
};
