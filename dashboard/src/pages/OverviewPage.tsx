import { useMemo } from 'react';
import { Link, useSearchParams } from 'react-router';
import { getOverview } from '../api/queries';
import type { ApplicationOverviewOut, OverviewOut } from '../api/client';
import { formatTimestamp } from '../lib/format';
import { useAsync, useTitle } from '../lib/hooks';
import {
  applicationsWithFailures,
  failedMessagesPath,
  failingCaption,
  formatCount,
  OVERVIEW_WINDOWS,
  overviewQuery,
  overviewWindowFromSearch,
  overviewWindowToSearch,
  type OverviewWindow,
} from '../lib/overview';
import { ErrorBox, Loading, Mono, Section } from '../components/ui';
import { OverviewChart } from '../components/OverviewChart';

/** How often the Overview asks again while the tab is visible. */
export const OVERVIEW_POLL_MS = 10_000;

/**
 * The operator's landing page: how many deliveries failed in the window and for
 * which applications, the window's deliveries by state, and a chart over time.
 * Operators only: the API refuses portal tokens, and the route sends a portal
 * session to its application before anything is asked.
 */
export function OverviewPage() {
  useTitle('Overview');
  const [search, setSearch] = useSearchParams();
  const selected = useMemo(() => overviewWindowFromSearch(search), [search]);
  // The window ends when the request is made, so every refresh moves it forward.
  const overview = useAsync(() => getOverview(overviewQuery(selected, Date.now())), [selected.id], { pollMs: OVERVIEW_POLL_MS });

  return (
    <>
      <div className="page-head">
        <h1>Overview</h1>
        <div className="window-picker" role="group" aria-label="Time window">
          {OVERVIEW_WINDOWS.map((window) => (
            <button
              key={window.id}
              type="button"
              className={window.id === selected.id ? 'button-small window-active' : 'button-small'}
              aria-pressed={window.id === selected.id}
              onClick={() => setSearch(overviewWindowToSearch(window.id, search), { replace: true })}
            >
              {window.label}
            </button>
          ))}
        </div>
      </div>
      <ErrorBox error={overview.error} onRetry={overview.reload} />
      {overview.loading && !overview.data ? <Loading /> : null}
      {overview.data ? <OverviewBody overview={overview.data} window={selected} /> : null}
    </>
  );
}

function OverviewBody({ overview, window }: { overview: OverviewOut; window: OverviewWindow }) {
  const failing = applicationsWithFailures(overview.applications);
  const { total } = overview;
  return (
    <>
      <p className="muted small">
        {formatTimestamp(overview.since)} to {formatTimestamp(overview.until)}, refreshed every {OVERVIEW_POLL_MS / 1000} s while this tab is open.
      </p>

      <section className="card failing-tile" aria-labelledby="failing-title">
        <h2 id="failing-title" className="failing-headline">
          <span className={overview.failingDeliveries > 0 ? 'failing-number failing-some' : 'failing-number'}>
            {formatCount(overview.failingDeliveries)}
          </span>{' '}
          <span>{failingCaption(overview.failingDeliveries, window)}</span>
        </h2>
        <p className="muted small">
          Deliveries with at least one failed attempt in {window.phrase}, whether they are still being retried, were dead-lettered or
          succeeded later ({formatCount(overview.failedAttempts)} failed {overview.failedAttempts === 1 ? 'attempt' : 'attempts'} in all).
        </p>
        {failing.length === 0 ? (
          <p>No application had a failed attempt in {window.phrase}, and none has dead letters.</p>
        ) : (
          <FailingApplications applications={failing} since={overview.since} />
        )}
      </section>

      <ul className="overview-tiles" aria-label={`Deliveries created in ${window.phrase}, by their state now`}>
        <Tile tone="ok" value={total.succeeded} label="succeeded" />
        <Tile tone="pending" value={total.pending} label="pending" />
        <Tile tone="fail" value={total.failed} label="dead-lettered" />
        <Tile tone="fail" value={overview.deadLetters} label="dead letters now" note="all applications, whenever created" />
      </ul>
      <p className="muted small">
        The first three count the deliveries created in {window.phrase} by their state now.
        {total.discarded > 0 ? ` ${formatCount(total.discarded)} more ${total.discarded === 1 ? 'was' : 'were'} discarded from the dead-letter queue.` : ''}
      </p>

      <Section id="overview-chart" title={`Deliveries over ${window.phrase}`}>
        {overview.series.length > 0 ? (
          <OverviewChart series={overview.series} until={overview.until} window={window} />
        ) : (
          <p className="muted">No slices to show.</p>
        )}
      </Section>
    </>
  );
}

/**
 * Who the failures are for. The name opens the application, the failure count
 * its message log filtered to the messages with a failed attempt since the
 * window's start (`?failed_since=`), and the dead-letter count its queue.
 *
 * The count does not open the log filtered to failed (`?status=2`): that filter
 * keeps the messages with a delivery dead-lettered now, while the count also
 * holds the deliveries still being retried and those that succeeded later.
 */
function FailingApplications({ applications, since }: { applications: ApplicationOverviewOut[]; since: string }) {
  return (
    <div className="table-wrap">
      <table className="table" aria-label="Applications with failures">
        <thead>
          <tr>
            <th scope="col">Application</th>
            <th scope="col">Failed deliveries</th>
            <th scope="col">Dead letters now</th>
          </tr>
        </thead>
        <tbody>
          {applications.map((app) => {
            const base = `/apps/${encodeURIComponent(app.appId)}`;
            return (
              <tr key={app.appId} data-app-id={app.appId}>
                <td data-label="Application">
                  <Link to={base}>{app.appName}</Link>
                  <div className="muted small">{app.appUid ? <Mono>{app.appUid}</Mono> : <Mono>{app.appId}</Mono>}</div>
                </td>
                <td data-label="Failed deliveries">
                  {app.failingDeliveries > 0 ? (
                    <Link
                      to={failedMessagesPath(app.appId, since)}
                      aria-label={`${formatCount(app.failingDeliveries)} failed ${app.failingDeliveries === 1 ? 'delivery' : 'deliveries'} of ${app.appName}`}
                      title={`The messages of ${app.appName} with a failed attempt since ${formatTimestamp(since)}`}
                    >
                      {formatCount(app.failingDeliveries)}
                    </Link>
                  ) : (
                    '0'
                  )}
                </td>
                <td data-label="Dead letters now">
                  {app.deadLetters > 0 ? (
                    <Link to={`${base}/dead-letter`} aria-label={`${formatCount(app.deadLetters)} ${app.deadLetters === 1 ? 'dead letter' : 'dead letters'} of ${app.appName}`}>
                      {formatCount(app.deadLetters)}
                    </Link>
                  ) : (
                    '0'
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function Tile({ tone, value, label, note }: { tone: 'ok' | 'pending' | 'fail'; value: number; label: string; note?: string }) {
  return (
    <li className={`stat stat-${tone}`}>
      <div className="stat-value">{formatCount(value)}</div>
      <div className="stat-label">{label}</div>
      {note ? <div className="muted small">{note}</div> : null}
    </li>
  );
}
