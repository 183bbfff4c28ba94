/*
 * Summaries and bench/RESULTS.md for bench/run.js.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { TARGETS } = require('./hosts');

const DATABASE_NAMES = { sqlite: 'SQLite (better-sqlite3, in memory)', pg: 'PostgreSQL 18' };

function fmt(r) {
  const sql = r.statements === undefined ? '' : `, ${r.statements.toFixed(2)} statements (${r.roundTrips.toFixed(2)} round trips)`;
  return `${r.rps.toFixed(0)} req/s, ${r.cpuMsPerRequest.toFixed(2)} CPU ms/req (event loop ${r.loopMsPerRequest.toFixed(2)})${r.units !== undefined ? ` (${r.units.toFixed(0)} flows/s)` : ''}, p50 ${r.p50} ms, p99 ${r.p99} ms${sql}${failures(r) ? `, ${failures(r)} FAILED (${failedWith(r)})` : ''}`;
}

function failures(r) {
  return Object.values(r.failedWith).reduce((a, b) => a + b, 0);
}

/** "400 ×12, timeout ×3": what the failed requests got. */
function failedWith(r) {
  return Object.entries(r.failedWith)
    .map(([what, n]) => `${what} ×${n}`)
    .join(', ');
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = (sorted.length - 1) / 2;
  return (sorted[Math.floor(middle)] + sorted[Math.ceil(middle)]) / 2;
}

/**
 * `a`'s req/s over `b`'s, round by round: runs of one round are minutes
 * closer in time than runs of different rounds, so a slow spell of the
 * machine moves both sides of a round's ratio alike.
 */
function roundRatios(a, b) {
  const n = Math.min(a.rpsRuns.length, b.rpsRuns.length);
  return Array.from({ length: n }, (_, i) => a.rpsRuns[i] / b.rpsRuns[i]);
}

/** The median of {@link roundRatios}: how many times `a`'s req/s `b`'s is. */
function speedRatio(a, b) {
  return median(roundRatios(a, b));
}

function summarize(runs) {
  const names = [...new Set(runs.flatMap(r => Object.keys(r.statementNames ?? {})))];
  return {
    rps: median(runs.map(r => r.rps)),
    rpsRuns: runs.map(r => r.rps),
    units: runs[0].units === undefined ? undefined : median(runs.map(r => r.units)),
    p50: median(runs.map(r => r.p50)),
    p99: median(runs.map(r => r.p99)),
    cpuMsPerRequest: median(runs.map(r => r.cpuMsPerRequest)),
    loopMsPerRequest: median(runs.map(r => r.loopMsPerRequest)),
    statements: median(runs.map(r => r.statements)),
    roundTrips: median(runs.map(r => r.roundTrips)),
    statementNames: Object.fromEntries(names.map(n => [n, median(runs.map(r => r.statementNames?.[n] ?? 0))])),
    p99s: runs.map(r => r.p99),
    non2xx: runs.reduce((all, r) => all + (r.non2xx ?? 0), 0),
    statuses: runs.reduce((all, r) => {
      for (const [status, n] of Object.entries(r.statuses ?? {})) all[status] = (all[status] ?? 0) + n;
      return all;
    }, {}),
    ...(runs[0].sidecarCpuMsPerRequest
      ? {
          sidecarCpuMsPerRequest: Object.fromEntries(
            Object.keys(runs[0].sidecarCpuMsPerRequest).map(n => [n, median(runs.map(r => r.sidecarCpuMsPerRequest[n]))]),
          ),
        }
      : {}),
    ...(runs[0].redisCalls !== undefined ? { redisCalls: median(runs.map(r => r.redisCalls)) } : {}),
    failedWith: runs.reduce((all, r) => {
      for (const [what, n] of Object.entries(r.failedWith)) all[what] = (all[what] ?? 0) + n;
      return all;
    }, {}),
  };
}

function machine() {
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  return {
    cpus: `${os.cpus().length} × ${cpu}`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    load: os.loadavg().map(n => n.toFixed(2)).join(' '),
  };
}

const label = target => TARGETS[target]?.label ?? target;
const ratio = (a, b) => (a && b ? `${speedRatio(a, b).toFixed(2)}×` : '–');
const fail = r => (r && failures(r) ? ` ⚠ ${failures(r)} failed (${failedWith(r)})` : '');
const rate = r => (r ? `${r.rps.toFixed(0)}${r.units !== undefined ? ` (${r.units.toFixed(0)} flows/s)` : ''}${fail(r)}` : '–');
const latency = r => (r ? `${r.p50} / ${r.p99}` : '–');
const sqlCell = r => (r ? `${r.statements.toFixed(2)} / ${r.roundTrips.toFixed(2)}` : '–');

/** "1.00 UPDATE oidc_authorization_codes; 1.00 SELECT …": the statements of one run, per request. */
function namedStatements(r) {
  const entries = Object.entries(r.statementNames ?? {})
    .filter(([, n]) => n >= 0.005)
    .sort((a, b) => b[1] - a[1]);
  if (!entries.length) return 'none';
  return entries.map(([name, n]) => `${n.toFixed(2)} × \`${name.trim()}\``).join('; ');
}

