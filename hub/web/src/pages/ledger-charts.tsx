// The drift ledger's charts, plain SVG (attributes only, so the hub's style-src CSP holds):
// episodes per day as stacked columns, and horizontal bars for the time-to-heal histogram and
// the top managers.

/** One day of the episodes chart: how many episodes, by how they stand. */
export interface DayCounts {
  date: string;
  episodes: number;
  healed: number;
  closed: number;
  open: number;
  fights: number;
}

/** How an episode stands, in the order bars stack, with its colour. */
export const PARTS = [
  ['healed', 'Healed', '#17693f'],
  ['closed', 'Closed otherwise', '#1d5fbf'],
  ['open', 'Open', '#d99a00'],
  ['fights', 'Fights', '#a8201a'],
] as const;

/** Stacked bars per day (healed, closed otherwise, open, fights) with a y axis and a legend. */
export function EpisodesChart({ days }: { days: DayCounts[] }) {
  const W = 1000;
  const H = 200;
  const left = 36;
  const bottom = 22;
  const top = 8;
  const max = Math.max(1, ...days.map((d) => d.episodes));
  const ticks = [...new Set([0, Math.ceil(max / 2), max])];
  const slot = (W - left) / Math.max(1, days.length);
  const y = (v: number) => H - bottom - ((H - bottom - top) * v) / max;
  const every = Math.ceil(days.length / 10);
  const total = days.reduce((n, d) => n + d.episodes, 0);
  return (
    <>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        width="100%"
        role="img"
        aria-label={`Drift episodes per day: ${total} over ${days.length} days, at most ${max} a day`}
        data-chart="episodes"
      >
        {ticks.map((t) => (
          <g key={t}>
            <line x1={left} x2={W} y1={y(t)} y2={y(t)} stroke="#dde2ea" />
            <text x={left - 6} y={y(t) + 4} text-anchor="end" font-size="12" fill="#5c6677">
              {t}
            </text>
          </g>
        ))}
        {days.map((d, i) => {
          let acc = 0;
          const x = left + i * slot + slot * 0.15;
          return (
            <g key={d.date} data-day={d.date} data-episodes={d.episodes}>
              <title>
                {`${d.date}: ${d.episodes} episodes (${PARTS.map(([k, name]) => `${d[k]} ${name.toLowerCase()}`).join(', ')})`}
              </title>
              {PARTS.map(([k, , color]) => {
                const v = d[k];
                if (!v) return null;
                const y0 = y(acc);
                acc += v;
                return (
                  <rect
                    key={k}
                    x={x}
                    width={slot * 0.7}
                    y={y(acc)}
                    height={y0 - y(acc)}
                    fill={color}
                  />
                );
              })}
              {i % every === 0 && (
                <text
                  x={x + slot * 0.35}
                  y={H - 6}
                  text-anchor="middle"
                  font-size="11"
                  fill="#5c6677"
                >
                  {d.date.slice(5)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <ul class="steps-list" aria-label="Legend">
        {PARTS.map(([k, name, color]) => (
          <li key={k}>
            <svg width="10" height="10" aria-hidden="true">
              <rect width="10" height="10" fill={color} />
            </svg>{' '}
            {name}
          </li>
        ))}
      </ul>
    </>
  );
}

/** Horizontal bars, one per row, each made of stacked parts; the total at the end. */
export function Bars(props: {
  label: string;
  rows: { key: string; label: string; parts: number[] }[];
  colors: string[];
  /** Makes each row's label a control that picks the row (e.g. filters by it). */
  onPick?: (key: string) => void;
}) {
  // About the width the card gives it, so the text is drawn near its font size.
  const W = 600;
  const ROW = 26;
  const labelW = 170;
  const numW = 40;
  const max = Math.max(1, ...props.rows.map((r) => r.parts.reduce((a, b) => a + b, 0)));
  const pick = props.onPick;
  if (props.rows.length === 0) return <p class="empty">No drift in this window.</p>;
  return (
    <svg
      viewBox={`0 0 ${W} ${props.rows.length * ROW}`}
      width="100%"
      role="img"
      aria-label={props.label}
    >
      {props.rows.map((r, i) => {
        const sum = r.parts.reduce((a, b) => a + b, 0);
        let x = labelW;
        const label = r.label.length > 24 ? `${r.label.slice(0, 23)}…` : r.label;
        return (
          <g key={r.key} data-bar={r.label} data-value={sum}>
            <title>{`${r.label}: ${sum}`}</title>
            {pick ? (
              <text
                x={labelW - 8}
                y={i * ROW + 16}
                text-anchor="end"
                font-size="13"
                fill="#1d5fbf"
                role="button"
                tabIndex={0}
                aria-label={`Show only ${r.label}`}
                cursor="pointer"
                onClick={() => pick(r.key)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter' || e.key === ' ') pick(r.key);
                }}
              >
                {label}
              </text>
            ) : (
              <text x={labelW - 8} y={i * ROW + 16} text-anchor="end" font-size="13" fill="#18212f">
                {label}
              </text>
            )}
            {r.parts.map((v, j) => {
              const w = ((W - labelW - numW) * v) / max;
              const rect = (
                <rect
                  key={j}
                  x={x}
                  y={i * ROW + 4}
                  width={w}
                  height={ROW - 8}
                  fill={props.colors[j]}
                />
              );
              x += w;
              return v > 0 ? rect : null;
            })}
            <text x={x + 6} y={i * ROW + 16} font-size="12" fill="#5c6677">
              {sum}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
