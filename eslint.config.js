// Type-aware lint for every package. Beyond the recommended sets it enforces
// the layout rules of STYLE.md: no floating promises, type-only imports,
// no import cycles, no deep imports into another package, and hub and agent
// sharing only @driftless/proto and @driftless/common.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

const noDeepImports = {
  group: ['@driftless/*/*'],
  message: 'Import another package through its index (@driftless/<name>), never its files.',
};

export default tseslint.config(
  {
    ignores: ['**/node_modules/**', '.toolchain/**', 'proto/gen/**', 'hub/web/dist/**', 'dist/**'],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // Async functions that implement async interfaces need not await anything.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'import-x/no-cycle': 'error',
      'no-restricted-imports': ['error', { patterns: [noDeepImports] }],
    },
  },
  {
    files: ['agent/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            noDeepImports,
            {
              group: ['@driftless/hub', '**/hub/**'],
              message: 'The agent never imports the hub; share through proto or common.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['hub/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            noDeepImports,
            {
              group: ['@driftless/agent', '**/agent/**'],
              message: 'The hub never imports the agent; share through proto or common.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['common/**/*.ts', 'proto/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            noDeepImports,
            {
              group: ['@driftless/hub', '@driftless/agent', '@driftless/test'],
              message: 'proto and common depend on nothing above them.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: {
      // node:test's describe/it return promises the runner awaits itself.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
    },
  },
);
