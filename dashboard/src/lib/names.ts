/** Splits "a.b, c.d" into names; nothing but commas and spaces means none (`null`: every event type). */
export function splitNames(text: string): string[] | null {
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
  return names.length > 0 ? names : null;
}
