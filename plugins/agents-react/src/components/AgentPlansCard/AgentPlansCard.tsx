import { Table, TableColumn } from '@backstage/core-components';
import { useEntity } from '@backstage/plugin-catalog-react';
import {
  AgentPlan,
  formatPlanLimits,
  formatPlanPrice,
  isAgentEntity,
} from '@internal/plugin-agents-common';

const columns: TableColumn<AgentPlan>[] = [
  { title: 'Plan', render: p => p.title ?? p.name },
  { title: 'Pricing', field: 'pricing' },
  { title: 'Price', render: p => formatPlanPrice(p) },
  { title: 'Limits', render: p => formatPlanLimits(p) },
];

/**
 * The pricing plans of an Agent's marketplace listing.
 *
 * @public
 */
export function AgentPlansCard() {
  const { entity } = useEntity();
  if (!isAgentEntity(entity)) {
    return null;
  }
  const plans = entity.spec.marketplace?.plans ?? [];
  return (
    <Table<AgentPlan>
      title="Plans"
      options={{ paging: false, search: false, padding: 'dense' }}
      columns={columns}
      data={plans}
      emptyContent={<div style={{ padding: 16 }}>This agent is not listed with any plan.</div>}
    />
  );
}
