/**
 * The endpoint form: its state, validation, and the bodies of create (`EndpointIn`)
 * and edit (`EndpointPatch`, where `null` clears a field).
 */

import { splitList } from './format';

export interface EndpointFormState {
  url: string;
  description: string;
  eventTypes: string;
  channels: string;
  rateLimit: string;
  uid: string;
  disabled: boolean;
  /** Herald's ordered mode: one ordering key's messages are delivered one after another. */
  ordered: boolean;
  /** Herald's automatic redrive after an outage (on unless turned off). */
  autoRedrive: boolean;
  /** Create only; blank lets Herald generate one. */
  secret: string;
}

export const emptyEndpointForm: EndpointFormState = {
  url: '',
  description: '',
  eventTypes: '',
  channels: '',
  rateLimit: '',
  uid: '',
  disabled: false,
  ordered: false,
  autoRedrive: true,
  secret: '',
};

export interface EndpointLike {
  url: string;
  description: string;
  disabled: boolean;
  filterTypes?: string[] | null;
  eventTypes?: string[] | null;
  channels?: string[] | null;
  rateLimit?: number | null;
  throttleRate?: number | null;
  uid?: string | null;
  ordered?: boolean;
  autoRedrive?: boolean;
}

export function formFromEndpoint(endpoint: EndpointLike): EndpointFormState {
  const rate = endpoint.rateLimit ?? endpoint.throttleRate ?? null;
  return {
    url: endpoint.url,
    description: endpoint.description,
    eventTypes: (endpoint.filterTypes ?? endpoint.eventTypes ?? []).join(', '),
    channels: (endpoint.channels ?? []).join(', '),
    rateLimit: rate === null ? '' : String(rate),
    uid: endpoint.uid ?? '',
    disabled: endpoint.disabled,
    ordered: endpoint.ordered ?? false,
    autoRedrive: endpoint.autoRedrive ?? true,
    secret: '',
  };
}

/** Problems to fix before submitting, by field. The server checks again. */
export function validateEndpointForm(form: EndpointFormState): Partial<Record<keyof EndpointFormState, string>> {
  const problems: Partial<Record<keyof EndpointFormState, string>> = {};
  const url = form.url.trim();
  if (url === '') problems.url = 'The URL is required.';
  else {
    try {
      const parsed = new URL(url);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') problems.url = 'Use an http:// or https:// URL.';
    } catch {
      problems.url = 'This is not a valid URL.';
    }
  }
  const rate = form.rateLimit.trim();
  if (rate !== '' && !/^\d+$/.test(rate)) problems.rateLimit = 'A whole number of messages per second, or blank for none.';
  const secret = form.secret.trim();
  if (secret !== '' && !secret.startsWith('whsec_')) problems.secret = 'Secrets start with whsec_ (or leave blank to generate one).';
  return problems;
}

export interface EndpointCreateBody {
  url: string;
  description?: string;
  eventTypes?: string[] | null;
  channels?: string[] | null;
  throttleRate?: number | null;
  uid?: string | null;
  disabled?: boolean;
  secret?: string | null;
  ordered?: boolean;
  autoRedrive?: boolean;
}

export function createBody(form: EndpointFormState): EndpointCreateBody {
  const body: EndpointCreateBody = { url: form.url.trim(), description: form.description.trim(), disabled: form.disabled };
  const eventTypes = splitList(form.eventTypes);
  const channels = splitList(form.channels);
  if (eventTypes.length > 0) body.eventTypes = eventTypes;
  if (channels.length > 0) body.channels = channels;
  if (form.rateLimit.trim() !== '') body.throttleRate = Number(form.rateLimit.trim());
  if (form.uid.trim() !== '') body.uid = form.uid.trim();
  if (form.secret.trim() !== '') body.secret = form.secret.trim();
  // Off is Herald's default, so an unordered endpoint is created without the field.
  if (form.ordered) body.ordered = true;
  // On is the default, so only turning it off is sent.
  if (!form.autoRedrive) body.autoRedrive = false;
  return body;
}

export interface EndpointPatchBody {
  url?: string | null;
  description?: string | null;
  eventTypes?: string[] | null;
  channels?: string[] | null;
  throttleRate?: number | null;
  uid?: string | null;
  disabled?: boolean | null;
  ordered?: boolean;
  autoRedrive?: boolean;
}

/**
 * A patch with every edited field; emptied lists, limits and uid are cleared with `null`.
 * `ordered` and `autoRedrive` are sent only when they differ from `before` (the form as loaded), so a save that
 * leaves the box alone does not undo a change made elsewhere since the form was opened.
 */
export function patchBody(form: EndpointFormState, before: EndpointFormState): EndpointPatchBody {
  const eventTypes = splitList(form.eventTypes);
  const channels = splitList(form.channels);
  const body: EndpointPatchBody = {
    url: form.url.trim(),
    description: form.description.trim(),
    eventTypes: eventTypes.length > 0 ? eventTypes : null,
    channels: channels.length > 0 ? channels : null,
    throttleRate: form.rateLimit.trim() !== '' ? Number(form.rateLimit.trim()) : null,
    uid: form.uid.trim() !== '' ? form.uid.trim() : null,
    disabled: form.disabled,
  };
  if (form.ordered !== before.ordered) body.ordered = form.ordered;
  if (form.autoRedrive !== before.autoRedrive) body.autoRedrive = form.autoRedrive;
  return body;
}
