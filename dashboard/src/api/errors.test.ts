import { describe, expect, it } from 'vitest';
import { ApiError, apiErrorFrom, errorMessage, formatValidationItem } from './errors';

describe('apiErrorFrom', () => {
  it('shows {code, detail} readably', () => {
    const error = apiErrorFrom(404, { code: 'not_found', detail: 'application not found' });
    expect(error).toBeInstanceOf(ApiError);
    expect(error.message).toBe('Application not found (not_found, HTTP 404)');
    expect(error.isNotFound).toBe(true);
  });
  it('lists validation problems by field', () => {
    const error = apiErrorFrom(422, {
      code: 'validation',
      detail: [
        { loc: ['body', 'url'], msg: 'must be an http(s) URL', type: 'value_error' },
        { loc: ['body'], msg: 'is not an object', type: 'type_error' },
      ],
    });
    expect(error.message).toBe('Invalid input — url: must be an http(s) URL; body: is not an object');
    expect(Array.isArray(error.detail)).toBe(true);
  });
  it('copes with text and empty bodies', () => {
    expect(apiErrorFrom(502, 'Bad Gateway').message).toBe('Bad Gateway (HTTP 502)');
    expect(apiErrorFrom(403, undefined).message).toBe('Not allowed (HTTP 403)');
    expect(apiErrorFrom(401, {}).isUnauthorized).toBe(true);
    expect(apiErrorFrom(0, undefined).message).toBe('Could not reach the server (HTTP 0)');
  });
  it('formats validation items and any thrown value', () => {
    expect(formatValidationItem({ loc: ['query', 'limit'], msg: 'too big' })).toBe('limit: too big');
    expect(formatValidationItem({ loc: [], msg: 'bad' })).toBe('bad');
    expect(errorMessage(new Error('x'))).toBe('x');
    expect(errorMessage('y')).toBe('y');
  });
});
