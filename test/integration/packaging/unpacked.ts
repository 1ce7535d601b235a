/**
 * Runs a container image's entrypoint without a container runtime: podman
 * cannot start containers on this test machine (its sandbox refuses the
 * rlimits and the hybrid cgroup layout crun and runc set up), so the image is
 * unpacked with umoci and run in a chroot the way a runtime would run it —
 * the image's user, environment and working directory, a read-only root
 * filesystem, and writable tmpfs only where the charts mount volumes.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The parts of an OCI image configuration a runtime uses to start it. */
export interface ImageConfig {
  User: string;
  Env: string[];
  Entrypoint: string[];
  Cmd?: string[];
  WorkingDir: string;
}

/** An image unpacked into a root filesystem. */
export interface UnpackedImage {
  readonly rootfs: string;
  readonly config: ImageConfig;
}

/**
 * Unpacks the image `ref` (e.g. `driftless/agent:0.1.0`) of the OCI archive
 * `archive` into `dir`/bundle/rootfs.
 */
export async function unpackImage(
  archive: string,
  ref: string,
  dir: string,
): Promise<UnpackedImage> {
  const layout = join(dir, 'layout');
  const bundle = join(dir, 'bundle');
  mkdirSync(layout, { recursive: true });
  await run('tar', ['-xf', archive, '-C', layout]);
  await run('umoci', ['unpack', '--image', `${layout}:${ref}`, bundle]);
  const blob = await run('skopeo', ['inspect', '--config', `oci-archive:${archive}`]);
  const config = (JSON.parse(blob.stdout) as { config: ImageConfig }).config;
  return { rootfs: join(bundle, 'rootfs'), config };
}

/** How to start an unpacked image: like `podman run --read-only --tmpfs … -v … -e …`. */
export interface ChrootRun {
  /** Arguments replacing the image's Cmd (the Entrypoint stays). */
  args?: readonly string[];
  /** A command replacing the image's Entrypoint and Cmd, like `--entrypoint`. */
  entrypoint?: readonly string[];
  /** Environment added to (and overriding) the image's. */
  env?: Record<string, string>;
  /** Folders inside the image that get an empty tmpfs owned by the image's user. */
  tmpfs?: readonly string[];
  /** The working directory instead of the image's WorkingDir, like `--workdir`. */
  workdir?: string;
  /** Host folders mounted read-only at a path inside one of the `tmpfs` folders. */
  binds?: readonly { host: string; inside: string }[];
}

/** The command (for spawn or startProcess) that runs the image as `options` say. */
export function chrootCommand(
  image: UnpackedImage,
  options: ChrootRun,
): { command: string; args: string[] } {
  const [uid, gid = uid] = image.config.User.split(':');
  if (!uid || !/^\d+$/.test(uid) || !gid || !/^\d+$/.test(gid)) {
    throw new Error(`image user ${image.config.User} is not numeric`);
  }
  const env = new Map(image.config.Env.map((e) => [e.slice(0, e.indexOf('=')), e] as const));
  for (const [k, v] of Object.entries(options.env ?? {})) env.set(k, `${k}=${v}`);
  const argv = options.entrypoint
    ? [...options.entrypoint]
    : [...image.config.Entrypoint, ...(options.args ?? image.config.Cmd ?? [])];
  const tmpfs = options.tmpfs ?? [];
  const binds = options.binds ?? [];
  // Runs in a private mount namespace, so nothing stays mounted when it ends.
  const script = [
    'set -eu',
    'r=$1; shift',
    'mount --bind "$r" "$r"',
    'mount --rbind /proc "$r/proc"',
    'mount --rbind /dev "$r/dev"',
    ...tmpfs.map(
      (_, i) => `mount -t tmpfs -o mode=0700,uid=${uid},gid=${gid} tmpfs "$r/$TMPFS_${i}"`,
    ),
    ...binds.map(
      (_, i) =>
        `mkdir -p "$r/$BIND_IN_${i}" && mount --bind "$BIND_HOST_${i}" "$r/$BIND_IN_${i}" && mount -o remount,bind,ro "$r/$BIND_IN_${i}"`,
    ),
    'mount -o remount,bind,ro "$r"',
    `exec chroot --userspec=${uid}:${gid} "$r" /usr/bin/env -i -C "$WORKDIR" "$@"`,
  ].join('\n');
  const vars = [
    `WORKDIR=${options.workdir ?? (image.config.WorkingDir || '/')}`,
    ...tmpfs.map((p, i) => `TMPFS_${i}=${p}`),
    ...binds.flatMap((b, i) => [`BIND_HOST_${i}=${b.host}`, `BIND_IN_${i}=${b.inside}`]),
  ];
  return {
    command: 'env',
    args: [
      ...vars,
      'unshare',
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      script,
      'sh',
      image.rootfs,
      ...env.values(),
      ...argv,
    ],
  };
}

/** Runs the image to its end; resolves with its output, rejects when it exits non-zero. */
export async function runUnpacked(
  image: UnpackedImage,
  options: ChrootRun,
): Promise<{ stdout: string; stderr: string }> {
  const { command, args } = chrootCommand(image, options);
  return run(command, args, { maxBuffer: 16 * 1024 * 1024 });
}

/** The file at `path` inside the image. */
export function readInImage(image: UnpackedImage, path: string): string {
  return readFileSync(join(image.rootfs, path), 'utf8');
}
