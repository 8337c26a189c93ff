import {
  AuthService,
  BackstageCredentials,
  LoggerService,
} from '@backstage/backend-plugin-api';
import { Knex } from 'knex';
import { SecretBinding, SecretCipher } from './SecretCipher';

const TABLE = 'pcp_run_access_tokens';

/** What a run's catalog access is bound to. */
export interface RunAccessSubject {
  id: string;
  userRef: string;
  agentRef: string;
}

function bindingOf(run: RunAccessSubject): SecretBinding {
  return {
    userRef: run.userRef,
    agentRef: run.agentRef,
    name: `run-catalog-token/${run.id}`,
  };
}

/** The `exp` of a JWT, as an ISO time; an hour from now when it has none. */
function expiryOf(token: string): string {
  try {
    const payload = JSON.parse(
      Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'),
    );
    if (typeof payload.exp === 'number') {
      return new Date(payload.exp * 1000).toISOString();
    }
  } catch {
    // not a JWT: fall through
  }
  return new Date(Date.now() + 3600_000).toISOString();
}

/**
 * The catalog access of a run granted the `catalog` tool, bound to the user
 * who requested it: at admission the requester's own catalog token (what
 * `auth.getPluginRequestToken` gives on their behalf) is sealed with the
 * user-secret keys, bound to the run, and kept only until the run ends. The
 * infra control plane's catalog route adds it to the agent's (read-only)
 * requests, so an agent reads exactly what its requester may read, and
 * nothing once the run is over. The token never reaches the agent.
 */
export class RunCatalogAccess {
  constructor(
    private readonly o: {
      knex: Knex;
      auth: AuthService;
      cipher: SecretCipher;
      logger: LoggerService;
    },
  ) {}

  /** Seals the requester's catalog token for the run. */
  async grant(
    run: RunAccessSubject,
    credentials: BackstageCredentials,
  ): Promise<void> {
    const { token } = await this.o.auth.getPluginRequestToken({
      onBehalfOf: credentials,
      targetPluginId: 'catalog',
    });
    const sealed = await this.o.cipher.encrypt(token, bindingOf(run));
    await this.o
      .knex(TABLE)
      .insert({
        execution_id: run.id,
        ciphertext: sealed.ciphertext,
        key_id: sealed.keyId,
        expires_at: expiryOf(token),
      })
      .onConflict('execution_id')
      .merge();
  }

  /** The run's token while it is kept and not expired; undefined otherwise. */
  async tokenFor(
    run: RunAccessSubject,
  ): Promise<{ token: string; expiresAt: string } | undefined> {
    const row = await this.o
      .knex(TABLE)
      .where({ execution_id: run.id })
      .first();
    if (!row || Date.parse(row.expires_at) <= Date.now()) return undefined;
    const token = await this.o.cipher.decrypt(
      { ciphertext: row.ciphertext, keyId: row.key_id },
      bindingOf(run),
    );
    return { token, expiresAt: row.expires_at };
  }

  /** Forgets the run's token (its terminal state). */
  async revoke(executionId: string): Promise<void> {
    await this.o.knex(TABLE).where({ execution_id: executionId }).delete();
  }
}
