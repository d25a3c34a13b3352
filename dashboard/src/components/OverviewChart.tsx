import { formatCount, barDescription, chartSummary, CHART_STATE_LABELS, CHART_STATES, labelledBarIndexes, layoutChart, sliceLabel, sliceRangeLabel, type OverviewWindow, type SeriesPoint } from '../lib/overview';
import { useElementWidth } from '../lib/hooks';

const HEIGHT = 200;
const MARGIN = { top: 8, right: 4, bottom: 22, left: 36 };

/**
 * Deliveries succeeded, failed and pending per slice of the window, as stacked
 * bars in inline SVG drawn at the width of its box. Screen readers get the
 * summary as the image's label and every slice in a visually hidden table;
 * pointers get each slice's numbers as its tooltip.
 */
export function OverviewChart({ series, until, window }: { series: SeriesPoint[]; until: string; window: OverviewWindow }) {
  const [measure, width] = useElementWidth<HTMLDivElement>(640);
  const plotWidth = Math.max(40, width - MARGIN.left - MARGIN.right);
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const layout = layoutChart(series, until, { width: plotWidth, height: plotHeight, gap: plotWidth / series.length > 12 ? 3 : 1 });
  // A week's labels carry the weekday and need more room than a time alone.
  const labelRoom = window.durationMs > 24 * 3_600_000 ? 76 : 48;
  const labelled = new Set(labelledBarIndexes(series.length, Math.max(1, Math.floor(plotWidth / labelRoom))));
  const summary = chartSummary(series, window);

  return (
    <div className="chart" ref={measure}>
      <ul className="chart-legend" aria-hidden="true">
        {CHART_STATES.map((state) => (
          <li key={state}>
            <span className={`chart-swatch chart-${state}`} /> {CHART_STATE_LABELS[state]}
          </li>
        ))}
      </ul>
      <svg className="chart-svg" role="img" aria-label={summary} width={width} height={HEIGHT} viewBox={`0 0 ${width} ${HEIGHT}`}>
        <g transform={`translate(${MARGIN.left} ${MARGIN.top})`}>
          {layout.ticks.map((tick) => (
            <g key={tick.value} className="chart-grid">
              <line x1={0} x2={plotWidth} y1={tick.y} y2={tick.y} />
              <text x={-6} y={tick.y} dy="0.32em" textAnchor="end">
                {Number.isInteger(tick.value) ? formatCount(tick.value) : ''}
              </text>
            </g>
          ))}
          {layout.bars.map((bar, index) => (
            <g key={bar.start} className="chart-bar">
              <title>{barDescription(bar, series[index]!, window)}</title>
              {/* The full-height slot takes the pointer even where the bar is short or empty. */}
              <rect className="chart-hit" x={bar.x} y={0} width={bar.width} height={plotHeight} />
              {bar.segments.map((segment) => (
                <rect key={segment.state} className={`chart-${segment.state}`} x={bar.x} y={segment.y} width={bar.width} height={segment.height} />
              ))}
              {labelled.has(index) ? (
                <text className="chart-label" x={bar.x} y={plotHeight + 15}>
                  {sliceLabel(bar.start, window)}
                </text>
              ) : null}
            </g>
          ))}
        </g>
      </svg>
      {/* A table is never narrower than its content, so the box around it is what hides it. */}
      <div className="visually-hidden">
        <table>
          <caption>Deliveries per slice of {window.phrase}</caption>
          <thead>
            <tr>
              <th scope="col">Slice</th>
              {CHART_STATES.map((state) => (
                <th key={state} scope="col">
                  {CHART_STATE_LABELS[state]}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {layout.bars.map((bar, index) => (
              <tr key={bar.start}>
                <th scope="row">{sliceRangeLabel(bar, window)}</th>
                {CHART_STATES.map((state) => (
                  <td key={state}>{formatCount(series[index]![state])}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
