import fs from 'node:fs/promises';
import path from 'node:path';
import {
  AuthService,
  resolveSafeChildPath,
} from '@backstage/backend-plugin-api';
import { stringifyEntityRef } from '@backstage/catalog-model';
import { Config } from '@backstage/config';
import { ConflictError, InputError } from '@backstage/errors';
import {
  CatalogService,
  locationSpecToMetadataName,
} from '@backstage/plugin-catalog-node';
import { createTemplateAction } from '@backstage/plugin-scaffolder-node';
import { minimatch } from 'minimatch';
import YAML from 'yaml';
import { examples } from './publishLocal.examples';

/** The default publish folder, relative to the backend's working directory (packages/backend). */
export const DEFAULT_LOCAL_PUBLISH_DIRECTORY = '../../.data/agents';

const NAME_PATTERN = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;

/** @public */
export interface PublishLocalActionOptions {
  config: Config;
  catalog: Pick<CatalogService, 'refreshEntity'>;
  /**
   * The scaffolder's own credentials refresh the configured location: a
   * platform location (its catalog rule admits Agents only), which users
   * may not refresh themselves under the deny-by-default policy; the user's
   * right to publish is the scaffolder's `publish:local` action permission.
   */
  auth: Pick<AuthService, 'getOwnServiceCredentials'>;
}

/** Copies regular files and folders only: symlinks in a workspace never leave it. */
async function copyTree(from: string, to: string): Promise<number> {
  let files = 0;
  for (const entry of await fs.readdir(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) {
      await fs.mkdir(dst);
      files += await copyTree(src, dst);
    } else if (entry.isFile()) {
      await fs.copyFile(src, dst, fs.constants.COPYFILE_EXCL);
      await fs.chmod(dst, (await fs.stat(src)).mode & 0o755);
      files++;
    }
  }
  return files;
}

/** The `catalog.locations` entry of type `file` whose (glob) target covers `file`. */
function findCoveringLocation(config: Config, file: string) {
  for (const location of config.getOptionalConfigArray('catalog.locations') ??
    []) {
    if (location.getString('type') !== 'file') continue;
    // Resolved like the catalog's ConfigLocationEntityProvider does.
    const target = path.resolve(location.getString('target'));
    if (minimatch(file, target)) {
      return {
        target,
        locationRef: `location:default/${locationSpecToMetadataName({
          type: 'file',
          target,
        })}`,
      };
    }
  }
  return undefined;
}

async function readEntityRef(
  catalogInfoPath: string,
): Promise<string | undefined> {
  let text: string;
  try {
    text = await fs.readFile(catalogInfoPath, 'utf8');
  } catch {
    return undefined;
  }
  for (const doc of YAML.parseAllDocuments(text)) {
    const e = doc.toJSON();
    if (
      e &&
      typeof e.kind === 'string' &&
      e.metadata &&
      typeof e.metadata.name === 'string'
    ) {
      return stringifyEntityRef({
        kind: e.kind,
        namespace: e.metadata.namespace,
        name: e.metadata.name,
      });
    }
  }
  return undefined;
}

/**
 * `publish:local`: writes the workspace (or a folder of it) to
 * `<agentPlatform.localPublish.directory>/<name>`, refusing to overwrite, and
 * registers it by refreshing the `file` catalog location that covers it.
 *
 * The built-in `catalog:register` cannot do this: it always registers a `url`
 * location, and no URL reader serves local files.
 *
 * @public
 */
export function createPublishLocalAction(options: PublishLocalActionOptions) {
  const { config, catalog } = options;
  const directory = path.resolve(
    config.getOptionalString('agentPlatform.localPublish.directory') ??
      DEFAULT_LOCAL_PUBLISH_DIRECTORY,
  );

  return createTemplateAction({
    id: 'publish:local',
    description:
      'Publishes the workspace into a local folder that the catalog reads (no git host needed) and registers its catalog-info.yaml.',
    examples,
    supportsDryRun: true,
    schema: {
      input: {
        name: z =>
          z.string({
            description:
              'Folder name of the published repository (lowercase letters, digits, . _ -)',
          }),
        sourcePath: z =>
          z
            .string({
              description:
                'Folder of the workspace to publish; defaults to the whole workspace',
            })
            .optional(),
        register: z =>
          z
            .boolean({
              description:
                'Register catalog-info.yaml in the catalog; default true',
            })
            .optional(),
      },
      output: {
        targetPath: z =>
          z.string({ description: 'Absolute path of the published folder' }),
        catalogInfoPath: z =>
          z.string({
            description: 'Absolute path of the published catalog-info.yaml',
          }),
        catalogInfoUrl: z =>
          z.string({
            description:
              'The catalog location of the published catalog-info.yaml',
          }),
        entityRef: z =>
          z
            .string({ description: 'The first entity of catalog-info.yaml' })
            .optional(),
      },
    },
    async handler(ctx) {
      const { name, sourcePath = '.', register = true } = ctx.input;
      if (!NAME_PATTERN.test(name)) {
        throw new InputError(
          `publish:local: invalid name "${name}": use 1-63 lowercase letters, digits, ".", "_" or "-", starting and ending with a letter or digit`,
        );
      }
      const source = resolveSafeChildPath(ctx.workspacePath, sourcePath);
      const targetPath = resolveSafeChildPath(directory, name);
      const catalogInfoPath = path.join(targetPath, 'catalog-info.yaml');
      const exists = await fs.stat(targetPath).then(
        () => true,
        () => false,
      );
      if (exists) {
        throw new ConflictError(
          `publish:local: ${targetPath} already exists; choose another name (nothing is overwritten)`,
        );
      }
      const covering = register
        ? findCoveringLocation(config, catalogInfoPath)
        : undefined;
      if (register && !covering) {
        throw new InputError(
          `publish:local: no catalog location of type file covers ${catalogInfoPath}; add one to app-config.yaml, e.g. catalog.locations: [{ type: file, target: ${path.join(
            directory,
            '*',
            'catalog-info.yaml',
          )} }]`,
        );
      }
      const sourceEntityRef = await readEntityRef(
        path.join(source, 'catalog-info.yaml'),
      );
      if (register && !sourceEntityRef) {
        throw new InputError(
          `publish:local: ${sourcePath}/catalog-info.yaml is missing or names no entity; nothing to register`,
        );
      }

      ctx.output('targetPath', targetPath);
      ctx.output('catalogInfoPath', catalogInfoPath);
      ctx.output('catalogInfoUrl', `file:${catalogInfoPath}`);
      if (sourceEntityRef) ctx.output('entityRef', sourceEntityRef);

      if (ctx.isDryRun) {
        ctx.logger.info(
          `Dry run: would publish ${sourcePath} to ${targetPath}${
            register ? ' and register it' : ''
          }`,
        );
        return;
      }

      await fs.mkdir(directory, { recursive: true });
      try {
        // Not recursive: fails if a concurrent run took the name first.
        await fs.mkdir(targetPath);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new ConflictError(
            `publish:local: ${targetPath} already exists; choose another name (nothing is overwritten)`,
          );
        }
        throw e;
      }
      const files = await copyTree(source, targetPath);
      ctx.logger.info(`Published ${files} files to ${targetPath}`);

      if (register && covering) {
        await catalog.refreshEntity(covering.locationRef, {
          credentials: await options.auth.getOwnServiceCredentials(),
        });
        ctx.logger.info(
          `Registered ${sourceEntityRef} through catalog location ${covering.target}`,
        );
      }
    },
  });
}
