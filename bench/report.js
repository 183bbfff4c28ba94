/*
 * Summaries and bench/RESULTS.md for bench/run.js.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { TARGETS } = require('./hosts');

const RESULTS_FILE = path.join(__dirname, 'RESULTS.md');
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
  // The cluster section is the cluster part's own (writeClusterSection): kept as it was.
  const cluster = clusterSection(readResults());
  fs.writeFileSync(RESULTS_FILE, `${lines.join('\n')}\n${cluster ? `\n${cluster}\n` : ''}`);
}

// ---------------------------------------------------------------- the cluster section

const CLUSTER_START = '<!-- cluster part: start (written by bench/cluster.js; `BENCH_SCENARIOS=cluster npm run bench` rewrites only this section) -->';
const CLUSTER_END = '<!-- cluster part: end -->';

function readResults() {
  return fs.existsSync(RESULTS_FILE) ? fs.readFileSync(RESULTS_FILE, 'utf8') : '';
}

/** The cluster section of RESULTS.md's text, markers included, or undefined. */
function clusterSection(text) {
  const start = text.indexOf(CLUSTER_START);
  const end = text.indexOf(CLUSTER_END, start);
  return start >= 0 && end >= 0 ? text.slice(start, end + CLUSTER_END.length) : undefined;
}

/** "200 ×9512, 302 ×4756": the statuses autocannon counted. */
const statusList = r =>
  Object.entries(r.statuses ?? {})
    .map(([status, n]) => `${status} ×${n}`)
    .join(', ') || 'none';

/**
 * Replaces the cluster section of bench/RESULTS.md (between its markers)
 * with `cluster`'s results, or appends it; the rest of the file stays as it
 * is. `cluster`: what bench/cluster.js's clusterPart() resolved with;
 * `settings`: { connections, seconds, warmUpSeconds }.
 */
