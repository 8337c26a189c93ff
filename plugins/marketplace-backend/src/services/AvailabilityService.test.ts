import { mockServices } from '@backstage/backend-test-utils';
import { AvailabilityService, availabilityOf } from './AvailabilityService';

function serviceWith(respond: () => Promise<Response>) {
  return new AvailabilityService({
    discovery: mockServices.discovery(),
    auth: mockServices.auth(),
    logger: mockServices.logger.mock(),
    degradedAfterFailures: 3,
    cacheMillis: 0,
    fetch: jest.fn(respond) as unknown as typeof fetch,
  });
}

describe('AvailabilityService', () => {
  it('reads the infra control plane health, tolerating its absence', async () => {
    expect(await serviceWith(async () => new Response(JSON.stringify({ status: 'ok' }))).infraHealth()).toBe('up');
    expect(await serviceWith(async () => new Response('{}', { status: 503 })).infraHealth()).toBe('down');
    expect(await serviceWith(async () => new Response(JSON.stringify({ status: 'failing' }))).infraHealth()).toBe('down');
    expect(await serviceWith(async () => new Response('', { status: 404 })).infraHealth()).toBe('unknown');
    expect(await serviceWith(async () => { throw new Error('ECONNREFUSED'); }).infraHealth()).toBe('unknown');
  });

  it('combines infra health with the failure streak and preview', () => {
    const ctx = (infra: 'up' | 'down' | 'unknown') => ({ infra, degradedAfterFailures: 3 });
    expect(availabilityOf({ visibility: 'public', consecutiveFailures: 0 }, ctx('up'))).toBe('available');
    expect(availabilityOf({ visibility: 'public', consecutiveFailures: 3 }, ctx('up'))).toBe('degraded');
    expect(availabilityOf({ visibility: 'public', consecutiveFailures: 2 }, ctx('unknown'))).toBe('unknown');
    expect(availabilityOf({ visibility: 'internal', consecutiveFailures: 0 }, ctx('down'))).toBe('unavailable');
    expect(availabilityOf({ visibility: 'preview', consecutiveFailures: 5 }, ctx('down'))).toBe('preview');
  });
});
