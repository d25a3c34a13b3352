/**
 * Errors of the API in a readable form. Herald answers every error with
 * `{code, detail}`: `detail` is a sentence, or for `422` (`code: "validation"`)
 * a list of `{loc, msg, type}` items.
 */

export interface ValidationItem {
  loc: string[];
  msg: string;
  type?: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string | ValidationItem[];

  constructor(status: number, code: string, detail: string | ValidationItem[]) {
    super(describeError(status, code, detail));
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.detail = detail;
  }

  get isUnauthorized(): boolean {
    return this.status === 401;
  }

  get isForbidden(): boolean {
    return this.status === 403;
  }

  get isNotFound(): boolean {
    return this.status === 404;
  }
}

/** Builds an ApiError from whatever body came back (JSON error, text, or nothing). */
export function apiErrorFrom(status: number, body: unknown): ApiError {
  if (typeof body === 'object' && body !== null) {
    const b = body as Record<string, unknown>;
    const code = typeof b.code === 'string' ? b.code : fallbackCode(status);
    if (typeof b.detail === 'string') return new ApiError(status, code, b.detail);
    if (Array.isArray(b.detail)) return new ApiError(status, code, b.detail.map(toValidationItem));
    return new ApiError(status, code, fallbackDetail(status));
  }
  if (typeof body === 'string' && body.trim() !== '') {
    return new ApiError(status, fallbackCode(status), body.trim().slice(0, 500));
  }
  return new ApiError(status, fallbackCode(status), fallbackDetail(status));
}

function toValidationItem(item: unknown): ValidationItem {
  if (typeof item === 'object' && item !== null) {
    const i = item as Record<string, unknown>;
    const loc = Array.isArray(i.loc) ? i.loc.map(String) : [];
    return { loc, msg: typeof i.msg === 'string' ? i.msg : 'is invalid', type: typeof i.type === 'string' ? i.type : undefined };
  }
  return { loc: [], msg: String(item) };
}

/** `body.url: must be an http(s) URL` — the leading `body`/`query` is kept only when it alone is the location. */
export function formatValidationItem(item: ValidationItem): string {
  const loc = item.loc.length > 1 && (item.loc[0] === 'body' || item.loc[0] === 'query') ? item.loc.slice(1) : item.loc;
  return loc.length > 0 ? `${loc.join('.')}: ${item.msg}` : item.msg;
}

export function describeError(status: number, code: string, detail: string | ValidationItem[]): string {
  if (Array.isArray(detail)) {
    const items = detail.map(formatValidationItem);
    return items.length > 0 ? `Invalid input — ${items.join('; ')}` : 'Invalid input';
  }
  const text = detail.trim() || fallbackDetail(status);
  return code && code !== fallbackCode(status) ? `${capitalize(text)} (${code}, HTTP ${status})` : `${capitalize(text)} (HTTP ${status})`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function fallbackCode(status: number): string {
  return status === 0 ? 'network' : `http_${status}`;
}

function fallbackDetail(status: number): string {
  switch (status) {
    case 0:
      return 'could not reach the server';
    case 401:
      return 'not signed in';
    case 403:
      return 'not allowed';
    case 404:
      return 'not found';
    case 429:
      return 'too many requests';
    case 503:
      return 'the service is unavailable, try again shortly';
    default:
      return status >= 500 ? 'the server failed' : 'the request failed';
  }
}

/** A readable message for anything thrown by an API call. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
