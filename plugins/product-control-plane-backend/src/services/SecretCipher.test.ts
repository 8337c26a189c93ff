import crypto from 'node:crypto';
import { ConfigReader } from '@backstage/config';
import { SecretCipher, UserSecretUnreadableError } from './SecretCipher';
import {
  StaticUserSecretKeyProvider,
  USER_SECRET_KEY_ENV,
} from './UserSecretKeyProvider';

const newKey = () => crypto.randomBytes(32).toString('base64');
const alice = {
  userRef: 'user:default/alice',
  agentRef: 'agent:default/summarizer',
  name: 'OPENAI_API_KEY',
};

function legacyEncrypt(material: string, plain: string): string {
  const key = crypto.createHash('sha256').update(material).digest();
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), data]).toString('base64');
}

describe('StaticUserSecretKeyProvider', () => {
  it('takes the keys from the environment first, the first one current', async () => {
    const [k1, k2] = [newKey(), newKey()];
    const config = new ConfigReader({
      productControlPlane: { userSecrets: { keys: [{ id: 'cfg', key: k1 }] } },
    });
    const provider = StaticUserSecretKeyProvider.fromConfig(config, {
      [USER_SECRET_KEY_ENV]: `new:${k2}, old:${k1}`,
    });
    expect((await provider.currentKey()).id).toBe('new');
    expect((await provider.keyById('old'))!.key).toEqual(
      Buffer.from(k1, 'base64'),
    );
    expect(await provider.keyById('cfg')).toBeUndefined();
  });

  it('reads productControlPlane.userSecrets.keys, else the deprecated encryptionKey', async () => {
    const k1 = newKey();
    const fromKeys = StaticUserSecretKeyProvider.fromConfig(
      new ConfigReader({
        productControlPlane: { userSecrets: { keys: [{ id: 'k1', key: k1 }] } },
      }),
      {},
    );
    expect((await fromKeys.currentKey()).id).toBe('k1');
    const legacy = StaticUserSecretKeyProvider.fromConfig(
      new ConfigReader({
        productControlPlane: { userSecrets: { encryptionKey: 'a passphrase' } },
      }),
      {},
    );
    expect((await legacy.currentKey()).id).toBe('encryptionKey');
  });

  it('refuses to start without a key, or with a key that is not 32 bytes of base64', () => {
    expect(() =>
      StaticUserSecretKeyProvider.fromConfig(new ConfigReader({}), {}),
    ).toThrow(/No key for user secrets: set AGENT_PLATFORM_USER_SECRET_KEY/);
    expect(() =>
      StaticUserSecretKeyProvider.fromConfig(new ConfigReader({}), {
        [USER_SECRET_KEY_ENV]: 'k1:c2hvcnQ=',
      }),
    ).toThrow(/key k1 must be 32 random bytes in base64/);
    expect(() =>
      StaticUserSecretKeyProvider.fromConfig(new ConfigReader({}), {
        [USER_SECRET_KEY_ENV]: newKey(),
      }),
    ).toThrow(/each entry must be <id>:<base64 key>/);
  });
});

describe('SecretCipher', () => {
  const k1 = newKey();
  const k2 = newKey();
  const cipherWith = (env: string, legacyKeyMaterial?: string) =>
    new SecretCipher(
      StaticUserSecretKeyProvider.fromConfig(new ConfigReader({}), {
        [USER_SECRET_KEY_ENV]: env,
      }),
      { legacyKeyMaterial },
    );

  it('round-trips with the key id stored beside the ciphertext', async () => {
    const cipher = cipherWith(`k1:${k1}`);
    const sealed = await cipher.encrypt('sk-value', alice);
    expect(sealed.keyId).toBe('k1');
    expect(sealed.ciphertext).not.toContain('sk-value');
    expect(await cipher.decrypt(sealed, alice)).toBe('sk-value');
  });

  it('binds a ciphertext to its user, agent and name', async () => {
    const cipher = cipherWith(`k1:${k1}`);
    const sealed = await cipher.encrypt('sk-value', alice);
    for (const other of [
      { ...alice, userRef: 'user:default/mallory' },
      { ...alice, agentRef: 'agent:default/http-fetcher' },
      { ...alice, name: 'GITHUB_TOKEN' },
    ]) {
      const error = await cipher.decrypt(sealed, other).catch(e => e);
      expect(error).toBeInstanceOf(UserSecretUnreadableError);
      expect(error.statusCode).toBe(409);
      expect(error.message).toContain(other.name);
      expect(error.message).not.toContain('sk-value');
    }
  });

  it('refuses a tampered ciphertext and a key it does not have, naming the secret only', async () => {
    const cipher = cipherWith(`k1:${k1}`);
    const sealed = await cipher.encrypt('sk-value', alice);
    const buf = Buffer.from(sealed.ciphertext, 'base64');
    buf[buf.length - 1] ^= 1;
    await expect(
      cipher.decrypt({ ...sealed, ciphertext: buf.toString('base64') }, alice),
    ).rejects.toThrow(
      /stored secret OPENAI_API_KEY for agent:default\/summarizer cannot be decrypted \(it was altered.*\[user-secret-unreadable\]/,
    );
    const other = cipherWith(`k2:${k2}`);
    await expect(other.decrypt(sealed, alice)).rejects.toThrow(
      /its key k1 is not configured/,
    );
    // Same id, different key material: the tag does not verify.
    await expect(
      cipherWith(`k1:${k2}`).decrypt(sealed, alice),
    ).rejects.toBeInstanceOf(UserSecretUnreadableError);
  });

  it('reads ciphertexts of retired keys while they are listed', async () => {
    const old = await cipherWith(`k1:${k1}`).encrypt('v', alice);
    const rotated = cipherWith(`k2:${k2},k1:${k1}`);
    expect(await rotated.decrypt(old, alice)).toBe('v');
    expect((await rotated.encrypt('v', alice)).keyId).toBe('k2');
  });

  it('upgrades a first-version ciphertext with the configured or the stored legacy key', async () => {
    const cipher = cipherWith(`k1:${k1}`, 'configured passphrase');
    const fromConfig = legacyEncrypt('configured passphrase', 'one');
    const fromDb = legacyEncrypt('stored-key', 'two');
    const a = await cipher.upgradeLegacy(fromConfig, alice, 'stored-key');
    const b = await cipher.upgradeLegacy(fromDb, alice, 'stored-key');
    expect(a!.keyId).toBe('k1');
    expect(await cipher.decrypt(a!, alice)).toBe('one');
    expect(await cipher.decrypt(b!, alice)).toBe('two');
    expect(
      await cipher.upgradeLegacy(
        legacyEncrypt('lost', 'x'),
        alice,
        'stored-key',
      ),
    ).toBeUndefined();
  });
});
