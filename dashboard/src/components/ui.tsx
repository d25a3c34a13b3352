/** Small building blocks shared by the screens. */

import { useState, type ReactNode } from 'react';
import { Link } from 'react-router';
import { ApiError, errorMessage } from '../api/errors';
import type { StatusLabel } from '../lib/format';
import { loadSession } from '../lib/session';

export function Badge({ label, title }: { label: StatusLabel; title?: string }) {
  return (
    <span className={`badge badge-${label.tone}`} title={title}>
      {label.text}
    </span>
  );
}

/** An API error, readably; a portal token's `403` is explained as a refusal. */
export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  const forbidden = error instanceof ApiError && error.isForbidden;
  const session = loadSession();
  const portal = session?.kind === 'portal' ? session : null;
  // Asking again does not change a refusal; a portal user is offered the way back instead.
  const retry = onRetry && !forbidden ? onRetry : undefined;
  return (
    <div className="error-box" role="alert">
      {forbidden && portal ? (
        <>
          <strong>Access refused.</strong> This portal link gives access to one application only, and this is not it.
          <div className="muted small">{errorMessage(error)}</div>
          <div>
            <Link to={`/apps/${encodeURIComponent(portal.appId)}`}>Go to your application</Link>
          </div>
        </>
      ) : (
        <>
          <strong>{forbidden ? 'Access refused.' : 'Something went wrong.'}</strong> {errorMessage(error)}
        </>
      )}
      {retry ? (
        <div>
          <button type="button" className="button-link" onClick={retry}>
            Try again
          </button>
        </div>
      ) : null}
    </div>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p className="muted" role="status">
      {label}
    </p>
  );
}

export function Section({ title, actions, children, id }: { title: ReactNode; actions?: ReactNode; children: ReactNode; id?: string }) {
  return (
    <section className="card" id={id} aria-labelledby={id ? `${id}-title` : undefined}>
      <div className="card-head">
        <h2 id={id ? `${id}-title` : undefined}>{title}</h2>
        {actions ? <div className="card-actions">{actions}</div> : null}
      </div>
      {children}
    </section>
  );
}

/** Preformatted text that wraps and scrolls inside its box, never widening the page. */
export function CodeBlock({ children, label, tall }: { children: string; label?: string; tall?: boolean }) {
  return (
    <pre className={tall ? 'code code-tall' : 'code'} aria-label={label} tabIndex={0}>
      {children}
    </pre>
  );
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
      window.setTimeout(() => setCopied(false), 1500);
    } catch {
      window.prompt('Copy this:', text);
    }
  };
  return (
    <button type="button" className="button-small" onClick={copy}>
      {copied ? 'Copied' : label}
    </button>
  );
}

export function Pager({
  page,
  canBack,
  canForward,
  onBack,
  onForward,
}: {
  page: number;
  canBack: boolean;
  canForward: boolean;
  onBack: () => void;
  onForward: () => void;
}) {
  if (!canBack && !canForward) return null;
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" onClick={onBack} disabled={!canBack}>
        ← Previous
      </button>
      <span className="muted">Page {page}</span>
      <button type="button" onClick={onForward} disabled={!canForward}>
        Next →
      </button>
    </nav>
  );
}

/** A definition list of label/value pairs that stacks on narrow screens. */
export function Facts({ items }: { items: [string, ReactNode][] }) {
  return (
    <dl className="facts">
      {items.map(([label, value]) => (
        <div key={label} className="fact">
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A short-lived notice after an action ("Saved", "3 deliveries restarted"). */
export function Notice({ children, tone = 'ok' }: { children: ReactNode; tone?: 'ok' | 'fail' }) {
  if (!children) return null;
  return (
    <div className={`notice notice-${tone}`} role="status">
      {children}
    </div>
  );
}

export function Mono({ children }: { children: ReactNode }) {
  return <code className="mono">{children}</code>;
}
