import { InputError } from '@backstage/errors';

const CPU = /^(\d+(?:\.\d+)?)(m?)$/;
const MEMORY = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const MEMORY_FACTORS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** Parses a Kubernetes CPU quantity (`500m`, `1`, `0.5`) to millicores. */
export function parseCpu(value: string, field = 'cpu'): number {
  const m = CPU.exec(value.trim());
  if (!m) {
    throw new InputError(
      `${field} "${value}" is not a CPU quantity (e.g. 250m or 1)`,
    );
  }
  return m[2] === 'm' ? Number(m[1]) : Number(m[1]) * 1000;
}

/** Parses a Kubernetes memory quantity (`128Mi`, `1Gi`, `500M`) to bytes. */
export function parseMemory(value: string, field = 'memory'): number {
  const m = MEMORY.exec(value.trim());
  if (!m) {
    throw new InputError(
      `${field} "${value}" is not a memory quantity (e.g. 128Mi or 1Gi)`,
    );
  }
  return Number(m[1]) * MEMORY_FACTORS[m[2] ?? ''];
}
