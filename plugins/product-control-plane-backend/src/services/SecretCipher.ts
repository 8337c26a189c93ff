import crypto from 'node:crypto';

/** AES-256-GCM for user secrets at rest: base64(iv | tag | ciphertext). */
export class SecretCipher {
  private readonly key: Buffer;

  constructor(keyMaterial: string) {
    const raw = Buffer.from(keyMaterial, 'base64');
    this.key =
      raw.length === 32
        ? raw
        : crypto.createHash('sha256').update(keyMaterial).digest();
  }

  static generateKey(): string {
    return crypto.randomBytes(32).toString('base64');
  }

  encrypt(plain: string): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), data]).toString('base64');
  }

  decrypt(encoded: string): string {
    const buf = Buffer.from(encoded, 'base64');
    const decipher = crypto.createDecipheriv(
      'aes-256-gcm',
      this.key,
      buf.subarray(0, 12),
    );
    decipher.setAuthTag(buf.subarray(12, 28));
    return Buffer.concat([
      decipher.update(buf.subarray(28)),
      decipher.final(),
    ]).toString('utf8');
  }
}
