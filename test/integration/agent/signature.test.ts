/**
 * Commit signature verification with real signed commits: made by `git`
 * with SSH keys from `ssh-keygen` (ed25519, RSA, ECDSA; `gpg.format=ssh`) and
 * OpenPGP keys from `gpg` in a temporary GNUPGHOME, pushed to the real git
 * server, checked by the agent against allowed keys from a file, a folder or
 * a Secret on a real kube-apiserver. Unsigned, unknown-key, tampered and
 * wrong-namespace commits are refused and the last verified revision stays.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { CommitVerifier, keysFromFile, keysFromSecret, KubeClient } from '@driftless/agent';
import {
  startCluster,
  startGitServer,
  type Cluster,
  type GitRepo,
  type GitServer,
} from '@driftless/test';
import { makeTenancyAgent, type TenancyAgent } from './tenancy-agent.ts';

const run = promisify(execFile);

/** Keys and a working clone that commits (signed or not) and pushes to a served repository. */
class Signer {
  readonly dir: string;
  readonly gnupg: string;
  readonly work: string;
  constructor(dir: string) {
    this.dir = dir;
    this.gnupg = path.join(dir, 'gnupg');
    this.work = path.join(dir, 'work');
  }

  async git(args: string[], env: Record<string, string> = {}): Promise<string> {
    const { stdout } = await run('git', args, {
      cwd: this.work,
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        HOME: this.dir,
        GNUPGHOME: this.gnupg,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_AUTHOR_NAME: 'Signer',
        GIT_AUTHOR_EMAIL: 'signer@driftless.invalid',
        GIT_COMMITTER_NAME: 'Signer',
        GIT_COMMITTER_EMAIL: 'signer@driftless.invalid',
        ...env,
      },
    });
    return stdout.trim();
  }

  /** Makes an SSH key of `type`; returns its public key line. */
  async sshKey(name: string, type: 'ed25519' | 'rsa' | 'ecdsa'): Promise<string> {
    const file = path.join(this.dir, name);
    await run('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', file]);
    return (await readFile(`${file}.pub`, 'utf8')).trim();
  }

  /** Makes an OpenPGP signing key for `email`; returns its armored public key. */
  async gpgKey(email: string, algo = 'ed25519'): Promise<string> {
    await mkdir(this.gnupg, { recursive: true, mode: 0o700 });
    const env = { ...process.env, GNUPGHOME: this.gnupg };
    await run(
      'gpg',
      [
        '--batch',
        '--pinentry-mode',
        'loopback',
        '--passphrase',
        '',
        '--quick-gen-key',
        `Signer <${email}>`,
        algo,
        'sign',
        'never',
      ],
      { env },
    );
    return (await run('gpg', ['--batch', '--armor', '--export', email], { env })).stdout;
  }

  async clone(repo: GitRepo): Promise<void> {
    await run('git', ['clone', '-q', repo.path, this.work]);
    await this.git(['checkout', '-q', '-B', repo.branch]);
  }

  /** Commits `files` and pushes; `sign` picks the format and key (none: unsigned). */
  async commit(
    files: Record<string, string>,
    message: string,
    sign?: { ssh: string } | { gpg: string },
  ): Promise<string> {
    for (const [file, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(this.work, file)), { recursive: true });
      await writeFile(path.join(this.work, file), content);
    }
    await this.git(['add', '-A']);
    const how = !sign
      ? ['commit', '--no-gpg-sign']
      : 'ssh' in sign
        ? [
            '-c',
            'gpg.format=ssh',
            '-c',
            `user.signingkey=${path.join(this.dir, sign.ssh)}.pub`,
            'commit',
            '-S',
          ]
        : ['-c', 'gpg.format=openpgp', '-c', `user.signingkey=${sign.gpg}`, 'commit', '-S'];
    await this.git([...how, '-q', '-m', message]);
    await this.git(['push', '-q', 'origin', 'HEAD']);
    return this.git(['rev-parse', 'HEAD']);
  }

  /** Writes a commit object as given (for tampering) on top of the branch and pushes it. */
  async rawCommit(object: string): Promise<string> {
    const hashing = run('git', ['hash-object', '-t', 'commit', '-w', '--stdin'], {
      cwd: this.work,
    });
    hashing.child.stdin?.end(object);
    const { stdout } = await hashing;
    const sha = stdout.trim();
    await this.git(['reset', '-q', '--hard', sha]);
    await this.git(['push', '-q', '-f', 'origin', 'HEAD']);
    return sha;
  }
}

