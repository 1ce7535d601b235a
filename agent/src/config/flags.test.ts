import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { flagsHelp, isRetryable, parseFlags } from '@driftless/common';
import {
  AGENT_ENV_PREFIX,
  agentFlags,
  AgentOptionsError,
  redactAgentOptions,
  resolveAgentOptions,
  type ResolveAgentOptionsIo,
} from './flags.ts';

/** Options as the agent binary would compile them from argv and env. */
function resolveFrom(argv: string[], env: NodeJS.ProcessEnv = {}, io?: ResolveAgentOptionsIo) {
  const { values } = parseFlags(agentFlags, argv, { envPrefix: AGENT_ENV_PREFIX, env });
  return resolveAgentOptions(values, io);
}

/** The problems listed for these flags. */
function problemsFor(argv: string[], env: NodeJS.ProcessEnv = {}, io?: ResolveAgentOptionsIo) {
  try {
    resolveFrom(argv, env, io);
  } catch (err) {
    assert.ok(err instanceof AgentOptionsError);
    assert.equal(isRetryable(err), false);
    return err.problems;
  }
  assert.fail('expected the options to be rejected');
}

const REQUIRED = ['--repo-url', 'https://git.example.com/fleet.git', '--cluster-name', 'dev'];

describe('agent flags', () => {
  it('has a full-sentence help and an environment variable for every flag', () => {
    for (const [name, f] of Object.entries(agentFlags)) {
      assert.match(f.help, /^[A-Z].*\.$/, `${name}: help should be a sentence`);
    }
    const help = flagsHelp(agentFlags, AGENT_ENV_PREFIX);
    assert.match(help, /--repo-url string\n.*\n {6}env DRIFTLESS_REPO_URL/);
    assert.match(help, /env DRIFTLESS_POLL_INTERVAL, default 1m/);
  });

  it('compiles the defaults, deriving the cluster path from the cluster name', () => {
    const o = resolveFrom(REQUIRED);
    assert.equal(o.repoUrl, 'https://git.example.com/fleet.git');
    assert.equal(o.branch, 'main');
    assert.equal(o.clusterPath, 'clusters/dev');
    assert.equal(o.stateNamespace, 'driftless-system');
    assert.equal(o.pollIntervalMs, 60_000);
    assert.equal(o.healthTimeoutMs, 300_000);
    assert.equal(o.applyConcurrency, 8);
    assert.equal(o.appConcurrency, 16);
    assert.equal(o.logLevel, 'info');
    assert.equal(o.gitAuth, undefined);
    assert.equal(o.kubeconfig, undefined);
    assert.equal(o.hubAddress, undefined);
    assert.equal(o.enrollmentToken, undefined);
    assert.equal(o.hubCaPem, undefined);
    assert.equal(o.hubServerName, undefined);
    assert.deepEqual(o.clusterLabels, {});
    assert.equal(o.reportBufferSize, 10_000);
    assert.ok(o.workDir.startsWith('/'));
  });

  it('reads flags and environment, durations in ms', () => {
    const o = resolveFrom(
      [
        ...REQUIRED,
        '--poll-interval',
        '30s',
        '--cluster-path',
        './fleet/dev/',
        '--apply-concurrency=3',
      ],
      {
        DRIFTLESS_APP_CONCURRENCY: '4',
        DRIFTLESS_BRANCH: 'release/1.x',
        DRIFTLESS_HEALTH_TIMEOUT: '2m',
        DRIFTLESS_WORK_DIR: '/var/lib/driftless',
        DRIFTLESS_HUB_ADDRESS: 'hub.example.com:443',
        DRIFTLESS_KUBECONFIG: '/etc/kube/config',
      },
    );
    assert.equal(o.pollIntervalMs, 30_000);
    assert.equal(o.clusterPath, 'fleet/dev');
    assert.equal(o.applyConcurrency, 3);
    assert.equal(o.appConcurrency, 4);
    assert.equal(o.branch, 'release/1.x');
    assert.equal(o.healthTimeoutMs, 120_000);
    assert.equal(o.workDir, '/var/lib/driftless');
    assert.equal(o.hubAddress, 'hub.example.com:443');
    assert.equal(o.kubeconfig, '/etc/kube/config');
  });

  it('takes the Git password or token from the environment', () => {
    assert.deepEqual(
      resolveFrom(REQUIRED, { DRIFTLESS_GIT_USERNAME: 'bot', DRIFTLESS_GIT_PASSWORD: 's3cret' })
        .gitAuth,
      { username: 'bot', password: 's3cret' },
    );
    assert.deepEqual(resolveFrom(REQUIRED, { DRIFTLESS_GIT_PASSWORD: 'ghp_token' }).gitAuth, {
      username: 'git',
      password: 'ghp_token',
    });
  });

  it('loads a credentials file holding user:password or a bare token', () => {
    const files: Record<string, string> = {
      '/creds/basic': 'bot:pa:ss\n',
      '/creds/token': 'glpat-abc\n',
    };
    const io = {
      readFile: (p: string) => {
        const text = files[p];
        if (text === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
        return text;
      },
    };
    const file = (p: string) => [...REQUIRED, '--git-credentials-file', p];
    assert.deepEqual(resolveFrom(file('/creds/basic'), {}, io).gitAuth, {
      username: 'bot',
      password: 'pa:ss',
    });
    assert.deepEqual(resolveFrom(file('/creds/token'), {}, io).gitAuth, {
      username: 'git',
      password: 'glpat-abc',
    });
    assert.deepEqual(problemsFor(file('/creds/missing'), {}, io), [
      '--git-credentials-file (DRIFTLESS_GIT_CREDENTIALS_FILE): cannot read /creds/missing (ENOENT)',
    ]);
  });

  it('never puts a secret in its errors', () => {
    const secret = 'hunter2-very-secret';
    const io = { readFile: () => `${secret}\nsecond line` };
    const problems = [
      ...problemsFor([...REQUIRED, '--git-credentials-file', '/c'], {}, io),
      ...problemsFor(
        [...REQUIRED, '--git-credentials-file', '/c'],
        {},
        {
          readFile: () => `:${secret}`,
        },
      ),
      ...problemsFor([
        '--repo-url',
        `https://bot:${secret}@git.example.com/x.git`,
        '--cluster-name',
        'a',
      ]),
      ...problemsFor([...REQUIRED, '--git-credentials-file', '/c'], {
        DRIFTLESS_GIT_PASSWORD: secret,
      }),
    ];
    assert.equal(problems.length, 4);
    for (const p of problems) assert.ok(!p.includes(secret), p);
    assert.match(
      problems[2] ?? '',
      /must not contain credentials \(https:\/\/git\.example\.com\/x\.git\)/,
    );
  });

  it('lists every problem at once, each naming flag and variable', () => {
    assert.deepEqual(
      problemsFor(['--branch', 'bad..name', '--cluster-path', '../x', '--poll-interval', '10ms'], {
        DRIFTLESS_LOG_LEVEL: 'chatty',
        DRIFTLESS_APPLY_CONCURRENCY: '0',
        DRIFTLESS_STATE_NAMESPACE: 'Driftless',
        DRIFTLESS_GIT_USERNAME: 'bot',
      }),
      [
        '--repo-url (DRIFTLESS_REPO_URL) is required: the Git repository to follow',
        '--branch (DRIFTLESS_BRANCH) "bad..name" is not a valid branch name',
        "--cluster-name (DRIFTLESS_CLUSTER_NAME) is required: this cluster's name in the fleet",
        `--cluster-path (DRIFTLESS_CLUSTER_PATH) "../x" must be relative to the repository root, without '..'`,
        '--git-username (DRIFTLESS_GIT_USERNAME) is set but there is no password: set --git-password (DRIFTLESS_GIT_PASSWORD) or --git-credentials-file (DRIFTLESS_GIT_CREDENTIALS_FILE)',
        '--state-namespace (DRIFTLESS_STATE_NAMESPACE) "Driftless" must be a namespace name (a DNS label)',
        '--poll-interval (DRIFTLESS_POLL_INTERVAL) must be at least 1s',
        '--log-level (DRIFTLESS_LOG_LEVEL) must be one of trace, debug, info, warn, error, fatal, silent, got "chatty"',
        '--apply-concurrency (DRIFTLESS_APPLY_CONCURRENCY) must be a whole number of at least 1, got 0',
      ],
    );
    assert.deepEqual(problemsFor(['--repo-url', 'ssh://git@host/x.git', '--cluster-name', 'Dev']), [
      '--repo-url (DRIFTLESS_REPO_URL) must be an http(s) URL, got ssh:',
      `--cluster-name (DRIFTLESS_CLUSTER_NAME) "Dev" must be a DNS label: at most 63 lowercase letters, digits and '-'`,
    ]);
  });

  it('reads the hub link flags: CA file, server name, labels, buffer size', () => {
    const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const io = {
      readFile: (p: string) => {
        if (p === '/hub/ca.crt') return ca;
        if (p === '/hub/key.pem') return '-----BEGIN PRIVATE KEY-----\n';
        throw Object.assign(new Error('nope'), { code: 'ENOENT' });
      },
    };
    const o = resolveFrom(
      [...REQUIRED, '--hub-address', 'hub.example.com:7443', '--hub-server-name', 'hub.internal'],
      {
        DRIFTLESS_HUB_CA_FILE: '/hub/ca.crt',
        DRIFTLESS_CLUSTER_LABELS: 'env=prod,region=eu-west',
        DRIFTLESS_REPORT_BUFFER_SIZE: '500',
      },
      io,
    );
    assert.equal(o.hubCaPem, ca);
    assert.equal(o.hubServerName, 'hub.internal');
    assert.deepEqual(o.clusterLabels, { env: 'prod', region: 'eu-west' });
    assert.equal(o.reportBufferSize, 500);
    assert.deepEqual(
      problemsFor(
        [...REQUIRED, '--hub-address', 'https://hub', '--hub-ca-file', '/hub/key.pem'],
        { DRIFTLESS_CLUSTER_LABELS: 'env', DRIFTLESS_REPORT_BUFFER_SIZE: '5' },
        io,
      ),
      [
        '--hub-ca-file (DRIFTLESS_HUB_CA_FILE): /hub/key.pem holds no PEM certificate',
        "--cluster-labels (DRIFTLESS_CLUSTER_LABELS): \"env\" is not a label key=value (letters, digits, '-', '_', '.')",
        '--report-buffer-size (DRIFTLESS_REPORT_BUFFER_SIZE) must be a whole number of at least 100, got 5',
        '--hub-address (DRIFTLESS_HUB_ADDRESS) "https://hub" must be host:port (for example hub.example.com:7443)',
      ],
    );
  });

  it('reads the transport: grpc by default, nats with --nats-url and --hub-address', () => {
    assert.equal(resolveFrom(REQUIRED, {}).transport, 'grpc');
    assert.equal(resolveFrom(REQUIRED, {}).natsUrl, undefined);
    const o = resolveFrom(
      [...REQUIRED, '--transport', 'nats', '--hub-address', 'hub.example.com:7443'],
      { DRIFTLESS_NATS_URL: ' nats://a:4222,nats://b:4222 ' },
    );
    assert.equal(o.transport, 'nats');
    assert.equal(o.natsUrl, 'nats://a:4222,nats://b:4222');
    assert.deepEqual(problemsFor([...REQUIRED, '--transport', 'kafka'], {}), [
      '--transport (DRIFTLESS_TRANSPORT) must be grpc or nats, got "kafka"',
    ]);
    assert.deepEqual(problemsFor([...REQUIRED, '--transport', 'nats'], {}), [
      '--transport (DRIFTLESS_TRANSPORT) nats needs --nats-url (DRIFTLESS_NATS_URL) and --hub-address (DRIFTLESS_HUB_ADDRESS) (enrollment goes to the hub)',
    ]);
  });

  it('redacts secrets for logging', () => {
    const o = resolveFrom(REQUIRED, {
      DRIFTLESS_GIT_PASSWORD: 'pw',
      DRIFTLESS_ENROLLMENT_TOKEN: 'tok',
    });
    const text = JSON.stringify(redactAgentOptions(o));
    assert.ok(!text.includes('"pw"') && !text.includes('"tok"'), text);
    assert.match(text, /"enrollmentToken":"\[redacted\]"/);
  });

  it('turns commit verification on with one source of allowed keys', () => {
    assert.equal(resolveFrom(REQUIRED).commitSigningKeys, undefined);
    assert.deepEqual(
      resolveFrom(REQUIRED, { DRIFTLESS_COMMIT_SIGNING_KEYS_SECRET: 'signers' }).commitSigningKeys,
      { secret: 'signers' },
    );
    assert.deepEqual(
      resolveFrom([...REQUIRED, '--commit-signing-keys-file', '/etc/keys']).commitSigningKeys,
      { file: '/etc/keys' },
    );
    assert.deepEqual(
      problemsFor([
        ...REQUIRED,
        '--commit-signing-keys-file',
        '/etc/keys',
        '--commit-signing-keys-secret',
        'Bad_Name',
      ]),
      [
        '--commit-signing-keys-file (DRIFTLESS_COMMIT_SIGNING_KEYS_FILE) and --commit-signing-keys-secret (DRIFTLESS_COMMIT_SIGNING_KEYS_SECRET) are exclusive: give the keys one way',
        '--commit-signing-keys-secret (DRIFTLESS_COMMIT_SIGNING_KEYS_SECRET) "Bad_Name" is not a Secret name',
      ],
    );
  });
});
