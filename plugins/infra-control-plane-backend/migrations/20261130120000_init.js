// @ts-check

/**
 * Executions, their logs and the updates still to be delivered to the
 * product control plane.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('infra_executions', table => {
    table.string('execution_id', 255).primary();
    table.integer('attempt').notNullable();
    table.string('agent_ref', 255).notNullable();
    table.string('agent_version', 255).notNullable();
    table.string('executor', 32).notNullable();
    table.string('cluster', 255).nullable();
    table.string('job_name', 63).nullable();
    table.string('state', 32).notNullable();
    table.text('plan_json').notNullable();
    table.boolean('dispatched').notNullable().defaultTo(false);
    table.boolean('cancel_requested').notNullable().defaultTo(false);
    table.string('exit_reason', 64).nullable();
    table.integer('exit_code').nullable();
    table.text('message').nullable();
    table.text('result_json').nullable();
    table.integer('log_bytes').notNullable().defaultTo(0);
    table.integer('log_seq').notNullable().defaultTo(0);
    table.boolean('log_truncated').notNullable().defaultTo(false);
    table.string('created_at', 32).notNullable();
    table.string('started_at', 32).nullable();
    table.string('finished_at', 32).nullable();
    table.float('compute_seconds').nullable();
    table.index(['state'], 'infra_executions_state_idx');
    table.index(['agent_ref'], 'infra_executions_agent_idx');
  });
  await knex.schema.createTable('infra_execution_logs', table => {
    table.bigIncrements('id').primary();
    table.string('execution_id', 255).notNullable();
    table.integer('seq').notNullable();
    table.string('ts', 32).notNullable();
    table.string('level', 16).notNullable();
    table.text('message').notNullable();
    table.unique(['execution_id', 'seq'], {
      indexName: 'infra_execution_logs_seq_idx',
    });
  });
  await knex.schema.createTable('infra_pending_updates', table => {
    table.bigIncrements('id').primary();
    table.string('execution_id', 255).notNullable();
    table.text('update_json').notNullable();
    table.integer('attempts').notNullable().defaultTo(0);
    table.bigInteger('next_attempt_at').notNullable().defaultTo(0);
    table.text('last_error').nullable();
    table.index(['execution_id'], 'infra_pending_updates_execution_idx');
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('infra_pending_updates');
  await knex.schema.dropTable('infra_execution_logs');
  await knex.schema.dropTable('infra_executions');
};
