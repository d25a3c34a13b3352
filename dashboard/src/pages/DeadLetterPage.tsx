import { useEffect, useMemo, useReducer, useRef, useState, type FormEvent } from 'react';
import { Link, useParams, useSearchParams } from 'react-router';
import { getApplication, listAllEndpoints } from '../api/queries';
import {
  DEAD_LETTER_CALL_LIMIT,
  discardDeadLetters,
  getBackgroundTask,
  listDeadLetters,
  replayDeadLetters,
  type DeadLetterOut,
  type DeadLetterSelectionIn,
} from '../api/deadLetter';
import { errorMessage } from '../api/errors';
import { buildDeadLetterQuery, deadLetterFilterFromSearch, deadLetterFilterToSearch, type DeadLetterFilter } from '../lib/filters';
import { formatRelative, formatTimestamp, httpStatus, outcomeLabel } from '../lib/format';
import { useAsync, useNow, useTitle } from '../lib/hooks';
import { canGoBack, canGoForward, currentCursor, firstPage, nextPage, pageNumber, previousPage, type PagerState } from '../lib/paging';
import {
  emptySelection,
  isSelected,
  pageSelectionState,
  planBatches,
  repeatUntilShort,
  runBatches,
  selectionReducer,
  taskProgress,
  type BatchProgress,
  type DeliveryRef,
} from '../lib/selection';
import { localInputToIso } from '../lib/time';
import { Breadcrumbs } from '../components/Breadcrumbs';
import { Badge, ErrorBox, Loading, Mono, Pager, Section } from '../components/ui';

type Action = 'replay' | 'discard';

interface Job {
  action: Action;
  startedAt: number;
  progress: BatchProgress;
}

