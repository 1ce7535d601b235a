import { Readable } from 'node:stream';
import { Type, type Static } from 'typebox';
import {
  buildLedger,
  ledgerCsv,
  resolveLedgerQuery,
  LEDGER_DEFAULTS,
  type Ledger,
} from '../../ledger/index.ts';
import { Selector } from '../schemas.ts';
import type { ApiApp } from '../types.ts';
import { iso } from '../views.ts';
import type { RouteDeps } from './deps.ts';

const Name = Type.Optional(Type.String({ maxLength: 253 }));

/** The window and filters both ledger endpoints take. */
const LedgerQuerystring = Type.Object({
  from: Type.Optional(
    Type.String({
      maxLength: 64,
      description: 'Start of the window (ISO 8601 date or date-time); default 30 days before `to`.',
    }),
  ),
  to: Type.Optional(
    Type.String({
      maxLength: 64,
      description: 'End of the window, exclusive (ISO 8601 date or date-time); default now.',
    }),
  ),
  selector: Selector,
  cluster: Name,
  app: Name,
  manager: Type.Optional(
    Type.String({ maxLength: 256, description: 'Field manager, as reported.' }),
  ),
});

const Dist = Type.Object({
  count: Type.Integer(),
  medianMs: Type.Union([Type.Number(), Type.Null()]),
  p90Ms: Type.Union([Type.Number(), Type.Null()]),
});
const Counts = {
  episodes: Type.Integer(),
  healed: Type.Integer(),
  closed: Type.Integer(),
  open: Type.Integer(),
  fights: Type.Integer(),
};
const Timings = { timeToDetect: Dist, timeToHeal: Dist };

/** The answer of `GET /api/v1/drift/ledger` (docs/drift-ledger.md says what each number means). */
export const LedgerView = Type.Object(
  {
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    summary: Type.Object({
      ...Counts,
      ...Timings,
      byClosedBy: Type.Record(Type.String(), Type.Integer()),
      episodesPerDay: Type.Number(),
      sampled: Type.Integer(),
      truncated: Type.Boolean(),
    }),
    days: Type.Array(Type.Object({ date: Type.String({ format: 'date' }), ...Counts })),
    healBuckets: Type.Array(
      Type.Object({
        label: Type.String(),
        minMs: Type.Number(),
        maxMs: Type.Union([Type.Number(), Type.Null()]),
        count: Type.Integer(),
      }),
    ),
    managers: Type.Array(
      Type.Object({ manager: Type.String(), objects: Type.Integer(), ...Counts, ...Timings }),
    ),
    fields: Type.Array(
      Type.Object({
        kind: Type.String(),
        path: Type.String(),
        episodes: Type.Integer(),
        fights: Type.Integer(),
        managers: Type.Integer(),
      }),
    ),
    objects: Type.Array(
      Type.Object({
        cluster: Type.String(),
        app: Type.String(),
        objectRef: Type.String(),
        managers: Type.Integer(),
        lastDetectedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
        ...Counts,
      }),
    ),
    groups: Type.Array(
      Type.Object({
        cluster: Type.String(),
        app: Type.String(),
        manager: Type.String(),
        ...Counts,
        ...Timings,
      }),
    ),
  },
  { title: 'DriftLedger' },
);

/** The ledger as the API serves it: ISO times instead of ms. */
export function ledgerView(l: Ledger): Static<typeof LedgerView> {
  const { fromMs, toMs, objects, ...rest } = l;
  return {
    ...rest,
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    objects: objects.map(({ lastDetectedMs, ...o }) => ({
      ...o,
      lastDetectedAt: iso(lastDetectedMs),
    })),
  };
}

/** The drift ledger: numbers over a window, and every episode as CSV for audits. */
export function ledgerRoutes({ store, clock }: Pick<RouteDeps, 'store' | 'clock'>) {
  return (app: ApiApp): void => {
    app.get(
      '/api/v1/drift/ledger',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'drift ledger',
          description:
            'Time to detect and to heal (median, p90), episodes per day, the time-to-heal histogram, and the managers, fields and objects that drift most, over a window.',
          tags: ['drift'],
          querystring: LedgerQuerystring,
          response: { 200: LedgerView },
        },
      },
      async (req) => {
        const q = resolveLedgerQuery(req.query, clock.now(), LEDGER_DEFAULTS);
        return ledgerView(await buildLedger(store, q, LEDGER_DEFAULTS));
      },
    );
    app.get(
      '/api/v1/drift/ledger.csv',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'drift ledger as CSV',
          description:
            'One row per drift episode of the window, oldest first, for audits (RFC 4180; cells a spreadsheet would run as formulas are prefixed with a quote).',
          tags: ['drift'],
          querystring: LedgerQuerystring,
          response: {
            200: {
              description: 'CSV with a header row',
              content: { 'text/csv': { schema: { type: 'string' } } },
            },
          },
        },
      },
      async (req, reply) => {
        const q = resolveLedgerQuery(req.query, clock.now(), LEDGER_DEFAULTS);
        const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
        return (
          reply
            .type('text/csv; charset=utf-8')
            .header(
              'content-disposition',
              `attachment; filename="drift-ledger-${day(q.fromMs)}-${day(q.toMs)}.csv"`,
            )
            .header('cache-control', 'no-store')
            // A stream, paged from the store; the typed reply only knows the documented string.
            .send(Readable.from(ledgerCsv(store, q)) as never)
        );
      },
    );
  };
}
