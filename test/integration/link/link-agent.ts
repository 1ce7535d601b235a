// The agent's link as its own process, for the link's fault tests: the real HubLink, Outbox,
// OutboxJournal and transports of @driftless/agent against a real hub, without a Kubernetes
// cluster (the reports are made up on command). Its identity lives in a file of its work dir,
// as the agent's Secret would. Reads commands from stdin, one per line:
//   sync <id>       queue a sync result with that id
//   burst <n> <p>   queue n sync results, ids <p>1 … <p>n, in one go (as a flush after an outage)
// and writes JSON lines to stdout: {"event":"status","state":...,"error":...} on every link
// status, {"event":"queued","id":...} after each command.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  GrpcTransport,
  HubLink,
  LinkReporter,
  NatsTransport,
  Outbox,
  OutboxJournal,
  type Identity,
  type IdentityStore,
} from '@driftless/agent';
import { createLogger } from '@driftless/common';

const env = (name: string) => process.env[name] ?? '';
const workDir = env('LINK_AGENT_WORK_DIR');
mkdirSync(workDir, { recursive: true });
const logger = createLogger({ name: 'link-agent', level: 'info' });

/** The identity in `<work dir>/identity.json`. */
const identities: IdentityStore = {
  load: async () => {
    try {
      return JSON.parse(readFileSync(join(workDir, 'identity.json'), 'utf8')) as Identity;
    } catch {
      return undefined;
    }
  },
  save: async (identity) => writeFileSync(join(workDir, 'identity.json'), JSON.stringify(identity)),
};

const grpc = new GrpcTransport({ address: env('LINK_AGENT_HUB') });
const transport =
  env('LINK_AGENT_TRANSPORT') === 'nats'
    ? new NatsTransport({
        servers: env('LINK_AGENT_NATS_URL'),
        cluster: env('LINK_AGENT_CLUSTER'),
        enrollVia: grpc,
        logger,
        publishTimeoutMs: 2000,
      })
    : grpc;
const journal = new OutboxJournal({ path: join(workDir, 'hub-outbox.json'), logger });
const outbox = new Outbox({ restore: journal.load() });
journal.attach(outbox);
const reporter = new LinkReporter(outbox, logger);
const link = new HubLink({
  cluster: env('LINK_AGENT_CLUSTER'),
  agentVersion: '0.1.0',
  repoUrl: 'https://git.example/fleet.git',
  branch: 'main',
  transport,
  identities,
  outbox,
  hooks: { refresh: () => undefined, statuses: () => [], approvals: { add: () => undefined } },
  enrollment: {
    token: env('LINK_AGENT_TOKEN') || undefined,
    caPem: readFileSync(env('LINK_AGENT_CA_FILE'), 'utf8'),
  },
  logger,
  backoff: { initialMs: 200, maxMs: 1000 },
  ackTimeoutMs: 5000,
});
const say = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');
link.onStatus((s) => say({ event: 'status', state: s.state, error: s.error ?? '' }));
link.start();

/** Queues a sync result with id `id`. */
function syncResult(id: string): void {
  reporter.syncResult({
    syncId: id,
    app: 'web',
    revision: 'a'.repeat(40),
    outcome: 'succeeded',
    error: '',
    retryable: false,
    planDigest: '',
    objects: [],
    steps: [],
    traceId: '',
    spanId: '',
    startedAt: Date.now(),
    finishedAt: Date.now(),
    health: 'Healthy',
    approvalId: '',
  });
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, id = '', prefix = ''] = line.trim().split(/\s+/);
  if (cmd === 'sync') {
    syncResult(id);
    say({ event: 'queued', id });
  } else if (cmd === 'burst') {
    for (let i = 1; i <= Number(id); i++) syncResult(`${prefix}${i}`);
    say({ event: 'queued', id: `${prefix}1-${prefix}${id}` });
  }
});

process.once('SIGTERM', () => {
  void (async () => {
    await link.stop();
    await journal.close();
    process.exit(0);
  })();
});
