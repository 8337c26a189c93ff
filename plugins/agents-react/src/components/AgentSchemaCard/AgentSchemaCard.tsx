import { Table, TableColumn } from '@backstage/core-components';
import { useEntity } from '@backstage/plugin-catalog-react';
import {
  isAgentEntity,
  listSchemaFields,
  SchemaField,
} from '@internal/plugin-agents-common';
import { Typography } from '@material-ui/core';

const columns: TableColumn<SchemaField>[] = [
  {
    title: 'Field',
    render: f => (
      <>
        <Typography variant="body2" component="span" style={{ fontFamily: 'monospace' }}>
          {f.path}
        </Typography>
        {f.required && (
          <Typography variant="caption" color="error" component="span">
            {' '}required
          </Typography>
        )}
      </>
    ),
  },
  { title: 'Type', field: 'type' },
  {
    title: 'Description',
    render: f => [f.title, f.description].filter(Boolean).join(' - '),
  },
  { title: 'Constraints', render: f => f.constraints.join(', ') },
];

/**
 * An Agent's input (or output) JSON Schema as a readable table of fields.
 *
 * @public
 */
export function AgentSchemaCard(props: { which?: 'input' | 'output' }) {
  const which = props.which ?? 'input';
  const { entity } = useEntity();
  if (!isAgentEntity(entity)) {
    return null;
  }
  const schema = entity.spec[which];
  const fields = schema ? listSchemaFields(schema) : [];
  return (
    <Table<SchemaField>
      title={which === 'input' ? 'Input' : 'Output'}
      options={{ paging: false, search: false, padding: 'dense' }}
      columns={columns}
      data={fields}
      emptyContent={
        <div style={{ padding: 16 }}>
          {which === 'input' ? 'This agent takes no input fields.' : 'No output schema declared.'}
        </div>
      }
    />
  );
}
