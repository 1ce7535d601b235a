import { Type } from 'typebox';
import { parseUnitDuration } from '../../duration.ts';
import { checkClusterName, checkLabels, mintToken } from '../../enroll/index.ts';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../errors.ts';
import type { EnrollmentTokenRecord, Labels } from '../../store/index.ts';
import { actorOf } from '../auth.ts';
import { EnrollmentTokenView, List, Name } from '../schemas.ts';
import { principalOf, type ApiApp } from '../types.ts';
import { enrollmentTokenView } from '../views.ts';
import type { RouteDeps } from './deps.ts';

/** Lifetime of an enrollment token when the request gives none, ms. */
const DEFAULT_TOKEN_TTL_MS = 3_600_000;
/** Enrollments a token allows when the request gives no number. */
const DEFAULT_TOKEN_USES = 1;
const WHAT = 'create enrollment token';

const CreateBody = Type.Object({
  cluster: Type.String({ maxLength: 253, description: 'the only cluster name it enrolls' }),
  labels: Type.Optional(
    Type.Union([Type.Record(Type.String(), Type.String()), Type.String({ maxLength: 4096 })], {
      description: 'labels as an object, or "k=v,k2=v2"',
    }),
  ),
  ttl: Type.Optional(
    Type.Union([Type.String({ maxLength: 32 }), Type.Number()], {
      description:
        'lifetime: a duration with a unit ("1h"; "5" is refused) or a number of milliseconds; default 1h',
    }),
  ),
  uses: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: DEFAULT_TOKEN_USES })),
});

/** Labels as an object `{k: v}` or a string `k=v,k2=v2`, checked. */
function labelsOf(v: Labels | string | undefined): Labels {
  if (v === undefined) return {};
  let labels: Labels = {};
  if (typeof v === 'string') {
    for (const part of v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const i = part.indexOf('=');
      if (i <= 0) throw new InvalidArgumentError(`${WHAT}: label "${part}" is not key=value`);
      labels[part.slice(0, i).trim()] = part.slice(i + 1).trim();
    }
  } else labels = v;
  checkLabels(labels, WHAT);
  return labels;
}

/** The token's lifetime in ms, within `maxMs`. */
function ttlOf(ttl: string | number | undefined, maxMs: number): number {
  let ms = DEFAULT_TOKEN_TTL_MS;
  try {
    if (ttl !== undefined) ms = typeof ttl === 'number' ? ttl : parseUnitDuration('ttl', ttl);
  } catch (err) {
    throw new InvalidArgumentError(`${WHAT}: ${(err as Error).message}`, { cause: err });
  }
  if (!(ms > 0) || ms > maxMs)
    throw new InvalidArgumentError(
      `${WHAT}: ttl must be above 0 and at most ${Math.round(maxMs / 3_600_000)}h`,
    );
  return ms;
}

/** Enrollment tokens: list, create (the only answer holding the secret), revoke. */
export function tokenRoutes(deps: RouteDeps) {
  const { store, events, clock } = deps;
  const tags = ['enrollment tokens'];
  return (app: ApiApp): void => {
    app.get(
      '/api/v1/tokens',
      {
        config: { role: 'admin' },
        schema: {
          summary: 'list enrollment tokens',
          tags,
          response: { 200: List(EnrollmentTokenView) },
        },
      },
      async () => {
        const now = clock.now();
        return {
          items: (await store.listEnrollmentTokens()).map((t) => enrollmentTokenView(t, now)),
        };
      },
    );

    app.post(
      '/api/v1/tokens',
      {
        config: { role: 'admin' },
        schema: {
          summary: WHAT,
          tags,
          body: CreateBody,
          response: {
            201: Type.Intersect([EnrollmentTokenView, Type.Object({ token: Type.String() })]),
          },
        },
      },
      async (req, reply) => {
        const { cluster } = req.body;
        checkClusterName(cluster);
        if ((await store.getCluster(cluster))?.enrollmentBlocked)
          throw new ConflictError(
            `create enrollment token: cluster ${cluster} was revoked; allow its enrollment again first (driftless cluster allow-enroll ${cluster})`,
          );
        const labels = labelsOf(req.body.labels);
        const ttlMs = ttlOf(req.body.ttl, deps.maxTokenTtlMs);
        const uses = req.body.uses ?? DEFAULT_TOKEN_USES;
        const actor = actorOf(principalOf(req));
        const t = mintToken('enrollment');
        const now = clock.now();
        const record: EnrollmentTokenRecord = {
          id: t.id,
          secretHash: t.secretHash,
          cluster,
          labels,
          createdMs: now,
          createdBy: actor,
          expiresMs: now + ttlMs,
          maxUses: uses,
          uses: 0,
          revokedMs: 0,
          lastUsedMs: 0,
        };
        await store.createEnrollmentToken(record, {
          actor,
          action: 'token.create',
          target: `token/${t.id}`,
          details: { cluster, labels, ttlMs, uses },
        });
        events.publish({ type: 'token.created', cluster, data: { id: t.id } });
        // The only time the secret leaves the hub.
        return reply.code(201).send({ ...enrollmentTokenView(record, now), token: t.text });
      },
    );

    // Two spellings of one action: POST .../revoke for forms and clients, DELETE for REST.
    for (const [method, url] of [
      ['POST', '/api/v1/tokens/:id/revoke'],
      ['DELETE', '/api/v1/tokens/:id'],
    ] as const) {
      app.route({
        method,
        url,
        config: { role: 'admin' },
        schema: {
          summary: 'revoke enrollment token',
          tags,
          params: Type.Object({ id: Name }),
          response: { 200: EnrollmentTokenView },
        },
        handler: async (req) => {
          const { id } = req.params;
          await store.revokeEnrollmentToken(id, clock.now(), {
            actor: actorOf(principalOf(req)),
            action: 'token.revoke',
            target: `token/${id}`,
          });
          events.publish({ type: 'token.revoked', data: { id } });
          const t = await store.getEnrollmentToken(id);
          if (!t) throw new NotFoundError(`enrollment token ${id}: not found`);
          return enrollmentTokenView(t, clock.now());
        },
      });
    }
  };
}
