// Backstage's shared ESLint setup (what `backstage-cli package lint` expects).
module.exports = require('@backstage/cli/config/eslint-factory')(__dirname, {
  // Production code must not reach into test helpers.
  restrictedImportPatterns: ['**/testUtils/**', '**/e2e/**'],
  overrides: [
    {
      // Test-only code outside `*.test.ts` files: the shared database helper
      // and the end-to-end harness and fixtures. The Backstage rule only
      // knows `__testUtils__` folders, so let these use devDependencies too.
      files: ['src/**/testUtils/**', 'src/e2e/**'],
      rules: {
        '@backstage/no-undeclared-imports': 'off',
        'no-restricted-imports': 'off',
      },
    },
  ],
});
