/**
 * Grouping a message's attempts under the endpoints it went to, for the message
 * screen: one group per destination (in the API's order), then groups for
 * endpoints that have attempts but are no longer listed (e.g. deleted).
 */

export interface AttemptLike {
  id: string;
  endpointId: string;
  timestamp: string;
}

export interface DestinationLike {
  id: string;
}

export interface AttemptGroup<D, A> {
  endpointId: string;
  destination: D | null;
  /** Newest first. */
  attempts: A[];
}

export function groupAttempts<D extends DestinationLike, A extends AttemptLike>(destinations: D[], attempts: A[]): AttemptGroup<D, A>[] {
  const byEndpoint = new Map<string, A[]>();
  for (const attempt of attempts) {
    const list = byEndpoint.get(attempt.endpointId) ?? [];
    list.push(attempt);
    byEndpoint.set(attempt.endpointId, list);
  }
  const newestFirst = (list: A[]) => [...list].sort((a, b) => Date.parse(b.timestamp) - Date.parse(a.timestamp) || b.id.localeCompare(a.id));
  const groups: AttemptGroup<D, A>[] = destinations.map((destination) => ({
    endpointId: destination.id,
    destination,
    attempts: newestFirst(byEndpoint.get(destination.id) ?? []),
  }));
  const listed = new Set(destinations.map((d) => d.id));
  for (const [endpointId, list] of byEndpoint) {
    if (!listed.has(endpointId)) groups.push({ endpointId, destination: null, attempts: newestFirst(list) });
  }
  return groups;
}

/** Headers from an optional attempt field, as sorted pairs; `[]` when absent or malformed. */
export function headerPairs(value: unknown): [string, string][] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  return Object.entries(value as Record<string, unknown>)
    .map(([name, v]): [string, string] => [name, Array.isArray(v) ? v.map(String).join(', ') : String(v)])
    .sort(([a], [b]) => a.localeCompare(b));
}
