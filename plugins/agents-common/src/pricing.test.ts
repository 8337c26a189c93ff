import { formatPlanLimits, formatPlanPrice } from './pricing';

describe('plan formatting', () => {
  it('describes each pricing model', () => {
    expect(formatPlanPrice({ name: 'f', pricing: 'free' })).toBe('Free');
    expect(formatPlanPrice({ name: 'p', pricing: 'per-run', price: 0.02 })).toBe(
      '$0.02 per run',
    );
    expect(
      formatPlanPrice({ name: 's', pricing: 'subscription', price: 49, includedRuns: 500 }),
    ).toBe('$49.00 per month (500 runs included)');
    expect(formatPlanPrice({ name: 'm', pricing: 'metered', price: 0.0005 })).toBe(
      '$0.0005 per compute-second',
    );
    expect(formatPlanPrice({ name: 'e', pricing: 'per-run', price: 3 }, 'EUR')).toBe(
      '€3.00 per run',
    );
  });

  it('describes limits', () => {
    expect(
      formatPlanLimits({ name: 'f', pricing: 'free', runsPerDay: 20, concurrency: 1, maxTimeoutSeconds: 60 }),
    ).toBe('20 runs/day · 1 concurrent · 60 s max');
    expect(formatPlanLimits({ name: 'f', pricing: 'free' })).toBe('No limits');
  });
});
