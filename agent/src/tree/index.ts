/**
 * The live object tree of an app, read on the hub's request: managed objects, their children by
 * owner reference, health and recent Events; read-only and bounded. See docs/link.md.
 */
export { TreeReader, type TreeReaderOptions } from './collect.ts';
export { CHILD_KINDS } from './children.ts';
export { resolveTreeLimits, TREE_DEFAULTS, type TreeLimits } from './limits.ts';
export {
  TreeTimeoutError,
  UnknownAppError,
  type AppTree,
  type TreeEvent,
  type TreeNode,
} from './types.ts';