/** The goals of issue 15, checked against one database's results. */
function goals(results) {
  const lines = [];
  const mark = ok => (ok ? '✔' : '✘');
  for (const [name, r] of Object.entries(results)) {
    if (!r.ours || !r.upstream) continue;
    const need = /^token exchange$|^full flow/.test(name) ? 1.5 : 1.2;
    const got = speedRatio(r.ours, r.upstream);
    const rounds = roundRatios(r.ours, r.upstream).map(x => x.toFixed(2));
    lines.push(`- ${mark(got >= need)} ${name}: ${got.toFixed(2)}× upstream 0.31.0 req/s (goal ≥ ${need}×; round by round ${rounds.join(', ')})`);
    lines.push(
      `- ${mark(r.ours.statements <= r.upstream.statements + 0.005)} ${name}: ${r.ours.statements.toFixed(2)} statements per ${r.perUnit ?? 'request'} (upstream 0.31.0: ${r.upstream.statements.toFixed(2)})`,
    );
  }
  const signIn = results['guest sign-in'];
  if (signIn?.ours && signIn.upstream) {
    lines.push(
      `- ${mark(signIn.ours.p99 <= signIn.upstream.p99)} guest sign-in p99: ${signIn.ours.p99} ms (upstream 0.31.0: ${signIn.upstream.p99} ms; per run ours ${signIn.ours.p99s.join(', ')}, upstream ${signIn.upstream.p99s.join(', ')})`,
    );
  }
  const plain = results['token exchange']?.ours;
  const bound = Object.entries(results).find(([name]) => name.includes('audience-bound'))?.[1]?.ours;
  if (plain && bound) {
    lines.push(
      `- ${mark(bound.statements <= plain.statements + 0.005 && speedRatio(bound, plain) >= 0.9)} audience-bound token exchange (issue 14): ${bound.rps.toFixed(0)} req/s, ${bound.statements.toFixed(2)} statements, CPU ${bound.cpuMsPerRequest.toFixed(2)} ms/req, against the plain exchange's ${plain.rps.toFixed(0)} req/s, ${plain.statements.toFixed(2)} statements, CPU ${plain.cpuMsPerRequest.toFixed(2)} ms/req (${speedRatio(bound, plain).toFixed(2)}× its req/s, goal ≥ 0.9×)`,
    );
  }
  return lines;
}

