import { describe, expect, it } from 'vitest';
import { splitNames } from './names';

describe('splitNames', () => {
  it('trims names and drops empty ones', () => {
    expect(splitNames(' invoice.paid,  order.created ,')).toEqual(['invoice.paid', 'order.created']);
  });
  it('reads nothing as no filter', () => {
    expect(splitNames('')).toBeNull();
    expect(splitNames(' , ')).toBeNull();
  });
});
