import crypto from 'node:crypto';
import { Config } from '@backstage/config';
import { CustomErrorBase } from '@backstage/errors';
import {
  legacyKeyFromMaterial,
  StaticUserSecretKeyProvider,
  UserSecretKeyProvider,
} from './UserSecretKeyProvider';

/** Whose secret a ciphertext is: bound into it as AES-GCM associated data. */
export interface SecretBinding {
  userRef: string;
  agentRef: string;
  name: string;
}

/** A ciphertext and the id of the key that made it. */
export interface SealedSecret {
  /** base64(iv | tag | ciphertext). */
  ciphertext: string;
  keyId: string;
}

/**
 * A stored user secret that cannot be decrypted: its key is not configured
 * any more, or the row was altered or moved to another user, agent or name
 * (HTTP 409). The message names the secret, never its value or the key.
 */
export class UserSecretUnreadableError extends CustomErrorBase {
  name = 'UserSecretUnreadableError';
  readonly statusCode = 409;
  constructor(binding: SecretBinding, reason: string) {
    super(
      `The stored secret ${binding.name} for ${binding.agentRef} cannot be decrypted (${reason}); store it again [user-secret-unreadable]`,
    );
  }
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

function associatedData(b: SecretBinding): Buffer {
  // An array, so no choice of names can make two bindings encode alike.
  return Buffer.from(
    JSON.stringify([
      'agentplatform.user-secret/v1',
      b.userRef,
      b.agentRef,
      b.name,
    ]),
  );
}

function open(key: Buffer, encoded: string, aad?: Buffer): string {
  const buf = Buffer.from(encoded, 'base64');
  if (buf.length < IV_BYTES + TAG_BYTES) throw new Error('too short');
  const decipher = crypto.createDecipheriv(
    'aes-256-gcm',
    key,
    buf.subarray(0, IV_BYTES),
  );
  if (aad) decipher.setAAD(aad);
  decipher.setAuthTag(buf.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([
    decipher.update(buf.subarray(IV_BYTES + TAG_BYTES)),
    decipher.final(),
  ]).toString('utf8');
}

/**
 * AES-256-GCM for user secrets at rest, with keys from a
 * {@link UserSecretKeyProvider} and each ciphertext bound to its
 * (user, agent, name).
 */
export class SecretCipher {
  /**
   * Keys from `AGENT_PLATFORM_USER_SECRET_KEY` or
   * `productControlPlane.userSecrets.keys`, and the deprecated
   * `encryptionKey` for rows of the first version.
   */
  static fromConfig(
    config: Config,
    env: NodeJS.ProcessEnv = process.env,
  ): SecretCipher {
    return new SecretCipher(
      StaticUserSecretKeyProvider.fromConfig(config, env),
      {
        legacyKeyMaterial: config.getOptionalString(
          'productControlPlane.userSecrets.encryptionKey',
        ),
      },
    );
  }

  constructor(
    private readonly keys: UserSecretKeyProvider,
    private readonly options: {
      /** The deprecated `userSecrets.encryptionKey`, for rows made before key ids. */
      legacyKeyMaterial?: string;
    } = {},
  ) {}

  /** The id of the key new ciphertexts are made with. */
  async currentKeyId(): Promise<string> {
    return (await this.keys.currentKey()).id;
  }

  async encrypt(plain: string, binding: SecretBinding): Promise<SealedSecret> {
    const { id, key } = await this.keys.currentKey();
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(associatedData(binding));
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return {
      ciphertext: Buffer.concat([iv, cipher.getAuthTag(), data]).toString(
        'base64',
      ),
      keyId: id,
    };
  }

  /** The plaintext, or UserSecretUnreadableError. */
  async decrypt(sealed: SealedSecret, binding: SecretBinding): Promise<string> {
    const key = await this.keys.keyById(sealed.keyId);
    if (!key) {
      throw new UserSecretUnreadableError(
        binding,
        `its key ${sealed.keyId} is not configured`,
      );
    }
    try {
      return open(key.key, sealed.ciphertext, associatedData(binding));
    } catch {
      throw new UserSecretUnreadableError(
        binding,
        'it was altered or does not belong to this user, agent and name',
      );
    }
  }

  /**
   * Re-encrypts a ciphertext of the first version (no key id, no associated
   * data) with the current key, trying the configured legacy key material
   * and then the key that version kept in the database. Undefined when
   * neither opens it.
   */
  async upgradeLegacy(
    ciphertext: string,
    binding: SecretBinding,
    storedKeyMaterial?: string,
  ): Promise<SealedSecret | undefined> {
    const candidates = [this.options.legacyKeyMaterial, storedKeyMaterial];
    for (const material of candidates) {
      if (!material) continue;
      let plain: string;
      try {
        plain = open(legacyKeyFromMaterial(material), ciphertext);
      } catch {
        continue;
      }
      return this.encrypt(plain, binding);
    }
    return undefined;
  }
}