describe('commit signatures', () => {
  let git: GitServer;
  let tmp: string;
  let signer: Signer;
  let repo: GitRepo;
  const keys: Record<string, string> = {};

  before(async () => {
    git = await startGitServer();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'driftless-signing-'));
    signer = new Signer(tmp);
    keys['ed25519'] = await signer.sshKey('ed25519', 'ed25519');
    keys['rsa'] = await signer.sshKey('rsa', 'rsa');
    keys['ecdsa'] = await signer.sshKey('ecdsa', 'ecdsa');
    keys['stranger'] = await signer.sshKey('stranger', 'ed25519');
    keys['gpg'] = await signer.gpgKey('release@driftless.invalid');
    keys['gpg-rsa'] = await signer.gpgKey('rsa@driftless.invalid', 'rsa3072');
    keys['gpg-stranger'] = await signer.gpgKey('stranger@driftless.invalid');
    repo = await git.createRepo('signed');
    await repo.commit({ 'README.md': 'fleet\n' }, 'init');
    await signer.clone(repo);
  });
  after(async () => {
    await git?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  const verifier = (allowed: string) =>
    new CommitVerifier({ keys: async () => allowed, keysSource: 'test keys' });
  const verify = (allowed: string, revision: string) =>
    verifier(allowed).verify({ dir: signer.work, revision });
  const refusal = (allowed: string, revision: string) =>
    verify(allowed, revision).then(
      (s) => assert.fail(`verified, signed by ${s.key}`),
      (err: Error) => {
        assert.equal(err.name, 'CommitSignatureError');
        return err.message;
      },
    );

  it('verifies SSH signatures by ed25519, RSA and ECDSA keys, in either key file format', async () => {
    const allowedSigners = ['ed25519', 'rsa', 'ecdsa']
      .map((k) => `${k}@driftless.invalid namespaces="git" ${keys[k]}`)
      .join('\n');
    for (const k of ['ed25519', 'rsa', 'ecdsa']) {
      const sha = await signer.commit({ [`${k}.txt`]: k }, `signed by ${k}`, { ssh: k });
      assert.equal((await verify(keys[k] ?? '', sha)).format, 'ssh');
      assert.equal((await verify(allowedSigners, sha)).format, 'ssh');
    }
  });

  it('verifies OpenPGP signatures (ed25519 and RSA keys)', async () => {
    const allowed = `${keys['gpg']}\n${keys['gpg-rsa']}`;
    for (const email of ['release@driftless.invalid', 'rsa@driftless.invalid']) {
      const sha = await signer.commit({ 'gpg.txt': email }, `signed by ${email}`, { gpg: email });
      assert.equal((await verify(allowed, sha)).format, 'openpgp');
    }
  });

  it('refuses unsigned commits and commits signed by keys not allowed, naming the key', async () => {
    const allowed = `${keys['ed25519']}\n${keys['gpg']}`;
    const unsigned = await signer.commit({ 'u.txt': '1' }, 'unsigned');
    assert.match(await refusal(allowed, unsigned), /not applied: it is not signed/);
    const ssh = await signer.commit({ 's.txt': '1' }, 'stranger', { ssh: 'stranger' });
    assert.match(
      await refusal(allowed, ssh),
      /it is signed by SSH key SHA256:[A-Za-z0-9+/]{43}, which is not an allowed key/,
    );
    const gpg = await signer.commit({ 'g.txt': '1' }, 'stranger', {
      gpg: 'stranger@driftless.invalid',
    });
    assert.match(
      await refusal(allowed, gpg),
      /it is signed by OpenPGP key [0-9A-F]{16}, which is not an allowed key/,
    );
    assert.match(await refusal('', unsigned), /no allowed signing keys in test keys/);
  });

  it('refuses a signed commit whose content was changed after signing', async () => {
    for (const sign of [{ ssh: 'ed25519' }, { gpg: 'release@driftless.invalid' }]) {
      const sha = await signer.commit({ 't.txt': JSON.stringify(sign) }, 'honest', sign);
      const raw = await signer.git(['cat-file', 'commit', sha]);
      const forged = await signer.rawCommit(`${raw.replace(/\nhonest$/, '\nforged')}\n`);
      assert.notEqual(forged, sha);
      assert.match(
        await refusal(`${keys['ed25519']}\n${keys['gpg']}`, forged),
        /signature by key \S+ is not valid/,
      );
    }
  });

  it('refuses an SSH signature made for another purpose (namespace other than git)', async () => {
    const sha = await signer.commit({ 'n.txt': '1' }, 'to be re-signed', { ssh: 'ed25519' });
    const raw = `${await signer.git(['cat-file', 'commit', sha])}\n`;
    const payload = raw.replace(/gpgsig [\s\S]*?-----END SSH SIGNATURE-----\n/, '');
    const file = path.join(tmp, 'payload');
    await writeFile(file, payload);
    await run('ssh-keygen', ['-Y', 'sign', '-n', 'file', '-f', path.join(tmp, 'ed25519'), file]);
    const sig = (await readFile(`${file}.sig`, 'utf8')).trim().split('\n');
    const header = `gpgsig ${sig.join('\n ')}\n`;
    const resigned = payload.replace(/\n\n/, `\n${header}\n`);
    const forged = await signer.rawCommit(resigned);
    assert.match(await refusal(keys['ed25519'] ?? '', forged), /namespace "file" is not "git"/);
  });

  it('reads allowed keys from a folder (a mounted Secret), skipping its hidden entries', async () => {
    const folder = path.join(tmp, 'mounted');
    await mkdir(path.join(folder, '..2026_11_30'), { recursive: true });
    await writeFile(path.join(folder, 'ssh'), `${keys['rsa']}\n`);
    await writeFile(path.join(folder, 'gpg.asc'), keys['gpg'] ?? '');
    await writeFile(path.join(folder, '.hidden'), keys['stranger'] ?? '');
    const text = await keysFromFile(folder)();
    assert.ok(text.includes(keys['rsa'] ?? '-') && !text.includes(keys['stranger'] ?? '-'));
    const sha = await signer.commit({ 'f.txt': '1' }, 'rsa again', { ssh: 'rsa' });
    const v = new CommitVerifier({ keys: keysFromFile(folder), keysSource: `file ${folder}` });
    assert.equal((await v.verify({ dir: signer.work, revision: sha })).format, 'ssh');
  });

  describe('the agent on a real cluster', () => {
    let cluster: Cluster;
    let admin: KubeClient;
    let t: TenancyAgent;
    let workDir: string;
    const cm = (v: string) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  v: "${v}"\n`;
    const APPS = `apiVersion: driftless.dev/v1alpha1
kind: Cluster
spec:
  apps:
    - name: web
      path: apps/web
      namespace: default
`;
    const setKeys = (text: string) =>
      admin.apply(
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'commit-signers', namespace: 'driftless-system' },
          stringData: { keys: text },
        },
        { fieldManager: 'test', force: true },
      );
    const live = async () =>
      (
        (
          await admin.get({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            namespace: 'default',
            name: 'settings',
          })
        )?.['data'] as Record<string, string> | undefined
      )?.['v'];
    const web = () => t.agent.statuses().find((s) => s.app === 'web');
    const agentWith = async () =>
      makeTenancyAgent({
        kubeConfig: cluster.kubeConfig,
        git,
        repo,
        workDir,
        verify: (checkout) =>
          new CommitVerifier({
            keys: keysFromSecret(admin, 'driftless-system', 'commit-signers'),
            keysSource: 'Secret driftless-system/commit-signers',
          }).verify(checkout),
      });

    before(async () => {
      cluster = await startCluster();
      admin = await KubeClient.fromKubeConfig(cluster.kubeConfig);
      workDir = await mkdtemp(path.join(os.tmpdir(), 'driftless-signed-agent-'));
      await admin.apply(
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'driftless-system' } },
        { fieldManager: 'test' },
      );
      await setKeys(`${keys['ed25519']}\n${keys['gpg']}`);
      t = await agentWith();
    });
    after(async () => {
      await t?.close();
      admin?.close();
      await cluster?.stop();
      await rm(workDir, { recursive: true, force: true });
    });

    it('applies a commit signed by an allowed key', async () => {
      const sha = await signer.commit(
        { 'clusters/test/driftless.yaml': APPS, 'apps/web/settings.yaml': cm('1') },
        'signed fleet',
        { ssh: 'ed25519' },
      );
      await t.agent.reconcileOnce();
      assert.equal(web()?.syncStatus, 'Synced', web()?.message);
      assert.equal(web()?.revision, sha);
      assert.equal(await live(), '1');
    });

    it('keeps the last verified revision in force when the head is unsigned, and says why', async () => {
      const verified = web()?.revision;
      const unsigned = await signer.commit({ 'apps/web/settings.yaml': cm('2') }, 'unsigned');
      // Terminal: the pass asks for no sooner retry; only a new commit changes the answer.
      assert.equal(await t.agent.reconcileOnce(), true);
      assert.equal(await live(), '1');
      assert.equal(web()?.revision, verified);
      assert.match(
        web()?.message ?? '',
        new RegExp(`commit ${unsigned.slice(0, 7)} not applied: it is not signed`),
      );
      assert.doesNotMatch(web()?.message ?? '', /unreachable/);
    });

    it('refuses a head signed by a key not allowed; applies it once the key is added to the Secret', async () => {
      const sha = await signer.commit({ 'apps/web/settings.yaml': cm('3') }, 'by stranger', {
        ssh: 'stranger',
      });
      await t.agent.reconcileOnce();
      assert.equal(await live(), '1');
      assert.match(
        web()?.message ?? '',
        /signed by SSH key SHA256:\S+, which is not an allowed key/,
      );
      await setKeys(`${keys['ed25519']}\n${keys['gpg']}\n${keys['stranger']}`);
      await t.agent.reconcileOnce();
      assert.equal(await live(), '3');
      assert.equal(web()?.revision, sha);
    });

    it('applies an OpenPGP-signed head', async () => {
      const sha = await signer.commit({ 'apps/web/settings.yaml': cm('4') }, 'gpg', {
        gpg: 'release@driftless.invalid',
      });
      await t.agent.reconcileOnce();
      assert.equal(await live(), '4');
      assert.equal(web()?.revision, sha);
    });

    it('after a restart with other keys, trusts no checkout it kept and applies nothing', async () => {
      await t.close();
      await setKeys(`${keys['rsa']}\n`);
      t = await agentWith();
      await assert.rejects(
        t.agent.reconcileOnce(),
        /is signed by OpenPGP key [0-9A-F]+, which is not an allowed key/,
      );
      assert.equal(await live(), '4', 'the cluster is left as it was');
    });
  });
});
