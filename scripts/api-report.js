#!/usr/bin/env node
/* eslint-disable no-console */
// Writes report.api.md, the API Extractor report of the public entry point
// (src/index.ts), or with --check fails when the committed report is stale.
//
// Upstream produces this report with `backstage-repo-tools api-reports`, which
// finds no workspace packages in a single-package repository and does nothing,
// so API Extractor is called directly on the declarations `tsc` emits into
// dist-types/ (see api-extractor.json).
const path = require('node:path');
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const { Extractor, ExtractorConfig } = require('@microsoft/api-extractor');

const root = path.resolve(__dirname, '..');
const check = process.argv.includes('--check');
const reportPath = path.join(root, 'report.api.md');

function emitDeclarations() {
  // Incremental (tsbuildinfo), so this is cheap when nothing changed.
  try {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc')], {
      cwd: root,
      stdio: 'inherit',
    });
  } catch {
    console.error('\ntsc failed, so the API report cannot be built; fix the type errors above.');
    process.exit(1);
  }
}

function main() {
  emitDeclarations();
  const config = ExtractorConfig.loadFileAndPrepare(
    path.join(root, 'api-extractor.json'),
  );
  const result = Extractor.invoke(config, {
    localBuild: !check,
    messageCallback(message) {
      // API Extractor bundles its own compiler; the version notices are noise.
      if (
        message.messageId === 'console-preamble' ||
        message.messageId === 'console-compiler-version-notice'
      ) {
        message.handled = true;
      }
      // In --check mode the "copy temp/report.api.md" advice is replaced by
      // our own message below.
      if (check && message.messageId === 'console-api-report-not-copied') {
        message.handled = true;
      }
    },
  });

  if (check && result.apiReportChanged) {
    const fresh = path.join(root, 'temp', 'report.api.md');
    console.error(
      `\nreport.api.md is stale: the public API of src/index.ts differs from the committed report.\n` +
        `Review the change, then run \`npm run reports\` and commit report.api.md.\n`,
    );
    if (!fs.existsSync(reportPath)) {
      console.error('report.api.md does not exist.');
    } else if (fs.existsSync(fresh)) {
      try {
        execFileSync('git', ['diff', '--no-index', '--', reportPath, fresh], {
          stdio: 'inherit',
        });
      } catch {
        // git diff exits 1 when the files differ, which is the case here.
      }
    }
    process.exit(1);
  }
  if (!result.succeeded) {
    console.error(
      `\nAPI Extractor reported ${result.errorCount} error(s) and ${result.warningCount} warning(s); see above.`,
    );
    process.exit(1);
  }
  console.log(check ? 'report.api.md is up to date' : 'Wrote report.api.md');
}

main();
