// @ts-check

/**
 * User secrets get the id of the key that encrypted them, and the key the
 * first version kept in this database (`pcp_keys`) is dropped: keys come from
 * config, the environment or a KMS only.
 *
 * Existing rows (no key id, no associated data) are re-encrypted with the
 * configured key and bound to their (user, agent, name). That needs the
 * configured key, which the plugin passes as knex `userParams.upgradeUserSecret`
 * (see `UserSecretService.migrationParams`). A row neither the configured
 * legacy key nor the stored key opens keeps its ciphertext with key id
 * `unreadable-legacy`; using it is refused until its owner stores it again.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('pcp_user_secrets', table => {
    table.string('key_id', 64).nullable();
  });
  const rows = await knex('pcp_user_secrets').select(
    'id',
    'user_ref',
    'agent_ref',
    'name',
    'ciphertext',
  );
  if (rows.length) {
    const upgrade = knex.userParams?.upgradeUserSecret;
    if (typeof upgrade !== 'function') {
      throw new Error(
        'pcp_user_secrets has rows to re-encrypt; run this migration through the product control plane (or its rotate-user-secret-key command), which provides the configured key',
      );
    }
    const stored = await knex('pcp_keys').where('id', 'user-secrets').first();
    for (const row of rows) {
      const sealed = await upgrade({
        ciphertext: row.ciphertext,
        storedKey: stored?.value,
        userRef: row.user_ref,
        agentRef: row.agent_ref,
        name: row.name,
      });
      await knex('pcp_user_secrets')
        .where('id', row.id)
        .update(
          sealed
            ? { ciphertext: sealed.ciphertext, key_id: sealed.keyId }
            : { key_id: 'unreadable-legacy' },
        );
    }
  }
  await knex.schema.dropTable('pcp_keys');
};

/**
 * Only an empty table can go back: the rows are bound to keys the first
 * version cannot read.
 *
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  const [{ count }] = await knex('pcp_user_secrets').count({ count: '*' });
  if (Number(count) > 0) {
    throw new Error(
      'pcp_user_secrets is not empty; its rows cannot be downgraded to a key kept in the database',
    );
  }
  await knex.schema.createTable('pcp_keys', table => {
    table.string('id', 64).primary();
    table.text('value').notNullable();
  });
  await knex.schema.alterTable('pcp_user_secrets', table => {
    table.dropColumn('key_id');
  });
};
