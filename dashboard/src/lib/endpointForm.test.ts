import { describe, expect, it } from 'vitest';
import { createBody, emptyEndpointForm, formFromEndpoint, patchBody, validateEndpointForm } from './endpointForm';

describe('endpoint form', () => {
  it('validates the URL, rate limit and secret', () => {
    expect(validateEndpointForm(emptyEndpointForm).url).toBe('The URL is required.');
    expect(validateEndpointForm({ ...emptyEndpointForm, url: 'ftp://x' }).url).toBe('Use an http:// or https:// URL.');
    expect(validateEndpointForm({ ...emptyEndpointForm, url: 'nope' }).url).toBe('This is not a valid URL.');
    expect(validateEndpointForm({ ...emptyEndpointForm, url: 'https://a.example/hook', rateLimit: '1.5', secret: 'abc' })).toEqual({
      rateLimit: 'A whole number of messages per second, or blank for none.',
      secret: 'Secrets start with whsec_ (or leave blank to generate one).',
    });
    expect(validateEndpointForm({ ...emptyEndpointForm, url: 'http://127.0.0.1:9/x', rateLimit: '10' })).toEqual({});
  });
  it('builds a create body with only what was given', () => {
    expect(createBody({ ...emptyEndpointForm, url: ' https://a.example/h ' })).toEqual({ url: 'https://a.example/h', description: '', disabled: false });
    expect(
      createBody({ ...emptyEndpointForm, url: 'https://a', eventTypes: 'a, b', channels: 'eu', rateLimit: '5', uid: 'u1', secret: 'whsec_x' }),
    ).toEqual({ url: 'https://a', description: '', disabled: false, eventTypes: ['a', 'b'], channels: ['eu'], throttleRate: 5, uid: 'u1', secret: 'whsec_x' });
  });
  it('sends ordered on creation only when it is checked', () => {
    expect(createBody({ ...emptyEndpointForm, url: 'https://a', ordered: true })).toEqual({ url: 'https://a', description: '', disabled: false, ordered: true });
    expect(createBody({ ...emptyEndpointForm, url: 'https://a', ordered: false })).not.toHaveProperty('ordered');
  });
  it('sends ordered in a patch only when it changed', () => {
    const loaded = { ...emptyEndpointForm, url: 'https://a' };
    const orderedLoaded = { ...loaded, ordered: true };
    expect(patchBody({ ...loaded, description: 'd' }, loaded)).not.toHaveProperty('ordered');
    expect(patchBody(orderedLoaded, orderedLoaded)).not.toHaveProperty('ordered');
    expect(patchBody({ ...loaded, ordered: true }, loaded)).toMatchObject({ url: 'https://a', ordered: true });
    expect(patchBody({ ...orderedLoaded, ordered: false }, orderedLoaded)).toMatchObject({ ordered: false });
  });
  it('sends autoRedrive only to turn it off on creation, and in a patch only when it changed', () => {
    expect(createBody({ ...emptyEndpointForm, url: 'https://a' })).not.toHaveProperty('autoRedrive');
    expect(createBody({ ...emptyEndpointForm, url: 'https://a', autoRedrive: false })).toMatchObject({ autoRedrive: false });
    const loaded = { ...emptyEndpointForm, url: 'https://a' };
    expect(patchBody({ ...loaded, description: 'd' }, loaded)).not.toHaveProperty('autoRedrive');
    expect(patchBody({ ...loaded, autoRedrive: false }, loaded)).toMatchObject({ autoRedrive: false });
    expect(formFromEndpoint({ url: 'u', description: '', disabled: false })).toMatchObject({ autoRedrive: true });
    expect(formFromEndpoint({ url: 'u', description: '', disabled: false, autoRedrive: false })).toMatchObject({ autoRedrive: false });
  });
  it('clears emptied fields in a patch', () => {
    expect(patchBody({ ...emptyEndpointForm, url: 'https://a', disabled: true }, emptyEndpointForm)).toEqual({
      url: 'https://a',
      description: '',
      eventTypes: null,
      channels: null,
      throttleRate: null,
      uid: null,
      disabled: true,
    });
  });
  it('fills the form from either spelling of the API fields, and ordered', () => {
    const form = formFromEndpoint({ url: 'https://a', description: 'd', disabled: false, eventTypes: ['x'], throttleRate: 3, channels: null, uid: null });
    expect(form).toMatchObject({ eventTypes: 'x', rateLimit: '3', channels: '', uid: '', ordered: false });
    expect(formFromEndpoint({ url: 'u', description: '', disabled: true, filterTypes: ['y'], rateLimit: 7, ordered: true })).toMatchObject({
      eventTypes: 'y',
      rateLimit: '7',
      disabled: true,
      ordered: true,
    });
  });
});
