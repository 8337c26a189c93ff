import {
  ACCESS_DESCRIPTIONS,
  Access,
  PERMISSION_TABLE,
} from './permissionTable';

/** Where the generated table sits in docs/permissions.md. @public */
export const PERMISSION_TABLE_MARKERS = {
  start:
    '<!-- permission-table:start (generated from plugins/permission-backend-module-agent-platform/src/permissionTable.ts) -->',
  end: '<!-- permission-table:end -->',
} as const;

/** The conditional accesses of a row, named as in the conditions list. */
function conditionOf(...accesses: Access[]): string {
  const conditional = [
    ...new Set(accesses.filter(a => a !== 'allow' && a !== 'deny')),
  ];
  return conditional.map(a => `\`${a}\``).join(', ') || '-';
}

function admins(access: Access): string {
  return ACCESS_DESCRIPTIONS[access].users;
}

/**
 * The Markdown table of {@link PERMISSION_TABLE} (one line per permission),
 * and the conditions it uses, as docs/permissions.md shows them.
 *
 * @public
 */
export function renderPermissionTable(): string {
  const lines = [
    '| permission | defined by | platform admins | owners | other signed-in users | unauthenticated | condition | note |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...PERMISSION_TABLE.map(row =>
      [
        `\`${row.name}\``,
        `\`${row.definedBy}\``,
        admins(row.admins),
        ACCESS_DESCRIPTIONS[row.users].owners,
        ACCESS_DESCRIPTIONS[row.users].users,
        'no',
        conditionOf(row.admins, row.users),
        row.note,
      ].join(' | '),
    ).map(line => `| ${line} |`),
    '',
    'Conditions (evaluated by the plugin that owns the resource):',
    '',
    ...(Object.keys(ACCESS_DESCRIPTIONS) as Access[])
      .filter(access => ACCESS_DESCRIPTIONS[access].rule)
      .map(access => `- \`${access}\`: ${ACCESS_DESCRIPTIONS[access].rule}.`),
  ];
  return lines.join('\n');
}
