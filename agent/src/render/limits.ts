import { RenderError } from './errors.ts';

/** How much one render may read and produce; every value is a documented agent flag. */
export interface RenderLimits {
  /** Largest single file a renderer reads from the checkout (manifest, values file, chart file), in bytes. */
  maxFileBytes: number;
  /** Largest rendered output of one app (all plain files together, or a tool's output), in bytes. */
  maxRenderBytes: number;
  /** Most objects one app may render. */
  maxObjects: number;
}

/** The defaults of {@link RenderLimits}: far above any real app, far below what hurts the agent. */
export const RENDER_LIMIT_DEFAULTS: RenderLimits = {
  maxFileBytes: 16 * 1024 * 1024,
  maxRenderBytes: 64 * 1024 * 1024,
  maxObjects: 5_000,
};

/** Fills unset limits with {@link RENDER_LIMIT_DEFAULTS}; the only place that does. */
export function resolveRenderLimits(limits: Partial<RenderLimits> = {}): RenderLimits {
  return {
    maxFileBytes: limits.maxFileBytes ?? RENDER_LIMIT_DEFAULTS.maxFileBytes,
    maxRenderBytes: limits.maxRenderBytes ?? RENDER_LIMIT_DEFAULTS.maxRenderBytes,
    maxObjects: limits.maxObjects ?? RENDER_LIMIT_DEFAULTS.maxObjects,
  };
}

/** `12.5 MiB`, how messages show sizes. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Refuses a file larger than the limit, before it is read or parsed. */
export function checkFileSize(source: string, size: number, limits: RenderLimits): void {
  if (size > limits.maxFileBytes) {
    throw new RenderError(
      `render ${source}: file is ${formatBytes(size)}, over the ${formatBytes(limits.maxFileBytes)} limit (--render-max-file-bytes)`,
      { file: source },
    );
  }
}

/** Refuses a render whose objects outnumber the limit. */
export function checkObjectCount(what: string, count: number, limits: RenderLimits): void {
  if (count > limits.maxObjects) {
    throw new RenderError(
      `render ${what}: ${count} objects, over the limit of ${limits.maxObjects} per app (--render-max-objects)`,
      { file: what },
    );
  }
}
