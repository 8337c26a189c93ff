import crypto from 'node:crypto';
import { LoggerService } from '@backstage/backend-plugin-api';
import { UserSecretRow, UserSecretStore } from '../database/UserSecretStore';
import {
  SecretBinding,
  SecretCipher,
  UserSecretUnreadableError,
} from './SecretCipher';

/** What one rotation did. */
export interface RotationSummary {
  /** The key every readable row is now encrypted with. */
  keyId: string;
  reencrypted: number;
  /** Rows no configured key opens (their ids; store them again to fix). */
  unreadable: string[];
}

/**
 * User-provided secrets: encrypted on write, bound to their user, agent and
 * name, decrypted only for a run, re-encrypted by the rotation command.
 */
export class UserSecretService {
  constructor(
    private readonly store: UserSecretStore,
    private readonly cipher: SecretCipher,
    private readonly logger: LoggerService,
  ) {}

  async put(binding: SecretBinding, value: string): Promise<void> {
    const sealed = await this.cipher.encrypt(value, binding);
    await this.store.put({ id: crypto.randomUUID(), ...binding, ...sealed });
  }

  async delete(binding: SecretBinding): Promise<boolean> {
    return this.store.delete(binding.userRef, binding.agentRef, binding.name);
  }

  /** Names (never values) of a user's secrets for an agent. */
  async list(userRef: string, agentRef: string) {
    const rows = await this.store.list(userRef, agentRef);
    return rows.map(r => ({ id: r.id, name: r.name, updatedAt: r.updatedAt }));
  }

  /**
   * The user's secrets for an agent that a run would get, checked to decrypt
   * first: one that does not is refused (409 naming it) before the run is
   * admitted, not discovered by the runtime.
   */
  async listUsable(userRef: string, agentRef: string, names: string[]) {
    const rows = (await this.store.list(userRef, agentRef)).filter(r =>
      names.includes(r.name),
    );
    for (const row of rows) await this.open(row);
    return rows.map(r => ({ id: r.id, name: r.name, updatedAt: r.updatedAt }));
  }

  /** The value of the secret with this id, for the infra plane. */
  async reveal(
    id: string,
  ): Promise<{ name: string; value: string } | undefined> {
    const row = await this.store.get(id);
    return row ? { name: row.name, value: await this.open(row) } : undefined;
  }

  private async open(row: UserSecretRow): Promise<string> {
    try {
      return await this.cipher.decrypt(row, row);
    } catch (error) {
      if (error instanceof UserSecretUnreadableError) {
        this.logger.warn('User secret cannot be decrypted', {
          secretId: row.id,
          agentRef: row.agentRef,
          name: row.name,
          userRef: row.userRef,
          keyId: row.keyId,
        });
      }
      throw error;
    }
  }

  /**
   * Re-encrypts every row not made with the current key. Rows are read and
   * replaced one by one, each only if unchanged since it was read.
   */
  async rotate(): Promise<RotationSummary> {
    const keyId = await this.cipher.currentKeyId();
    const summary: RotationSummary = { keyId, reencrypted: 0, unreadable: [] };
    let after = '';
    for (;;) {
      const rows = await this.store.listNotUsingKey(keyId, after, 100);
      if (!rows.length) break;
      for (const row of rows) {
        after = row.id;
        let plain: string;
        try {
          plain = await this.cipher.decrypt(row, row);
        } catch {
          summary.unreadable.push(row.id);
          continue;
        }
        const sealed = await this.cipher.encrypt(plain, row);
        if (await this.store.replaceCiphertext(row, sealed)) {
          summary.reencrypted += 1;
        }
      }
    }
    this.logger.info('User secrets re-encrypted', {
      keyId,
      reencrypted: summary.reencrypted,
      unreadable: summary.unreadable.length,
    });
    return summary;
  }

  /**
   * What the key-id migration needs (knex `userParams`): re-encrypting a row
   * of the first version with the current key.
   */
  static migrationParams(cipher: SecretCipher) {
    return {
      upgradeUserSecret: (row: {
        ciphertext: string;
        storedKey?: string;
        userRef: string;
        agentRef: string;
        name: string;
      }) =>
        cipher.upgradeLegacy(
          row.ciphertext,
          { userRef: row.userRef, agentRef: row.agentRef, name: row.name },
          row.storedKey,
        ),
    };
  }
}
