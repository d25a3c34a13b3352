import { describe, expect, it } from 'vitest';
import { planHeaderSave, rowsFromHeaders, validateHeaderRows } from './headers';

describe('header rows', () => {
  it('blanks withheld values and sorts by name', () => {
    expect(rowsFromHeaders({ 'X-B': 'b', Authorization: '' }, ['authorization'])).toEqual([
      { name: 'Authorization', value: '', sensitive: true },
      { name: 'X-B', value: 'b', sensitive: false },
    ]);
  });
  it('validates names, duplicates and missing values', () => {
    expect(validateHeaderRows([{ name: 'X-Ok', value: '1', sensitive: false }, { name: '', value: '', sensitive: false }])).toEqual([]);
    expect(validateHeaderRows([{ name: 'bad name', value: '1', sensitive: false }])).toEqual(['"bad name" is not a valid header name.']);
    expect(validateHeaderRows([{ name: 'X-A', value: '1', sensitive: false }, { name: 'x-a', value: '2', sensitive: false }])).toEqual(['"x-a" appears twice.']);
    expect(validateHeaderRows([{ name: '', value: 'v', sensitive: false }])).toEqual(['A header has a value but no name.']);
    expect(validateHeaderRows([{ name: 'X-A', value: '', sensitive: false }])).toEqual(['"X-A" has no value.']);
    expect(validateHeaderRows([{ name: 'Authorization', value: '', sensitive: true }])).toEqual([]);
  });
});

describe('planHeaderSave', () => {
  it('replaces the whole set with PUT when nothing is withheld', () => {
    expect(
      planHeaderSave({ 'X-A': '1' }, [], [
        { name: 'X-B', value: '2', sensitive: false },
        { name: ' ', value: '', sensitive: false },
      ]),
    ).toEqual({ method: 'put', headers: { 'X-B': '2' } });
  });
  it('patches only changes when a sensitive value must be kept', () => {
    const original = { Authorization: '', 'X-A': '1', 'X-Old': 'o' };
    const plan = planHeaderSave(original, ['authorization'], [
      { name: 'Authorization', value: '', sensitive: true },
      { name: 'X-A', value: '1', sensitive: false },
      { name: 'X-New', value: 'n', sensitive: false },
    ]);
    expect(plan).toEqual({ method: 'patch', headers: { 'X-Old': null, 'X-New': 'n' } });
  });
  it('sends a new value for a sensitive header and removes a deleted one', () => {
    const plan = planHeaderSave({ Authorization: '', Cookie: '' }, ['authorization', 'cookie'], [
      { name: 'Authorization', value: 'Bearer new', sensitive: true },
    ]);
    expect(plan).toEqual({ method: 'patch', headers: { Cookie: null, Authorization: 'Bearer new' } });
  });
});
