/**
 * Render: turns an app's folder of a Git checkout into Kubernetes objects —
 * plain YAML/JSON, a Kustomize overlay or a Helm chart — each tagged with
 * the file it came from.
 */
export { render, type RenderOptions, type Renderer } from './render.ts';
export { inputsDigest, INPUT_DIGEST_DEFAULTS, RenderInputs } from './inputs.ts';
export { RenderError, RenderTimeoutError } from './errors.ts';
export { DEFAULT_TOOL_TIMEOUT_MS } from './exec.ts';
export { DEFAULT_KUBE_VERSION } from './helm.ts';
export { parseYaml, parseJson, type TextOrigin } from './parse.ts';
export { RENDER_LIMIT_DEFAULTS, resolveRenderLimits, type RenderLimits } from './limits.ts';
export { CHART_DEFAULTS, type ChartSettings, type CredentialsResolver } from './chart-source.ts';
export {
  ChartNotFoundError,
  ChartUnreachableError,
  fetchChartArchive,
  type ChartCredentials,
} from './chart-fetch.ts';
export { chartCredentials, type ChartCredentialsOptions } from './chart-credentials.ts';
