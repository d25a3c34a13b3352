import { Link } from 'react-router';
import { getEndpointStats, listEndpointAttempts } from '../api/queries';
import { formatDuration, formatRelative, httpStatus, outcomeLabel } from '../lib/format';
import { formatRate, HEALTH_ATTEMPT_SAMPLE, latencySummary, recentErrors, successRate } from '../lib/health';
import { useAsync, useNow } from '../lib/hooks';
import { Badge, ErrorBox, Loading, Mono, Section } from './ui';

/** How often the health box asks again while the endpoint is open. */
const HEALTH_POLL_MS = 5000;

/**
 * An endpoint's health: its deliveries by state and their success rate (last 28
 * days), the circuit breaker, and the latency and errors of its newest attempts.
 */
export function EndpointHealth({ appId, endpointId }: { appId: string; endpointId: string }) {
  const stats = useAsync(() => getEndpointStats(appId, endpointId), [appId, endpointId], { pollMs: HEALTH_POLL_MS });
  const attempts = useAsync(() => listEndpointAttempts(appId, endpointId, { limit: HEALTH_ATTEMPT_SAMPLE }), [appId, endpointId], {
    pollMs: HEALTH_POLL_MS,
  });
  const now = useNow(1000);
  const breaker = stats.data?.breaker;
  const breakerTone = breaker ? (breaker.state === 'closed' ? 'ok' : breaker.state === 'open' ? 'fail' : 'pending') : 'neutral';
  const rate = stats.data ? successRate(stats.data) : null;
  const latency = attempts.data ? latencySummary(attempts.data.data) : null;
  const errors = attempts.data ? recentErrors(attempts.data.data) : [];
  const base = `/apps/${encodeURIComponent(appId)}`;

  return (
    <Section id="health" title="Health (last 28 days)">
      <ErrorBox error={stats.error} onRetry={stats.reload} />
      {stats.data ? (
        <>
          <div className="stat-tiles">
            <Stat label="Succeeded" value={stats.data.success} tone="ok" />
            <Stat label="Pending" value={stats.data.pending} tone="pending" />
            <Stat label="Failed" value={stats.data.fail} tone="fail" />
          </div>
          <p>
            Success rate: <strong>{rate === null ? '—' : formatRate(rate)}</strong>{' '}
            <span className="muted small">of the deliveries that finished (succeeded or dead-lettered)</span>
          </p>
          {breaker ? (
            <p>
              Circuit breaker: <Badge label={{ text: breakerLabel(breaker.state), tone: breakerTone }} />
              {breaker.consecutiveFailures > 0 ? <span className="muted"> after {breaker.consecutiveFailures} failures in a row</span> : null}
              {breaker.openUntil ? <span className="muted"> · probe {formatRelative(breaker.openUntil, now)}</span> : null}
            </p>
          ) : null}
        </>
      ) : stats.error ? null : (
        <Loading />
      )}
      <ErrorBox error={attempts.error} onRetry={attempts.reload} />
      {attempts.data ? (
        <>
          <p>
            Latency:{' '}
            {latency ? (
              <>
                median <strong>{formatDuration(latency.median)}</strong>, 95th percentile <strong>{formatDuration(latency.p95)}</strong>, slowest{' '}
                {formatDuration(latency.slowest)} <span className="muted small">(newest {latency.count} attempts)</span>
              </>
            ) : (
              <span className="muted">no attempts yet</span>
            )}
          </p>
          {errors.length > 0 ? (
            <div>
              <h3 className="recent-errors-title">Recent errors</h3>
              <ul className="recent-errors">
                {errors.map((attempt) => (
                  <li key={attempt.id}>
                    <Badge label={httpStatus(attempt.responseStatusCode)} /> {outcomeLabel(attempt.outcome)}{' '}
                    <span className="muted small">{formatRelative(attempt.timestamp, now)}</span>{' '}
                    <Link to={`${base}/messages/${encodeURIComponent(attempt.msgId)}`} className="small">
                      <Mono>{attempt.msgId}</Mono>
                    </Link>
                  </li>
                ))}
              </ul>
            </div>
          ) : latency ? (
            <p className="muted small">No failed attempt among the newest {latency.count}.</p>
          ) : null}
        </>
      ) : null}
    </Section>
  );
}

function breakerLabel(state: string): string {
  switch (state) {
    case 'closed':
      return 'Closed (sending)';
    case 'open':
      return 'Open (paused)';
    case 'halfOpen':
      return 'Half-open (probing)';
    default:
      return state;
  }
}

function Stat({ label, value, tone }: { label: string; value: number; tone: 'ok' | 'pending' | 'fail' }) {
  return (
    <div className={`stat stat-${tone}`}>
      <div className="stat-value">{value}</div>
      <div className="stat-label">{label}</div>
    </div>
  );
}