/** `settings`: { connections, rounds, p99Rounds, p99Scenarios, seconds, warmUpSeconds, stealPercent?, targets } of the run. */
function writeResults(byDatabase, large, started, loadAtStart, settings) {
  const { connections, rounds, seconds, warmUpSeconds, targets } = settings;
  const steal =
    settings.stealPercent === undefined
      ? ''
      : ` The hypervisor took ${settings.stealPercent.toFixed(1)} % of the machine's CPU time (steal) during the comparison.`;
  const m = machine();
  const others = targets.filter(t => t !== 'ours' && t !== 'upstream');
  const lines = [
    '# Benchmark results',
    '',
    `Generated by \`npm run bench\` on ${new Date().toISOString()} in ${((Date.now() - started) / 1000).toFixed(0)} s.`,
    '',
    `Machine: ${m.cpus}; ${m.memory} RAM; Node ${m.node}; ${m.os}. Load generator (autocannon,`,
    `${connections} connections), backends and PostgreSQL share the machine over loopback. Load average`,
    `(1/5/15 min) at start: ${loadAtStart}; at end: ${m.load}.${steal}`,
    '',
    'Every target runs in the same host backend (`bench/host.ts`: `createBackend()`, guest provider,',
    'in-memory catalog), each in its own process, on SQLite in memory and then on PostgreSQL (a',
    'database of its own per host on one server, `scripts/postgres.js`, fsync off), measured in',
    `rotating rounds; each figure is the median of ${rounds} runs of ${seconds} s (${settings.p99Rounds} for ${settings.p99Scenarios.join(', ')},`,
    `whose goal compares p99s) after a ${warmUpSeconds} s warm-up run of the scenario. A ratio of req/s ("Ours / 0.31.0") is the`,
    'median of the ratios within each round, whose runs follow one another, rather than the ratio of',
    'two medians taken over all rounds, so that a slow spell of the shared machine weighs on both sides',
    `of a ratio alike; the goals below list every round's ratio (token exchange: codes minted just`,
    'before each run; the audience-bound exchange takes turns in the plain one\'s rounds, as one more',
    'contender, since the two are compared). The reference is upstream 0.31.0 with a pre-registered public client',
    '(`auth.staticClients`); 0.30.1, which has no pre-registered clients, uses a DCR client. This',
    'plugin reads the same `auth.staticClients`; its rate limits are set out of reach, so the',
    'limiters run but do not answer 429.',
    '',
    'CPU ms/req is the host process\'s CPU time (all threads, from /proc) over the run divided by the',
    'requests answered; it moves less than req/s on a shared machine. SQL statements and round trips',
    'are counted in each host (every call of its knex client\'s `_query` during the measured runs, so',
    'a transaction\'s BEGIN and COMMIT are round trips but not statements; the scheduler\'s polling of',
    'its own task table is left out) and divided by the requests answered (for the full flow: by the',
    'flows completed, three requests each).',
    '',
    '## What ran',
    '',
    '| Target | Database | Package | Version | Loaded from | Migrations from | Migrations applied (last) |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const [database, { loaded }] of Object.entries(byDatabase)) {
    for (const [target, l] of Object.entries(loaded)) {
      const rel = p => path.relative(path.join(__dirname, '..'), fs.realpathSync(p)) || '.';
      const applied = l.postgresMigrations ?? { count: l.migrationsApplied, last: l.lastMigration };
      lines.push(
        `| ${label(target)} | ${database} | \`${l.package}\` | ${l.version} | \`${rel(l.packageDir)}\` | \`${rel(l.migrationsDir)}\` (${l.migrationsVersion}) | ${applied.count} (\`${applied.last}\`) |`,
      );
    }
  }
  for (const [database, { results }] of Object.entries(byDatabase)) {
    lines.push(
      '',
      `## ${DATABASE_NAMES[database] ?? database}`,
      '',
      `| Scenario | Ours req/s | 0.31.0 req/s | Ours / 0.31.0 |${others.map(t => ` ${label(t).replace('upstream ', '')} req/s | Ours / ${label(t).replace('upstream ', '')} |`).join('')} Ours / 0.31.0 CPU ms/req | p50 / p99 ms ours | 0.31.0 |${others.map(t => ` ${label(t).replace('upstream ', '')} |`).join('')}`,
      `| --- | ---: | ---: | ---: |${others.map(() => ' ---: | ---: |').join('')} ---: | ---: | ---: |${others.map(() => ' ---: |').join('')}`,
    );
    for (const [name, r] of Object.entries(results)) {
      lines.push(
        `| ${name} | ${rate(r.ours)} | ${rate(r.upstream)} | ${ratio(r.ours, r.upstream)} |${others.map(t => ` ${rate(r[t])} | ${ratio(r.ours, r[t])} |`).join('')} ` +
          `${r.ours?.cpuMsPerRequest.toFixed(2) ?? '–'} / ${r.upstream?.cpuMsPerRequest.toFixed(2) ?? '–'} | ${latency(r.ours)} | ${latency(r.upstream)} |${others.map(t => ` ${latency(r[t])} |`).join('')}`,
      );
    }
    lines.push(
      '',
      `SQL statements / round trips per request (full flow: per flow), ${database}:`,
      '',
      `| Scenario | Ours | 0.31.0 |${others.map(t => ` ${label(t).replace('upstream ', '')} |`).join('')}`,
      `| --- | ---: | ---: |${others.map(() => ' ---: |').join('')}`,
    );
    for (const [name, r] of Object.entries(results)) {
      lines.push(`| ${name} | ${sqlCell(r.ours)} | ${sqlCell(r.upstream)} |${others.map(t => ` ${sqlCell(r[t])} |`).join('')}`);
    }
    lines.push('', `The statements, named (verb and tables), per request, ${database}:`, '');
    for (const [name, r] of Object.entries(results)) {
      for (const target of targets) {
        if (r[target]) lines.push(`- ${name}, ${label(target)}: ${namedStatements(r[target])}`);
      }
    }
    lines.push('', `Goals of issue 15 on ${DATABASE_NAMES[database] ?? database} (against upstream 0.31.0):`, '', ...goals(results));
  }
  if (large.length) {
    lines.push(
      '',
      '## Many stored rows (this plugin, PostgreSQL)',
      '',
      'Rows per table in `oauth_authorization_sessions` (decided sessions of the benchmark\'s own client),',
      '`oidc_authorization_codes` and',
      '`oidc_refresh_tokens`, bulk-inserted with `generate_series`, then `VACUUM ANALYZE` and',
      '`CHECKPOINT`. Each row count has its own database and host on the same server; after a',
      `${warmUpSeconds} s warm-up each, they are measured in alternating rounds: the median of ${settings.p99Rounds} runs of ${seconds} s.`,
      '',
      '| Scenario | Stored rows | req/s | p50 ms | p99 ms | p99 of each run, ms | Statements / round trips per request |',
      '| --- | ---: | ---: | ---: | ---: | --- | ---: |',
      ...large.map(
        r =>
          `| ${r.scenario} | ${r.rows.toLocaleString('en')} | ${rate(r)} | ${r.p50} | ${r.p99} | ${r.p99s.join(', ')} | ${sqlCell(r)} |`,
      ),
      '',
    );
    for (const name of [...new Set(large.map(r => r.scenario))]) {
      const [small, big] = [large.find(r => r.scenario === name), large.filter(r => r.scenario === name).at(-1)];
      lines.push(
        `- ${name}: p99 with ${big.rows.toLocaleString('en')} rows is ${(big.p99 / small.p99).toFixed(2)}× the p99 with ${small.rows.toLocaleString('en')} (goal ≤ 1.2×)`,
      );
    }
  }
  fs.writeFileSync(path.join(__dirname, 'RESULTS.md'), `${lines.join('\n')}\n`);
}

module.exports = { fmt, machine, speedRatio, summarize, writeResults };
