import { Knex } from 'knex';

/** One stored user secret (its value only as ciphertext). */
export interface UserSecretRow {
  id: string;
  userRef: string;
  agentRef: string;
  name: string;
  ciphertext: string;
  keyId: string;
  updatedAt: string;
}

function toRow(r: any): UserSecretRow {
  return {
    id: r.id,
    userRef: r.user_ref,
    agentRef: r.agent_ref,
    name: r.name,
    ciphertext: r.ciphertext,
    keyId: r.key_id,
    updatedAt: r.updated_at,
  };
}

/** Knex access to `pcp_user_secrets`: AES-GCM ciphertexts with their key id. */
export class UserSecretStore {
  constructor(private readonly knex: Knex) {}

  async put(row: Omit<UserSecretRow, 'updatedAt'>): Promise<void> {
    await this.knex('pcp_user_secrets')
      .insert({
        id: row.id,
        user_ref: row.userRef,
        agent_ref: row.agentRef,
        name: row.name,
        ciphertext: row.ciphertext,
        key_id: row.keyId,
        updated_at: new Date().toISOString(),
      })
      .onConflict(['user_ref', 'agent_ref', 'name'])
      .merge(['ciphertext', 'key_id', 'updated_at']);
  }

  async delete(userRef: string, agentRef: string, name: string) {
    const n = await this.knex('pcp_user_secrets')
      .where({ user_ref: userRef, agent_ref: agentRef, name })
      .delete();
    return n > 0;
  }

  async list(userRef: string, agentRef: string): Promise<UserSecretRow[]> {
    const rows = await this.knex('pcp_user_secrets')
      .where({ user_ref: userRef, agent_ref: agentRef })
      .orderBy('name');
    return rows.map(toRow);
  }

  async get(id: string): Promise<UserSecretRow | undefined> {
    const row = await this.knex('pcp_user_secrets').where('id', id).first();
    return row ? toRow(row) : undefined;
  }

  /** Rows not made with `keyId`, `limit` at a time, in id order after `afterId`. */
  async listNotUsingKey(
    keyId: string,
    afterId: string,
    limit: number,
  ): Promise<UserSecretRow[]> {
    const rows = await this.knex('pcp_user_secrets')
      .where(q => q.whereNot('key_id', keyId).orWhereNull('key_id'))
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(limit);
    return rows.map(toRow);
  }

  /**
   * Replaces a row's ciphertext if it is still the one that was read (so a
   * concurrent PUT is never overwritten with an older value).
   */
  async replaceCiphertext(
    row: Pick<UserSecretRow, 'id' | 'ciphertext'>,
    next: { ciphertext: string; keyId: string },
  ): Promise<boolean> {
    const n = await this.knex('pcp_user_secrets')
      .where({ id: row.id, ciphertext: row.ciphertext })
      .update({ ciphertext: next.ciphertext, key_id: next.keyId });
    return n === 1;
  }
}
