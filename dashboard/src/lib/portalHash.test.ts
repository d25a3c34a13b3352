import { describe, expect, it } from 'vitest';
import { parsePortalHash } from './portalHash';

describe('parsePortalHash', () => {
  it('reads the token and application of a Herald portal link', () => {
    expect(parsePortalHash('#token=hpt_abc-DEF_123&app=app_2x')).toEqual({ token: 'hpt_abc-DEF_123', appId: 'app_2x' });
  });
  it('accepts a hash without the leading #', () => {
    expect(parsePortalHash('token=hpt_x&app=app_y')).toEqual({ token: 'hpt_x', appId: 'app_y' });
  });
  it('keeps the application unknown when the link has only a token', () => {
    expect(parsePortalHash('#token=hpt_only')).toEqual({ token: 'hpt_only', appId: null });
  });
  it('decodes percent-encoded values', () => {
    expect(parsePortalHash('#token=hpt_a%2Bb&app=my%20app')).toEqual({ token: 'hpt_a+b', appId: 'my app' });
  });
  it('returns null without a token', () => {
    expect(parsePortalHash('')).toBeNull();
    expect(parsePortalHash('#')).toBeNull();
    expect(parsePortalHash('#app=app_1')).toBeNull();
    expect(parsePortalHash('#token=')).toBeNull();
  });
});
