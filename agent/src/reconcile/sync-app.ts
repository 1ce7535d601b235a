import { randomUUID } from 'node:crypto';
import type { Span } from '@opentelemetry/api';
import {
  classify,
  errorMessage,
  injectTraceContext,
  inSpan,
  markFailed,
  SpanAttr,
  systemClock,
  TerminalError,
} from '@driftless/common';
import { refKey, refOf, type AppSpec, type KubeObject } from '../model.ts';
import { clusterCapabilities, serverDetails } from '../kube/index.ts';
import { render } from '../render/index.ts';
import { guard } from '../guard/index.ts';
import { isHook, planApp, syncOptionsOf } from '../plan/index.ts';
import { applyPlan, ApplyError, pruneObjects, type ObjectResult } from '../apply/index.ts';
import { healthOf } from '../health/index.ts';
import { unionRefs, type InventoryRecord } from '../inventory/index.ts';
import type { SyncReport } from '../report/index.ts';
import {
  currentHealth,
  waitUntilNothingGates,
  type AppliedHealth,
  type HealthWait,
} from './health-wait.ts';
import {
  digestBeforeApply,
  hookEventOf,
  namespaceToCreate,
  ranOnceAfter,
  renderDigest,
  inventoryChanged,
} from './sync-state.ts';
import type { SyncDeps, SyncOutcomeDetail } from './sync-deps.ts';
import { markErrors, mergeErrors, recordFetch, toChange } from './sync-report.ts';
import { carrySeed } from './carry.ts';

export type { RenderSettings, SyncDeps, SyncOutcomeDetail } from './sync-deps.ts';

/** What `onStep` is told while the sync waits for a slot (`--app-concurrency`) to render. */
export const SLOT_WAIT = 'waiting for a free sync slot (--app-concurrency)';

/**
 * Syncs one app from a checkout, as one trace: render → guard → plan →
 * (mode and approval check) → apply → prune → inventory → health. A failure
 * at any step before apply changes nothing in the cluster; a render that
 * failed or came back empty never prunes. With `deps.slots`, the sync takes a
 * slot before it renders and gives it back once it only waits for health;
 * what it rendered and planned is let go by then too (only the objects whose
 * health it waits for are kept).
 */
