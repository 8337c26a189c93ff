import fs from 'node:fs';
import path from 'node:path';
import { catalogPermissions } from '@backstage/plugin-catalog-common/alpha';
import { agentPlatformPermissions } from '@internal/plugin-agents-common';
import { PERMISSION_TABLE, USER_SCAFFOLDER_ACTIONS } from './permissionTable';
import {
  PERMISSION_TABLE_MARKERS,
  renderPermissionTable,
} from './renderPermissionTable';

// Test-only: docs and templates are read from the source tree.
// eslint-disable-next-line no-restricted-syntax
const repoRoot = path.resolve(__dirname, '../../..');
const docPath = path.join(repoRoot, 'docs/permissions.md');

/** Table rows as trimmed cells (prettier pads them), other lines with single spaces. */
function normalize(markdown: string): string[] {
  return markdown
    .split('\n')
    .map(line => line.trim())
    .filter(Boolean)
    .map(line =>
      line.startsWith('|')
        ? line
            .slice(1, -1)
            .split('|')
            .map(cell => (/^\s*:?-+:?\s*$/.test(cell) ? '---' : cell.trim()))
            .join(' | ')
        : line.replace(/\s+/g, ' '),
    );
}

function docTable(doc: string): string {
  const start = doc.indexOf(PERMISSION_TABLE_MARKERS.start);
  const end = doc.indexOf(PERMISSION_TABLE_MARKERS.end);
  if (start < 0 || end < start)
    throw new Error(`${docPath} has no permission-table markers`);
  return doc.slice(start + PERMISSION_TABLE_MARKERS.start.length, end);
}

function actionsOf(template: string): string[] {
  const text = fs.readFileSync(
    path.join(repoRoot, 'catalog/templates', template, 'template.yaml'),
    'utf8',
  );
  return [...text.matchAll(/^\s+action:\s*(\S+)\s*$/gm)].map(m => m[1]);
}

describe('the permission table', () => {
  it('is the table in docs/permissions.md', () => {
    const doc = fs.readFileSync(docPath, 'utf8');
    if (process.env.UPDATE_PERMISSIONS_DOC) {
      const start =
        doc.indexOf(PERMISSION_TABLE_MARKERS.start) +
        PERMISSION_TABLE_MARKERS.start.length;
      const end = doc.indexOf(PERMISSION_TABLE_MARKERS.end);
      fs.writeFileSync(
        docPath,
        `${doc.slice(0, start)}\n${renderPermissionTable()}\n${doc.slice(end)}`,
      );
    }
    expect(normalize(docTable(fs.readFileSync(docPath, 'utf8')))).toEqual(
      normalize(renderPermissionTable()),
    );
  });

  it('has one row per permission, with the resource type the plugin gives it', () => {
    const names = PERMISSION_TABLE.map(r => r.name);
    expect(new Set(names).size).toBe(names.length);
    for (const permission of [
      ...catalogPermissions,
      ...agentPlatformPermissions,
    ]) {
      const row = PERMISSION_TABLE.find(r => r.name === permission.name);
      expect({
        name: permission.name,
        resourceType: row?.resourceType,
      }).toEqual({
        name: permission.name,
        resourceType:
          permission.type === 'resource' ? permission.resourceType : undefined,
      });
    }
  });

  it('lets users run exactly the actions of the new-agent and run-agent templates, not build-agent-image', () => {
    const userTemplates = [
      ...new Set([...actionsOf('new-agent'), ...actionsOf('run-agent')]),
    ];
    expect([...USER_SCAFFOLDER_ACTIONS].sort()).toEqual(userTemplates.sort());
    expect(actionsOf('build-agent-image')).toEqual(['kubernetes:job:create']);
    expect(USER_SCAFFOLDER_ACTIONS).not.toContain('kubernetes:job:create');
  });
});
