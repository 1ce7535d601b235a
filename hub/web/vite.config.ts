// Bundles the dashboard into dist/ (index.html + hashed assets), which the hub serves at /.
// No dev-server plugins: Preact's JSX goes through Vite's own transform.
export default {
  root: import.meta.dirname,
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The hub's Content-Security-Policy allows no inline script.
    modulePreload: { polyfill: false },
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
  // A type-only reference: eslint-plugin-import-x's resolver fails on an import of 'vite'.
  // eslint-disable-next-line @typescript-eslint/consistent-type-imports
} satisfies import('vite').UserConfig;