function writeClusterSection(cluster, settings) {
  const { results, labels, rounds, replicas } = cluster;
  const { connections, seconds, warmUpSeconds } = settings;
  const m = machine();
  const [token, flow] = ['token exchange', 'full flow (authorize → approve → token)'].map(name => results[name]);
  const steal =
    cluster.stealPercent === undefined ? '' : ` The hypervisor took ${cluster.stealPercent.toFixed(1)} % of the machine's CPU time (steal) meanwhile.`;
  const ms = (r, key) => (r?.[key] === undefined ? '–' : r[key].toFixed(2));
  const compare = (name, a, b) => {
    const [ra, rb] = [results[name][a], results[name][b]];
    const rounds_ = roundRatios(ra, rb).map(x => x.toFixed(2));
    return `${name.split(' (')[0]} ${speedRatio(ra, rb).toFixed(2)}× req/s (round by round ${rounds_.join(', ')}), p99 ${rb.p99} → ${ra.p99} ms`;
  };
  const comparison = (what, a, b) => `- ${what}: ${compare('token exchange', a, b)}; ${compare('full flow (authorize → approve → token)', a, b)}.`;
  const failedRuns = Object.values(results).flatMap(byKey => Object.entries(byKey).filter(([, r]) => failures(r)));
  const lines = [
    CLUSTER_START,
    `## Cluster: ${replicas} replicas sharing their rate limits through Redis (this plugin, PostgreSQL 18)`,
    '',
    `Generated by \`BENCH_SCENARIOS=cluster npm run bench\` (the last part of \`npm run bench\` too) on ${cluster.started}`,
    `in ${cluster.seconds.toFixed(0)} s. Machine: ${m.cpus}; ${m.memory} RAM; Node ${m.node}; ${m.os}. Load average (1/5/15 min)`,
    `at start: ${cluster.loadAtStart}; at end: ${cluster.loadAtEnd}.${steal}`,
    '',
    `This plugin (${cluster.loaded.replica.version}) on PostgreSQL, with redis-server ${cluster.redisVersion} on loopback without`,
    "persistence (`--save '' --appendonly no`), in four configurations:",
    '',
    `- **${labels.memory}**: one host (\`bench/host.ts\`) with no shared store, so its budgets count in`,
    '  its own memory; a database of its own.',
    `- **${labels['memory-proxy']}**: the same host reached through \`bench/proxy.js\`, a plain`,
    '  `node:http` round-robin proxy with keep-alive connections to its upstreams, in a process of its own;',
    '  against the line above, this is what the proxy costs.',
    `- **${labels.redis}**: a host whose backend config has \`backend.cache: { store: 'redis', connection }\`,`,
    '  so each budget a request takes is one EVALSHA in Redis (a token request takes two: its address\'s',
    '  and its user\'s of the public client; an authorize request one; an approval none); reached directly.',
    `  It is the first of the ${replicas} replicas below, whose other ${replicas - 1} idle meanwhile.`,
    `- **${labels.cluster}**: ${replicas} such hosts on one database and one Redis, \`backend.baseUrl\` the`,
    "  proxy's address, behind the proxy, which sends each request to the next replica in turn (a flow's",
    '  authorize, approve and token requests each land on another replica).',
    '',
    'Every budget of `auth.oidcProvider.rateLimits` is set to 100,000,000 requests per window',
    '(`bench/host.ts`), so the limiters, and the shared counting, run on every request but never',
    'answer 429; all requests come from 127.0.0.1, so every request to an endpoint takes from the same',
    `key. Load: autocannon with ${connections} connections, from the bench process. The four configurations take`,
    `turns in rotating rounds like the main comparison; each figure is the median of ${rounds} runs of ${seconds} s after a`,
    `${warmUpSeconds} s warm-up run of each (${replicas * warmUpSeconds} s for the ${replicas} replicas, which share it), and a ratio is the median of the`,
    'ratios within each round (token exchange:',
    'codes minted just before each run, through the same path). CPU ms per request is each process\'s CPU',
    'time over the run (from /proc) divided by the requests answered; the replicas\' are added up. It',
    `moves less than req/s, whose ratios in single rounds spread widely over only ${rounds} rounds (listed below). The`,
    'load generator, proxy, replicas, PostgreSQL and Redis all share the two cores, so three replicas',
    'bring no more CPU than one: these figures show what sharing and the proxy cost, not how replicas',
    'scale on machines of their own.',
    '',
    '| Configuration | Token exchange req/s | p50 / p99 ms | Full flow req/s | p50 / p99 ms |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...Object.entries(labels).map(
      ([key, name]) => `| ${name} | ${rate(token[key])} | ${latency(token[key])} | ${rate(flow[key])} | ${latency(flow[key])} |`,
    ),
    '',
    '| Configuration | Scenario | Replicas CPU ms/req | Proxy CPU ms/req | Redis CPU ms/req | Redis scripts / req | SQL statements / req |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const [name, byKey] of Object.entries(results)) {
    for (const [key, r] of Object.entries(byKey)) {
      lines.push(
        `| ${labels[key]} | ${name.split(' (')[0]} | ${r.cpuMsPerRequest.toFixed(2)} | ${ms(r.sidecarCpuMsPerRequest, 'proxy')} | ${ms(r.sidecarCpuMsPerRequest, 'redis')} | ${r.redisCalls === undefined ? '–' : r.redisCalls.toFixed(2)} | ${(r.statements / (r.units === undefined ? 1 : 3)).toFixed(2)} |`,
      );
    }
  }
  lines.push(
    '',
    'What each step costs:',
    '',
    comparison(`Sharing, one replica (${labels.redis} against ${labels.memory})`, 'redis', 'memory'),
    comparison(`The proxy (${labels['memory-proxy']} against ${labels.memory})`, 'memory-proxy', 'memory'),
    comparison(`${replicas} replicas on Redis against 1 in memory, both through the proxy (${labels.cluster} against ${labels['memory-proxy']})`, 'cluster', 'memory-proxy'),
    comparison(`Altogether (${labels.cluster} against ${labels.memory})`, 'cluster', 'memory'),
    '',
    `Redis's part is the first line and the Redis columns above: the ${replicas} replicas run as many scripts per request as`,
    'one. What they lose beyond it goes with their own CPU time per request (the replicas\' column), not',
    `Redis's: ${replicas} processes, each serving a third of the requests, share two cores with the load generator,`,
    'the proxy, PostgreSQL and Redis.',
    '',
    `Answers, all runs (autocannon's count per status, and of answers outside 2xx): ${Object.entries(results)
      .flatMap(([name, byKey]) =>
        Object.entries(byKey).map(([key, r]) => `${name.split(' (')[0]}, ${key}: ${statusList(r)} (non-2xx ${r.non2xx})`),
      )
      .join('; ')}. ${
      failedRuns.length
        ? `⚠ Unexpected answers: ${failedRuns.map(([key, r]) => `${key} ${failedWith(r)}`).join('; ')}.`
        : 'No unexpected answer, error or timeout (the full flow\'s 302s are its authorize step\'s).'
    } Redis held ${cluster.limitKeys} keys of the limits at the end.`,
    CLUSTER_END,
  );
  const section = lines.join('\n');
  const text = readResults();
  const old = clusterSection(text);
  fs.writeFileSync(RESULTS_FILE, old ? text.replace(old, () => section) : `${text.replace(/\n*$/, '\n')}\n${section}\n`);
}

module.exports = { fmt, machine, speedRatio, summarize, writeClusterSection, writeResults };
