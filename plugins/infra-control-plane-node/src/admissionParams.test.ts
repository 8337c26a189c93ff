import fs from 'node:fs';
import path from 'node:path';
import { renderAdmissionManifest } from './admissionParams';

// The manifest of the repository (a test reads the source tree).
// eslint-disable-next-line no-restricted-syntax
const MANIFEST = path.resolve(__dirname, '../../../k8s/15-runs-admission.yaml');

describe('renderAdmissionManifest', () => {
  const committed = fs.readFileSync(MANIFEST, 'utf8');

  it('reproduces the committed manifest from the example config (OPENAI_API_KEY granted)', () => {
    expect(
      renderAdmissionManifest(committed, {
        platformSecretKeys: ['OPENAI_API_KEY'],
      }),
    ).toBe(committed);
  });

  it("puts a deployment's registries, digest rule and platform Secret into every policy that uses them", () => {
    const rendered = renderAdmissionManifest(committed, {
      allowedRegistries: ['ghcr.io/acme/', 'Registry.Internal:5000'],
      requireDigest: true,
      platformSecretName: 'acme-platform-secrets',
      platformSecretKeys: ['OPENAI_API_KEY', "it's"],
    });
    expect(rendered).toContain(
      `expression: '["ghcr.io/acme","registry.internal:5000"]'`,
    );
    expect(rendered).not.toContain('registry.example.com"]');
    expect(rendered).toContain(`expression: 'true'`);
    expect(rendered).toContain(`expression: '"acme-platform-secrets"'`);
    expect(rendered).toContain(`expression: '["OPENAI_API_KEY","it''s"]'`);
    // Nothing but the variables' values changed.
    const changed = rendered
      .split('\n')
      .filter((line, i) => line !== committed.split('\n')[i]);
    expect(changed.every(line => /^\s*expression: '/.test(line))).toBe(true);
  });
});
