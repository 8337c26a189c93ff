import { InfoCard, StructuredMetadataTable } from '@backstage/core-components';
import { EntityRefLinks, useEntity } from '@backstage/plugin-catalog-react';
import { isAgentEntity } from '@internal/plugin-agents-common';
import { Chip, Typography } from '@material-ui/core';

const none = <Typography variant="body2" color="textSecondary">none</Typography>;

const chips = (values: string[] | undefined) =>
  values && values.length
    ? values.map(v => <Chip key={v} label={v} size="small" />)
    : none;

/**
 * What an Agent is: description, owner, version, runtime, requested tools and
 * secrets (names only), and resource envelope.
 *
 * @public
 */
export function AgentOverviewCard() {
  const { entity } = useEntity();
  if (!isAgentEntity(entity)) {
    return null;
  }
  const { spec } = entity;
  const resources = spec.resources ?? {};
  return (
    <InfoCard title="Agent">
      {entity.metadata.description && (
        <Typography variant="body1" paragraph>
          {entity.metadata.description}
        </Typography>
      )}
      <StructuredMetadataTable
        metadata={{
          owner: <EntityRefLinks entityRefs={[spec.owner]} defaultKind="group" />,
          version: spec.version,
          lifecycle: spec.lifecycle,
          visibility: spec.marketplace?.visibility ?? 'internal',
          image: spec.runtime.image,
          entrypoint: spec.runtime.entrypoint,
          tools: chips(spec.tools),
          secrets: chips(spec.secrets),
          resources: [
            `cpu ${resources.cpu ?? 'default'}`,
            `memory ${resources.memory ?? 'default'}`,
            `timeout ${resources.timeoutSeconds ?? 'default'}${
              resources.timeoutSeconds ? ' s' : ''
            }`,
          ].join(' · '),
        }}
      />
    </InfoCard>
  );
}
