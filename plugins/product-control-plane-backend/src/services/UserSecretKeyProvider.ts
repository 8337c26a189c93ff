import crypto from 'node:crypto';
import { Config } from '@backstage/config';

/** The environment variable that holds the user-secret key(s). */
export const USER_SECRET_KEY_ENV = 'AGENT_PLATFORM_USER_SECRET_KEY';

/** One AES-256 key and the id stored beside every ciphertext it made. */
export interface UserSecretKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

/**
 * Where the keys that encrypt user secrets come from. Never the database
 * that holds the ciphertexts: config or the environment here, a KMS in an
 * implementation of its own.
 */
export interface UserSecretKeyProvider {
  /** The key new ciphertexts are made with. */
  currentKey(): Promise<UserSecretKey>;
  /** The key with this id (current or retired), or undefined if unknown. */
  keyById(id: string): Promise<UserSecretKey | undefined>;
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

function parseKey(id: string, material: string, where: string): UserSecretKey {
  if (!KEY_ID.test(id)) {
    throw new Error(
      `${where}: key id ${JSON.stringify(
        id,
      )} must be 1-64 letters, digits, '.', '_' or '-'`,
    );
  }
  const key = Buffer.from(material, 'base64');
  if (key.length !== 32 || key.toString('base64') !== material.trim()) {
    throw new Error(
      `${where}: key ${id} must be 32 random bytes in base64 (openssl rand -base64 32)`,
    );
  }
  return { id, key };
}

/**
 * Keys from `AGENT_PLATFORM_USER_SECRET_KEY` (comma-separated
 * `<id>:<base64>`, current first) if set, else from
 * `productControlPlane.userSecrets.keys` (current first), else the
 * deprecated single `userSecrets.encryptionKey` (id `encryptionKey`). Older
 * keys stay listed until the rotation command has re-encrypted every row.
 */
export class StaticUserSecretKeyProvider implements UserSecretKeyProvider {
  static fromConfig(
    config: Config,
    env: NodeJS.ProcessEnv = process.env,
  ): StaticUserSecretKeyProvider {
    const fromEnv = env[USER_SECRET_KEY_ENV]?.trim();
    if (fromEnv) {
      return new StaticUserSecretKeyProvider(
        fromEnv.split(',').map(entry => {
          const sep = entry.indexOf(':');
          if (sep < 0) {
            throw new Error(
              `${USER_SECRET_KEY_ENV}: each entry must be <id>:<base64 key>`,
            );
          }
          return parseKey(
            entry.slice(0, sep).trim(),
            entry.slice(sep + 1).trim(),
            USER_SECRET_KEY_ENV,
          );
        }),
      );
    }
    const userSecrets = config.getOptionalConfig(
      'productControlPlane.userSecrets',
    );
    const keys = userSecrets?.getOptionalConfigArray('keys') ?? [];
    if (keys.length) {
      return new StaticUserSecretKeyProvider(
        keys.map(k =>
          parseKey(
            k.getString('id'),
            k.getString('key'),
            'productControlPlane.userSecrets.keys',
          ),
        ),
      );
    }
    const legacy = userSecrets?.getOptionalString('encryptionKey');
    if (legacy) {
      return new StaticUserSecretKeyProvider([
        { id: 'encryptionKey', key: legacyKeyFromMaterial(legacy) },
      ]);
    }
    throw new Error(
      `No key for user secrets: set ${USER_SECRET_KEY_ENV} (<id>:<base64 of 32 bytes>) or productControlPlane.userSecrets.keys; the key is never kept in the database`,
    );
  }

  private readonly keys: UserSecretKey[];

  constructor(keys: UserSecretKey[]) {
    if (!keys.length) throw new Error('At least one user-secret key is needed');
    const ids = new Set(keys.map(k => k.id));
    if (ids.size !== keys.length) {
      throw new Error('User-secret key ids must be unique');
    }
    this.keys = keys;
  }

  async currentKey(): Promise<UserSecretKey> {
    return this.keys[0];
  }

  async keyById(id: string): Promise<UserSecretKey | undefined> {
    return this.keys.find(k => k.id === id);
  }
}

/**
 * How the first version turned key material into a key: 32 bytes of base64
 * as they are, anything else hashed with SHA-256.
 */
export function legacyKeyFromMaterial(material: string): Buffer {
  const raw = Buffer.from(material, 'base64');
  return raw.length === 32
    ? raw
    : crypto.createHash('sha256').update(material).digest();
}
