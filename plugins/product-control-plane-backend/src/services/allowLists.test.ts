import { ConfigReader } from '@backstage/config';
import { ImageAllowList, parseImageReference } from './ImageAllowList';
import { PlatformSecretGrants } from './PlatformSecretGrants';

const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;

describe('parseImageReference', () => {
  it('splits registry, repository, tag and digest like Docker does', () => {
    expect(parseImageReference('registry.example.com/agents/x:1.0.0')).toEqual({
      registry: 'registry.example.com',
      repository: 'agents/x',
      tag: '1.0.0',
      digest: undefined,
    });
    expect(parseImageReference(`localhost:5000/x@${digest}`)).toMatchObject({
      registry: 'localhost:5000',
      repository: 'x',
      digest,
    });
    expect(parseImageReference('busybox')).toMatchObject({
      registry: 'docker.io',
      repository: 'library/busybox',
    });
    expect(parseImageReference('acme/tool:2')).toMatchObject({
      registry: 'docker.io',
      repository: 'acme/tool',
    });
  });

  it('rejects what is not an image reference, naming it', () => {
    for (const bad of [
      '',
      'Registry.example.com/UPPER:1',
      'registry.example.com/x@sha256:short',
      'registry.example.com/x:bad tag',
      'registry.example.com//x',
    ]) {
      expect(() => parseImageReference(bad)).toThrow(
        `Image ${JSON.stringify(bad)} is not valid`,
      );
    }
  });
});

describe('ImageAllowList', () => {
  it('allows by default only the registry of the example agents and the template', () => {
    const list = ImageAllowList.fromConfig(new ConfigReader({}));
    expect(() =>
      list.check(
        'registry.example.com/agents/summarizer:1.4.0',
        'agent:default/s',
      ),
    ).not.toThrow();
    expect(() =>
      list.check(
        `registry.example.com/agents/summarizer@${digest}`,
        'agent:default/s',
      ),
    ).not.toThrow();
    expect(() => list.check('evil.example.net/x:1', 'agent:default/s')).toThrow(
      'Image evil.example.net/x:1 of agent:default/s is not from an allowed registry (productControlPlane.images.allowedRegistries: registry.example.com) [image-not-allowed]',
    );
    // A look-alike host is not the registry.
    expect(() =>
      list.check('registry.example.com.evil.net/x:1', 'agent:default/s'),
    ).toThrow(/not from an allowed registry/);
  });

  it('matches path prefixes at a path boundary, and can require digests', () => {
    const list = ImageAllowList.fromConfig(
      new ConfigReader({
        productControlPlane: {
          images: { allowedRegistries: ['ghcr.io/acme/'], requireDigest: true },
        },
      }),
    );
    expect(() =>
      list.check(`ghcr.io/acme/a@${digest}`, 'agent:default/a'),
    ).not.toThrow();
    expect(() =>
      list.check(`ghcr.io/acmeevil/a@${digest}`, 'agent:default/a'),
    ).toThrow(/not from an allowed registry/);
    expect(() => list.check('ghcr.io/acme/a:1.0.0', 'agent:default/a')).toThrow(
      'Image ghcr.io/acme/a:1.0.0 of agent:default/a must be pinned by digest (image@sha256:...; productControlPlane.images.requireDigest) [image-not-pinned]',
    );
  });
});

describe('PlatformSecretGrants', () => {
  const grants = PlatformSecretGrants.fromConfig(
    new ConfigReader({
      productControlPlane: {
        secrets: { OPENAI_API_KEY: 'sk', GITHUB_TOKEN: 'gh', UNUSED: 'u' },
        platformSecrets: [
          { name: 'OPENAI_API_KEY', agents: ['agent:default/llm-assistant'] },
          { name: 'GITHUB_TOKEN', ownerGroups: ['ml-team'] },
          { name: 'NOT_CONFIGURED', agents: ['agent:default/llm-assistant'] },
        ],
      },
    }),
  );
  const llm = {
    agentRef: 'agent:default/llm-assistant',
    owner: 'group:default/x',
  };
  const ml = { agentRef: 'agent:default/profiler', owner: 'ml-team' };
  const other = {
    agentRef: 'agent:default/other',
    owner: 'group:default/ml_team',
  };

  it('grants by agent ref or by the group owning the agent, nothing else', () => {
    expect(grants.grantedTo(llm)).toEqual(['OPENAI_API_KEY']);
    expect(grants.grantedTo(ml)).toEqual(['GITHUB_TOKEN']);
    expect(grants.grantedTo(other)).toEqual([]);
    expect(grants.isGranted('NOT_CONFIGURED', llm)).toBe(false);
  });

  it('refuses an ungranted platform secret naming it and the agent', () => {
    expect(() => grants.assertGranted('OPENAI_API_KEY', other)).toThrow(
      /^Agent agent:default\/other asks for the platform secret OPENAI_API_KEY, which is not granted to it .*\[platform-secret-not-granted\]$/,
    );
    expect(() => grants.assertGranted('OPENAI_API_KEY', llm)).not.toThrow();
    // Not a platform secret at all: nothing to refuse (the runtime reports it missing).
    expect(() => grants.assertGranted('UNPROVIDED', other)).not.toThrow();
  });

  it('grants nothing without config', () => {
    const none = PlatformSecretGrants.fromConfig(
      new ConfigReader({ productControlPlane: { secrets: { A: 'a' } } }),
    );
    expect(none.grantedTo(llm)).toEqual([]);
    expect(() => none.assertGranted('A', llm)).toThrow(/not granted/);
  });
});
