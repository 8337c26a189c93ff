// @ts-check
/**
 * The requester's own catalog token of a run granted the `catalog` tool,
 * sealed (AES-GCM, bound to the execution), kept only while the run is
 * unfinished: the infra control plane's catalog route uses it so that an
 * agent reads exactly what its requester may read.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('pcp_run_access_tokens', table => {
    table.string('execution_id', 64).primary();
    table.text('ciphertext').notNullable();
    table.string('key_id', 64).notNullable();
    table.string('expires_at', 32).notNullable();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('pcp_run_access_tokens');
};
