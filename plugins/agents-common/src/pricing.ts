import { AgentPlan } from './types';

/**
 * Describes a plan's price for people, e.g. "Free", "$0.02 per run",
 * "$49.00 per month (500 runs included)", "$0.0005 per compute-second".
 *
 * @public
 */
export function formatPlanPrice(plan: AgentPlan, currency = 'USD'): string {
  if (plan.pricing === 'free' || !plan.price) {
    return plan.pricing === 'free' ? 'Free' : formatMoney(0, currency);
  }
  const money = formatMoney(plan.price, currency);
  switch (plan.pricing) {
    case 'per-run':
      return `${money} per run`;
    case 'subscription':
      return `${money} per month${
        plan.includedRuns !== undefined
          ? ` (${plan.includedRuns} runs included)`
          : ''
      }`;
    case 'metered':
      return `${money} per compute-second`;
    default:
      return money;
  }
}

function formatMoney(amount: number, currency: string): string {
  // Keep sub-cent prices exact (metered prices are often fractions of a cent).
  const decimals = Math.max(2, (String(amount).split('.')[1] ?? '').length);
  return new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency,
    minimumFractionDigits: Math.min(decimals, 6),
    maximumFractionDigits: Math.min(decimals, 6),
  }).format(amount);
}

/**
 * Describes a plan's usage limits, e.g. "20 runs/day · 1 concurrent · 60 s max".
 *
 * @public
 */
export function formatPlanLimits(plan: AgentPlan): string {
  const parts: string[] = [];
  if (plan.runsPerDay !== undefined) parts.push(`${plan.runsPerDay} runs/day`);
  if (plan.concurrency !== undefined)
    parts.push(`${plan.concurrency} concurrent`);
  if (plan.maxTimeoutSeconds !== undefined)
    parts.push(`${plan.maxTimeoutSeconds} s max`);
  return parts.length ? parts.join(' · ') : 'No limits';
}