export async function syncApp(
  deps: SyncDeps,
  app: AppSpec,
  checkout: { dir: string; revision: string },
): Promise<SyncOutcomeDetail> {
  const clock = deps.clock ?? systemClock;
  // The sync began with the fetch of its checkout, so its duration holds the fetch step too.
  const started = Math.min(deps.fetch?.startedAt ?? clock.now(), clock.now());
  const steps: SyncReport['steps'] = [];
  // Steps are measured end to end from here: the work between two steps (reading or saving
  // the inventory) counts to the step after it, so the steps add up to the sync's duration
  // except for the time between the fetch and the first step (config, ownership, waiting for
  // dependencies), which the dashboard shows as such.
  let mark = clock.now();
  const attrs = {
    [SpanAttr.cluster]: deps.cluster,
    [SpanAttr.app]: app.name,
    [SpanAttr.revision]: checkout.revision,
    [SpanAttr.mode]: app.sync,
    ...(app.namespace ? { [SpanAttr.namespace]: app.namespace } : {}),
  };
  return inSpan(deps.tracer, 'sync', attrs, async (root) => {
    const traceId = root.spanContext().traceId;
    // Stamped on applied objects, so a later heal can link to this very span.
    const traceparent = injectTraceContext().traceparent;
    const report: SyncReport = {
      syncId: randomUUID(),
      app: app.name,
      revision: checkout.revision,
      outcome: 'failed',
      error: '',
      retryable: false,
      planDigest: '',
      objects: [],
      steps,
      traceId,
      spanId: root.spanContext().spanId,
      startedAt: started,
      finishedAt: started,
      health: 'Unknown',
      approvalId: '',
    };
    const detail: SyncOutcomeDetail = { report };
    /** Runs one named step as a child span and records its duration. */
    const step = async <T>(name: string, fn: (span: Span) => Promise<T>): Promise<T> => {
      deps.onStep?.(name);
      try {
        return await inSpan(deps.tracer, name, attrs, fn);
      } finally {
        const end = clock.now();
        steps.push({ name, durationMs: end - mark });
        mark = end;
      }
    };
    if (deps.fetch) recordFetch(deps.tracer, deps.fetch, steps);
    const healthWait: HealthWait = {
      client: deps.client,
      app,
      clock,
      pollMs: deps.healthPollMs ?? 1000,
      concurrency: deps.concurrency,
      signal: deps.signal,
      ...(deps.observed ? { observed: deps.observed } : {}),
      ...(deps.heardAt ? { heardAt: deps.heardAt } : {}),
    };

    /**
     * Render → guard → plan → (mode and approval) → apply → prune → inventory: returns what
     * the health wait needs, or undefined when the sync ends here. Its own function, so what it
     * rendered and planned is garbage once it returns.
     */
    const renderPlanApply = async (): Promise<
      { present: KubeObject[]; atApply: Map<string, AppliedHealth> } | undefined
    > => {
      // Render: what Git declares at this revision.
      const rendered = await step('render', async (span) => {
        const out = await (deps.renderer ?? render)({
          root: checkout.dir,
          app,
          signal: deps.signal,
          ...deps.render,
          // Helm renders for this cluster: its version and every API it serves.
          cluster: () =>
            clusterCapabilities(deps.client, {
              signal: deps.signal,
              generation: deps.apisGeneration?.(),
            }),
        });
        span.setAttribute('driftless.objects', out.length);
        return out;
      });
      // Guard: refuse the whole render before anything is written.
      const guarded = await step('guard', () =>
        guard(rendered, app, deps.client, { ownership: deps.ownership }),
      );
      // Created by one app only: the one that owns it (see guard/ownership.ts).
      const created = namespaceToCreate(app, guarded);
      const namespace =
        created && !deps.ownership?.ownerOf(app.name, refOf(created)) ? created : undefined;
      const desired = namespace ? [namespace, ...guarded] : guarded;
      if (guarded.length === 0 && !app.allowEmpty) {
        throw new TerminalError(
          `app ${app.name}: ${app.path} rendered no objects; refusing to sync an empty app (it would prune everything). Set allowEmpty: true to allow it`,
        );
      }
      // Plan: server-side apply dry-run of every object; deletes from the inventory.
      const previous = await deps.inventory.load(app.name);
      const digestOfRender = renderDigest(desired);
      // An app that did not render may declare what this one dropped: nothing is pruned meanwhile.
      const undeclared = deps.ownership?.undeclared(app.name) ?? [];
      const holdPrune = `not pruned while app ${undeclared.join(', ')} does not render: it may declare it now`;
      const plan = await step('plan', async (span) => {
        const p = await planApp({
          client: deps.client,
          app: app.name,
          revision: checkout.revision,
          desired,
          // Never prune what another app of the cluster declares.
          inventory:
            deps.ownership?.prunable(app.name, previous?.objects ?? []) ?? previous?.objects ?? [],
          prune: app.prune,
          ...(undeclared.length > 0 ? { holdPrune } : {}),
          hookEvent: hookEventOf(previous, digestOfRender),
          ranOnce: new Map(Object.entries(previous?.ranOnce ?? {})),
          replace: app.replace,
          concurrency: deps.concurrency,
          signal: deps.signal,
          ignore: [...app.ignoreDifferences, ...(deps.ignoreRules?.(app.name) ?? [])],
        });
        for (const [k, v] of Object.entries(p.counts)) span.setAttribute(`driftless.plan.${k}`, v);
        span.setAttribute('driftless.plan.digest', p.digest);
        return p;
      });
      detail.carry = carrySeed(app, desired, plan);
      report.planDigest = plan.digest;
      report.objects = plan.objects.map(toChange);
      const held = plan.kept.filter((k) => undeclared.length > 0 && k.reason === holdPrune);
      if (held.length > 0)
        report.notes = [
          `${held.length} object(s) Git no longer declares not pruned while app ${undeclared.join(', ')} does not render (it may declare them now)`,
        ];
      const changes = plan.counts.create + plan.counts.update + plan.counts.delete;

      // When this sync writes nothing (paused, dry-run, waiting for an approval) and what Git
      // renders is what the app last applied (e.g. the agent restarted after commits that left
      // the app alone), every change is drift: the watcher takes the objects, to report it (and
      // heal or hold it as the app's settings say). After a commit that changed the render the
      // watcher keeps what it watched, at the last applied revision.
      const watchIfRenderApplied = () => {
        const renderApplied =
          previous !== undefined &&
          (previous.revision === checkout.revision ||
            (previous.renderDigest !== undefined &&
              previous.renderDigest !== '' &&
              previous.renderDigest === digestOfRender));
        if (!renderApplied) return;
        deps.onApplied?.(
          app,
          desired.filter(
            (o) =>
              !isHook(o) &&
              !syncOptionsOf(o).createOnly &&
              plan.objects.some(
                (p) =>
                  refKey(p.ref) === refKey(refOf(o)) &&
                  !p.ranOnce &&
                  (p.action === 'update' || p.action === 'unchanged'),
              ),
          ),
          checkout.revision,
          traceId,
          new Map(),
        );
      };
      // Paused (break-glass or `suspend: true`): report the plan, write nothing.
      if (changes > 0 && deps.suspension?.(app.name)) {
        report.outcome = 'suspended';
        watchIfRenderApplied();
        return undefined;
      }
      // Mode: dry-run never writes; manual writes only with an approval of this exact plan.
      if (changes > 0 && app.sync === 'dry-run') {
        report.outcome = 'planned';
        watchIfRenderApplied();
        return undefined;
      }
      if (changes > 0 && app.sync === 'manual') {
        const approval = deps.approvals.latest(app.name);
        // An approval is used once: a later plan with the same digest needs a new one.
        const used = approval !== undefined && approval.approvalId === previous?.approvalId;
        if (!approval || used || approval.revision !== checkout.revision) {
          report.outcome = 'waiting-approval';
          watchIfRenderApplied();
          return undefined;
        }
        if (approval.planDigest !== plan.digest) {
          report.outcome = 'approval-stale';
          report.approvalId = approval.approvalId; // the one refused, so the hub marks that one
          report.error = `approval ${approval.approvalId} is for plan ${approval.planDigest.slice(0, 12)}, but the plan at ${checkout.revision.slice(0, 7)} is ${plan.digest.slice(0, 12)}; approve the current plan`;
          watchIfRenderApplied();
          return undefined;
        }
        report.approvalId = approval.approvalId;
      }

      // What the app owns and watches: hooks are run, not owned; run-once
      // objects that ran and are gone are not expected back.
      const owned = desired.filter((o) => !isHook(o));
      const expected = new Set(
        plan.objects.filter((o) => !o.ranOnce && !o.hook).map((o) => refKey(o.ref)),
      );
      const present = owned.filter((o) => expected.has(refKey(refOf(o))));
      // Create-only objects are never updated, so changes to them are not drift to heal.
      const watched = present.filter((o) => !syncOptionsOf(o).createOnly);
      const finalInventory: InventoryRecord = {
        app: app.name,
        revision: checkout.revision,
        prune: app.prune,
        objects: [...owned.map(refOf), ...plan.kept.map((k) => k.ref)],
        renderDigest: digestOfRender,
        ranOnce: ranOnceAfter(plan, owned),
        approvalId: report.approvalId || (previous?.approvalId ?? ''),
      };
      if (changes === 0) {
        // Nothing to write: only record what moved on.
        if (!previous || inventoryChanged(previous, finalInventory))
          await deps.inventory.save(finalInventory);
        report.health = await step(
          'health',
          async () =>
            (
              await currentHealth(deps.client, present, {
                concurrency: deps.concurrency,
                signal: deps.signal,
                rules: app.health,
              })
            ).status,
        );
        report.outcome = 'succeeded';
        deps.onApplied?.(app, watched, checkout.revision, traceId, new Map(), traceparent);
        return undefined;
      }
      // Inventory first: record everything we are about to create, so a crash
      // mid-apply never loses track of an object.
      await deps.inventory.save({
        ...finalInventory,
        revision: previous?.revision ?? '',
        objects: unionRefs(previous?.objects ?? [], owned.map(refOf)),
        renderDigest: digestBeforeApply(previous),
        ranOnce: { ...(previous?.ranOnce ?? {}) },
        approvalId: previous?.approvalId ?? '',
      });

      // Apply: phases and waves in order, hooks around them, waiting for health between waves.
      const applied: ObjectResult[] = [];
      // Health as each apply's answer shows it: the first health poll of what was written.
      const atApply = new Map<string, AppliedHealth>();
      await step('apply', async (span) => {
        try {
          applied.push(
            ...(await applyPlan({
              client: deps.client,
              plan,
              revision: checkout.revision,
              traceId,
              traceparent,
              tracer: deps.tracer,
              concurrency: deps.concurrency,
              hookTimeoutMs: app.healthTimeoutMs,
              signal: deps.signal,
              clock,
              judge: (obj) => healthOf(obj, app.health),
              onApplied: (r) =>
                void (
                  r.health &&
                  atApply.set(refKey(r.ref), {
                    health: r.health,
                    ...(r.resourceVersion ? { resourceVersion: r.resourceVersion } : {}),
                  })
                ),
              waitForWave: async (objs) => {
                await waitUntilNothingGates(
                  healthWait,
                  objs.filter((o) => !o.ranOnce).map((o) => o.desired as KubeObject),
                  atApply,
                );
                // An apply's answer judges its object once, right after it: later waves and
                // the final wait read the object as it is then, not as it was written.
                for (const o of objs) atApply.delete(refKey(o.ref));
              },
            })),
          );
        } catch (err) {
          if (err instanceof ApplyError) markErrors(report, err.results);
          throw err;
        } finally {
          // Objects planned from their manifest were dry-run during the apply.
          report.objects = mergeErrors(plan.objects.map(toChange), report.objects);
          span.setAttribute('driftless.applied', applied.length);
        }
      });
      deps.onApplied?.(
        app,
        watched,
        checkout.revision,
        traceId,
        new Map(
          applied.flatMap((r) =>
            r.resourceVersion ? [[refKey(r.ref), r.resourceVersion] as const] : [],
          ),
        ),
        traceparent,
      );

      // Prune: only what the inventory has, Git no longer has, and carries our marks.
      await step('prune', async (span) => {
        const pruned = await pruneObjects(deps.client, plan, {
          concurrency: deps.concurrency,
          signal: deps.signal,
        }).catch((err: unknown) => {
          if (err instanceof ApplyError) markErrors(report, err.results);
          throw err;
        });
        span.setAttribute('driftless.pruned', pruned.length);
      });
      await deps.inventory.save(finalInventory);

      return { present, atApply };
    };

    let release: (() => void) | undefined;
    try {
      if (deps.slots) {
        const queued = clock.now();
        // Said in the status: the app is not stuck, it waits its turn behind the others.
        if (deps.slots.full) deps.onStep?.(SLOT_WAIT);
        release = await deps.slots.acquire(deps.signal);
        // Waiting for a slot is no step: it shows, like waiting for a dependency, before the first.
        mark = clock.now();
        root.setAttribute('driftless.slot_wait_ms', mark - queued);
      }
      const toWait = await renderPlanApply();
      release?.();
      if (!toWait) return finish();

      // Health: wait until nothing gates, up to the app's timeout.
      report.health = await step('health', async (span) => {
        const h = (await waitUntilNothingGates(healthWait, toWait.present, toWait.atApply)).status;
        span.setAttribute('driftless.health', h);
        return h;
      });
      report.outcome = 'succeeded';
      return finish();
    } catch (err) {
      if (deps.signal?.aborted) {
        detail.interrupted = true;
        root.setAttribute('driftless.interrupted', true);
        return finish();
      }
      detail.errorClass = classify(err);
      report.outcome = 'failed';
      report.error = errorMessage(err);
      report.retryable = detail.errorClass !== 'terminal';
      markFailed(root, err);
      deps.logger.error(
        { app: app.name, revision: checkout.revision, err: report.error },
        `sync ${app.name} failed: ${report.error}`,
      );
      const server = serverDetails(err);
      if (server.length > 0)
        deps.logger.debug({ app: app.name, server }, `sync ${app.name}: the API server's answers`);
      return finish();
    }

    function finish(): SyncOutcomeDetail {
      release?.();
      report.finishedAt = clock.now();
      // What ran after the last step (writing the inventory, reporting) counts to it.
      const last = steps.at(-1);
      if (last && last.name !== 'fetch') last.durationMs += report.finishedAt - mark;
      root.setAttribute(SpanAttr.outcome, report.outcome);
      return detail;
    }
  });
}