/** Deliveries that exhausted their retries: select many, replay or discard, with progress. */
export function DeadLetterPage() {
  const { appId = '' } = useParams();
  useTitle('Dead-letter queue');
  const app = useAsync(() => getApplication(appId), [appId]);
  const endpoints = useAsync(() => listAllEndpoints(appId), [appId]);
  const endpointUrl = useMemo(() => new Map((endpoints.data ?? []).map((ep) => [ep.id, ep.url])), [endpoints.data]);
  const [search, setSearch] = useSearchParams();
  const applied = useMemo(() => deadLetterFilterFromSearch(search), [search]);
  const [draft, setDraft] = useState<DeadLetterFilter>(applied);
  const [pager, setPager] = useState<PagerState>(firstPage);
  const [selection, dispatch] = useReducer(selectionReducer, emptySelection);
  const [job, setJob] = useState<Job | null>(null);
  const now = useNow(500);
  const headerBox = useRef<HTMLInputElement>(null);
  const base = `/apps/${encodeURIComponent(appId)}`;

  useEffect(() => {
    setDraft(applied);
    setPager(firstPage);
    dispatch({ type: 'clear' });
  }, [applied]);

  const cursor = currentCursor(pager);
  const queryKey = JSON.stringify(buildDeadLetterQuery(applied, cursor));
  const list = useAsync(() => listDeadLetters(appId, buildDeadLetterQuery(applied, cursor)), [appId, queryKey], { pollMs: 5000 });
  const rows: DeadLetterOut[] = list.data?.data ?? [];
  const refs: DeliveryRef[] = rows.map((row) => ({ msgId: row.msgId, endpointId: row.endpointId }));
  const pageState = pageSelectionState(selection, refs);
  const running = job !== null && !job.progress.finished;

  useEffect(() => {
    if (headerBox.current) headerBox.current.indeterminate = pageState === 'some';
  }, [pageState]);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    setSearch(deadLetterFilterToSearch(draft), { replace: true });
  };

  const runSelected = async (action: Action) => {
    const count = selection.size;
    if (count === 0) return;
    if (action === 'discard' && !window.confirm(`Discard ${count} dead-lettered ${count === 1 ? 'delivery' : 'deliveries'}? They will not be sent.`)) return;
    const batches = planBatches(selection, 100);
    const startedAt = Date.now();
    const sent: DeliveryRef[] = [];
    // Progress, and where it stopped on a failure, is shown by JobProgress.
    await runBatches(
      batches,
      async (batch) => {
        const body: DeadLetterSelectionIn = { endpointId: batch.endpointId, msgIds: batch.msgIds };
        const out = action === 'replay' ? await replayDeadLetters(appId, body) : await discardDeadLetters(appId, body);
        sent.push(...batch.msgIds.map((msgId) => ({ msgId, endpointId: batch.endpointId })));
        return 'replayed' in out ? { affected: out.replayed, taskIds: out.tasks.map((task) => task.id) } : { affected: out.discarded };
      },
      (progress) => setJob({ action, startedAt, progress }),
    );
    dispatch({ type: 'remove', refs: sent });
    list.reload();
  };

  const runMatching = async (action: Action) => {
    const body: DeadLetterSelectionIn = {};
    if (applied.endpointId) body.endpointId = applied.endpointId;
    const since = localInputToIso(applied.since);
    const until = localInputToIso(applied.until);
    if (since) body.since = since;
    if (until) body.until = until;
    const scope = applied.endpointId || since || until ? 'matching the filter' : 'of this application';
    if (!window.confirm(`${action === 'replay' ? 'Replay' : 'Discard'} every dead-lettered delivery ${scope}?`)) return;
    const startedAt = Date.now();
    const start: BatchProgress = { done: 0, total: 0, affected: 0, taskIds: [], error: null, finished: false };
    setJob({ action, startedAt, progress: start });
    try {
      if (action === 'replay') {
        // One call: the server's tasks work through any number.
        const out = await replayDeadLetters(appId, body);
        const taskIds = out.tasks.map((task) => task.id);
        setJob({ action, startedAt, progress: { ...start, done: out.replayed, total: out.replayed, affected: out.replayed, taskIds, finished: true } });
      } else {
        const result = await repeatUntilShort(
          async () => ({ affected: (await discardDeadLetters(appId, body)).discarded }),
          DEAD_LETTER_CALL_LIMIT,
          (total) => setJob({ action, startedAt, progress: { ...start, done: total, total, affected: total } }),
        );
        const { total } = result;
        setJob({
          action,
          startedAt,
          progress: {
            ...start,
            done: total,
            total,
            affected: total,
            error: result.complete ? null : `stopped after ${result.rounds} rounds; run it again for the rest`,
            finished: true,
          },
        });
      }
    } catch (error) {
      setJob({ action, startedAt, progress: { ...start, error: errorMessage(error), finished: true } });
    }
    dispatch({ type: 'clear' });
    list.reload();
  };

  return (
    <>
      <Breadcrumbs appId={appId} appName={app.data?.name} trail={[['Dead-letter queue', null]]} />
      <h1>Dead-letter queue</h1>
      <p className="muted">Deliveries that used up their retry schedule. Replaying one starts a fresh retry schedule; discarding drops it for good.</p>
      <Section id="dlq" title="Dead-lettered deliveries">
        <form className="filter-grid" onSubmit={apply}>
          <label>
            Endpoint
            <select value={draft.endpointId} onChange={(event) => setDraft({ ...draft, endpointId: event.target.value })}>
              <option value="">All endpoints</option>
              {(endpoints.data ?? []).map((ep) => (
                <option key={ep.id} value={ep.id}>
                  {ep.url}
                </option>
              ))}
            </select>
          </label>
          <label>
            Dead-lettered since
            <input type="datetime-local" value={draft.since} onChange={(event) => setDraft({ ...draft, since: event.target.value })} />
          </label>
          <label>
            Until
            <input type="datetime-local" value={draft.until} onChange={(event) => setDraft({ ...draft, until: event.target.value })} />
          </label>
          <div className="filter-actions">
            <button type="submit" className="button-primary">
              Apply
            </button>
            <button type="button" onClick={() => setSearch(new URLSearchParams(), { replace: true })}>
              Clear
            </button>
          </div>
        </form>

        <div className="bulkbar" role="group" aria-label="Bulk actions">
          <span>{selection.size} selected</span>
          <button type="button" className="button-primary" disabled={running || selection.size === 0} onClick={() => runSelected('replay')}>
            Replay selected
          </button>
          <button type="button" className="button-danger" disabled={running || selection.size === 0} onClick={() => runSelected('discard')}>
            Discard selected
          </button>
          <button type="button" disabled={running || selection.size === 0} onClick={() => dispatch({ type: 'clear' })}>
            Clear selection
          </button>
          <span className="bulk-sep" aria-hidden="true" />
          <button type="button" disabled={running || rows.length === 0} onClick={() => runMatching('replay')}>
            Replay all matching
          </button>
          <button type="button" disabled={running || rows.length === 0} onClick={() => runMatching('discard')}>
            Discard all matching
          </button>
        </div>
        {job ? <JobProgress job={job} onDismiss={() => setJob(null)} /> : null}

        <ErrorBox error={list.error} onRetry={list.reload} />
        {list.loading && !list.data ? <Loading /> : null}
        {list.data && rows.length === 0 ? <p className="muted">Nothing in the dead-letter queue{applied.endpointId || applied.since || applied.until ? ' matches' : ''}.</p> : null}
        {rows.length > 0 ? (
          <div className="table-wrap">
            <table className="table" aria-label="Dead-lettered deliveries">
              <thead>
                <tr>
                  <th scope="col" className="col-check">
                    <input
                      ref={headerBox}
                      type="checkbox"
                      aria-label="Select every delivery on this page"
                      checked={pageState === 'all'}
                      onChange={() => dispatch({ type: pageState === 'all' ? 'deselectAll' : 'selectAll', refs })}
                    />
                  </th>
                  <th scope="col">Dead-lettered</th>
                  <th scope="col">Message</th>
                  <th scope="col">Endpoint</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Last result</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => {
                  const ref = { msgId: row.msgId, endpointId: row.endpointId };
                  const checked = isSelected(selection, ref);
                  return (
                    <tr key={`${row.endpointId}/${row.msgId}`} className={checked ? 'selected' : undefined} data-msg-id={row.msgId}>
                      <td className="col-check">
                        <input
                          type="checkbox"
                          checked={checked}
                          aria-label={`Select ${row.msgId} to ${endpointUrl.get(row.endpointId) ?? row.endpointId}`}
                          onChange={() => dispatch({ type: 'toggle', ref })}
                        />
                      </td>
                      <td data-label="Dead-lettered">
                        {formatTimestamp(row.deadLetteredAt)}
                        <div className="muted small">{formatRelative(row.deadLetteredAt, now)}</div>
                      </td>
                      <td data-label="Message">
                        <Link to={`${base}/messages/${encodeURIComponent(row.msgId)}`}>
                          <Mono>{row.msgId}</Mono>
                        </Link>
                        <div className="muted small">
                          {row.eventType}
                          {row.eventId ? ` · ${row.eventId}` : ''}
                        </div>
                      </td>
                      <td data-label="Endpoint">
                        <Link to={`${base}/endpoints/${encodeURIComponent(row.endpointId)}`} className="url">
                          {endpointUrl.get(row.endpointId) ?? row.endpointId}
                        </Link>
                      </td>
                      <td data-label="Attempts">{row.attemptCount}</td>
                      <td data-label="Last result">
                        {row.lastStatusCode !== null ? <Badge label={httpStatus(row.lastStatusCode)} /> : null}{' '}
                        <span className="muted small">{outcomeLabel(row.lastOutcome)}</span>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        ) : null}
        <Pager
          page={pageNumber(pager)}
          canBack={canGoBack(pager)}
          canForward={canGoForward(list.data)}
          onBack={() => setPager(previousPage(pager))}
          onForward={() => list.data && setPager(nextPage(pager, list.data))}
        />
      </Section>
    </>
  );
}

function JobProgress({ job, onDismiss }: { job: Job; onDismiss: () => void }) {
  const { progress, action } = job;
  const noun = action === 'replay' ? 'Replay' : 'Discard';
  const following = action === 'replay' && progress.finished && !progress.error && progress.taskIds.length > 0;
  return (
    <div className={`progress-box${progress.error ? ' progress-error' : ''}`} role="status" aria-live="polite">
      {progress.total > 0 ? (
        <div>
          <progress value={progress.done} max={progress.total} /> {noun}: {progress.done} of {progress.total} sent
          {progress.finished && !progress.error ? ` · Herald ${action === 'replay' ? 'accepted' : 'discarded'} ${progress.affected}` : ''}
        </div>
      ) : !progress.finished ? (
        <div>
          <progress /> {noun} in progress…
        </div>
      ) : !progress.error ? (
        <div>
          {noun}: Herald {action === 'replay' ? 'accepted' : 'discarded'} {progress.affected}.
        </div>
      ) : null}
      {following ? <ReplayTasks taskIds={progress.taskIds} /> : null}
      {progress.error ? <div role="alert">Stopped: {progress.error}</div> : null}
      {progress.finished ? (
        <button type="button" className="button-link" onClick={onDismiss}>
          Dismiss
        </button>
      ) : null}
    </div>
  );
}

/**
 * Follows a replay's background tasks (one per endpoint), which release the dead
 * letters at each endpoint's pace. A portal session may not read tasks: it says so
 * and the queue below shows what is left.
 */
function ReplayTasks({ taskIds }: { taskIds: string[] }) {
  const [settled, setSettled] = useState(false);
  const tasks = useAsync(() => Promise.all(taskIds.map(getBackgroundTask)), [taskIds.join(',')], { pollMs: settled ? undefined : 1000 });
  const sum = tasks.data ? taskProgress(tasks.data) : null;
  // Finished, or not readable (a portal session gets 403): stop asking.
  useEffect(() => {
    if (sum?.settled || tasks.error) setSettled(true);
  }, [sum?.settled, tasks.error]);
  const count = `${taskIds.length} background ${taskIds.length === 1 ? 'task' : 'tasks'}`;
  if (tasks.error || !sum) {
    return <div>Sent by {count} at each endpoint's pace{tasks.error ? '; the queue below shows what is left.' : '…'}</div>;
  }
  return (
    <div>
      <progress value={sum.done} max={Math.max(sum.total, 1)} /> Released {sum.done} of {sum.total} by {count} at each endpoint's pace
      {sum.settled ? (sum.failed > 0 ? ` · ${sum.failed} failed (endpoint deleted)` : ' · done') : ''}
    </div>
  );
}
