/**
 * Saving an endpoint's custom headers.
 *
 * `GET …/headers` withholds the values of sensitive headers (listed in
 * `sensitive`), so the editor cannot send them back. Without sensitive headers the
 * complete set is replaced with `PUT`; with them, a `PATCH` changes only what the
 * person changed (a sensitive header left blank keeps its value, a removed one is
 * sent as `null`).
 */

export interface HeaderRow {
  name: string;
  value: string;
  /** The server withheld the value; blank means "keep it". */
  sensitive: boolean;
}

export type HeaderSavePlan =
  | { method: 'put'; headers: Record<string, string> }
  | { method: 'patch'; headers: Record<string, string | null> };

export function rowsFromHeaders(headers: Record<string, string>, sensitive: string[]): HeaderRow[] {
  const secret = new Set(sensitive.map((name) => name.toLowerCase()));
  return Object.entries(headers)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => (secret.has(name.toLowerCase()) ? { name, value: '', sensitive: true } : { name, value, sensitive: false }));
}

/** Problems a person should fix before saving, or `[]`. */
export function validateHeaderRows(rows: HeaderRow[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    const name = row.name.trim();
    if (name === '' && row.value.trim() === '') continue;
    if (name === '') {
      problems.push('A header has a value but no name.');
      continue;
    }
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) problems.push(`"${name}" is not a valid header name.`);
    const key = name.toLowerCase();
    if (seen.has(key)) problems.push(`"${name}" appears twice.`);
    seen.add(key);
    if (!row.sensitive && row.value === '') problems.push(`"${name}" has no value.`);
  }
  return problems;
}

export function planHeaderSave(original: Record<string, string>, sensitive: string[], rows: HeaderRow[]): HeaderSavePlan {
  const kept = rows.filter((row) => row.name.trim() !== '');
  if (sensitive.length === 0) {
    const headers: Record<string, string> = {};
    for (const row of kept) headers[row.name.trim()] = row.value;
    return { method: 'put', headers };
  }
  const patch: Record<string, string | null> = {};
  const present = new Set(kept.map((row) => row.name.trim().toLowerCase()));
  for (const name of Object.keys(original)) {
    if (!present.has(name.toLowerCase())) patch[name] = null;
  }
  for (const row of kept) {
    const name = row.name.trim();
    if (row.sensitive && row.value === '') continue;
    const before = Object.entries(original).find(([key]) => key.toLowerCase() === name.toLowerCase());
    if (!row.sensitive && before && before[0] === name && before[1] === row.value) continue;
    patch[name] = row.value;
  }
  return { method: 'patch', headers: patch };
}
