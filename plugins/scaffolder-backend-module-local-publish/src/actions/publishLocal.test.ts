import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mockCredentials } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { locationSpecToLocationEntity } from '@backstage/plugin-catalog-node';
import { createMockActionContext } from '@backstage/plugin-scaffolder-node-test-utils';
import { createPublishLocalAction } from './publishLocal';

function setup(
  opts: { locations?: Array<{ type: string; target: string }> } = {},
) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'publish-local-'));
  const publishDir = path.join(root, 'published');
  const workspacePath = path.join(root, 'workspace');
  fs.mkdirSync(path.join(workspacePath, 'src'), { recursive: true });
  fs.writeFileSync(
    path.join(workspacePath, 'catalog-info.yaml'),
    'apiVersion: agentplatform.dev/v1alpha1\nkind: Agent\nmetadata:\n  name: my-agent\n  namespace: team-a\n',
  );
  fs.writeFileSync(
    path.join(workspacePath, 'src', 'index.js'),
    'module.exports = {};\n',
  );
  fs.writeFileSync(path.join(root, 'outside.txt'), 'not in the workspace');
  fs.symlinkSync(
    path.join(root, 'outside.txt'),
    path.join(workspacePath, 'link.txt'),
  );
  const locations = opts.locations ?? [
    { type: 'url', target: 'https://example.com/all.yaml' },
    { type: 'file', target: path.join(publishDir, '*/catalog-info.yaml') },
  ];
  const config = new ConfigReader({
    agentPlatform: { localPublish: { directory: publishDir } },
    catalog: { locations },
  });
  const catalog = { refreshEntity: jest.fn(async () => {}) };
  const action = createPublishLocalAction({
    config,
    catalog,
    auth: { getOwnServiceCredentials: async () => mockCredentials.service() },
  });
  return { root, publishDir, workspacePath, catalog, action };
}

describe('publish:local', () => {
  it('copies the workspace into <directory>/<name> and refreshes the file location covering it', async () => {
    const { publishDir, workspacePath, catalog, action } = setup();
    const ctx = createMockActionContext({
      input: { name: 'my-agent' },
      workspacePath,
    });
    await action.handler(ctx);

    const target = path.join(publishDir, 'my-agent');
    expect(fs.readFileSync(path.join(target, 'src/index.js'), 'utf8')).toBe(
      'module.exports = {};\n',
    );
    expect(fs.existsSync(path.join(target, 'catalog-info.yaml'))).toBe(true);
    // Symlinks are not followed out of the workspace.
    expect(fs.existsSync(path.join(target, 'link.txt'))).toBe(false);

    expect(ctx.output).toHaveBeenCalledWith('targetPath', target);
    expect(ctx.output).toHaveBeenCalledWith(
      'catalogInfoPath',
      path.join(target, 'catalog-info.yaml'),
    );
    expect(ctx.output).toHaveBeenCalledWith(
      'catalogInfoUrl',
      `file:${path.join(target, 'catalog-info.yaml')}`,
    );
    expect(ctx.output).toHaveBeenCalledWith(
      'entityRef',
      'agent:team-a/my-agent',
    );

    // The Location entity the catalog made from the config entry (same naming function as the catalog's).
    const locationEntity = locationSpecToLocationEntity({
      location: {
        type: 'file',
        target: path.join(publishDir, '*/catalog-info.yaml'),
      },
    });
    expect(catalog.refreshEntity).toHaveBeenCalledTimes(1);
    expect(catalog.refreshEntity).toHaveBeenCalledWith(
      `location:default/${locationEntity.metadata.name}`,
      // The scaffolder's own credentials: the location is the platform's.
      { credentials: mockCredentials.service() },
    );
  });

  it('refuses to overwrite an existing folder and leaves it untouched', async () => {
    const { publishDir, workspacePath, action } = setup();
    fs.mkdirSync(path.join(publishDir, 'taken'), { recursive: true });
    fs.writeFileSync(path.join(publishDir, 'taken', 'keep.txt'), 'mine');
    await expect(
      action.handler(
        createMockActionContext({ input: { name: 'taken' }, workspacePath }),
      ),
    ).rejects.toThrow(/already exists; choose another name/);
    expect(fs.readdirSync(path.join(publishDir, 'taken'))).toEqual([
      'keep.txt',
    ]);
  });

  it.each([['../escape'], ['a/b'], ['..'], ['Upper'], ['-dash'], ['']])(
    'rejects the name %j',
    async name => {
      const { root, workspacePath, action, catalog } = setup();
      await expect(
        action.handler(
          createMockActionContext({ input: { name }, workspacePath }),
        ),
      ).rejects.toThrow(/invalid name/);
      expect(fs.readdirSync(root).sort()).toEqual(['outside.txt', 'workspace']);
      expect(catalog.refreshEntity).not.toHaveBeenCalled();
    },
  );

  it('rejects a sourcePath outside the workspace', async () => {
    const { workspacePath, action } = setup();
    await expect(
      action.handler(
        createMockActionContext({
          input: { name: 'ok', sourcePath: '../' },
          workspacePath,
        }),
      ),
    ).rejects.toThrow(/outside/i);
  });

  it('in a dry run checks everything but writes and registers nothing', async () => {
    const { publishDir, workspacePath, catalog, action } = setup();
    // createMockActionContext drops isDryRun; the scaffolder sets it for actions that support dry runs.
    const ctx = {
      ...createMockActionContext({ input: { name: 'dry' }, workspacePath }),
      isDryRun: true,
    };
    await action.handler(ctx);
    expect(fs.existsSync(publishDir)).toBe(false);
    expect(catalog.refreshEntity).not.toHaveBeenCalled();
    expect(ctx.output).toHaveBeenCalledWith(
      'targetPath',
      path.join(publishDir, 'dry'),
    );
  });

  it('explains the missing catalog location instead of publishing something the catalog never reads', async () => {
    const { publishDir, workspacePath, action } = setup({ locations: [] });
    await expect(
      action.handler(
        createMockActionContext({ input: { name: 'lost' }, workspacePath }),
      ),
    ).rejects.toThrow(
      /no catalog location of type file covers .*add one to app-config.yaml/,
    );
    expect(fs.existsSync(publishDir)).toBe(false);
  });

  it('publishes without registering when register is false', async () => {
    const { publishDir, workspacePath, catalog, action } = setup({
      locations: [],
    });
    fs.rmSync(path.join(workspacePath, 'catalog-info.yaml'));
    await action.handler(
      createMockActionContext({
        input: { name: 'plain', register: false },
        workspacePath,
      }),
    );
    expect(
      fs.existsSync(path.join(publishDir, 'plain', 'src', 'index.js')),
    ).toBe(true);
    expect(catalog.refreshEntity).not.toHaveBeenCalled();
  });
});
