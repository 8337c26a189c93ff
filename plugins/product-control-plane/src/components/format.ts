/** "1.2 s", "3 min 4 s" */
export function formatDuration(ms?: number): string {
  if (ms === undefined || ms === null) return '—';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

/** "$0.25", "$0.000120", "—" */
export function formatCost(cost?: number): string {
  if (cost === undefined || cost === null) return '—';
  const decimals = cost !== 0 && cost < 0.01 ? 6 : 2;
  return `$${cost.toFixed(decimals)}`;
}

/** A local date and time. */
export function formatTime(iso?: string): string {
  return iso ? new Date(iso).toLocaleString() : '—';
}

/** "user:default/ada" -> "ada" */
export function shortRef(ref: string): string {
  return ref.replace(/^[^:]+:(default\/)?/, '');
}
