#!/usr/bin/env node
/*
 * A round-robin HTTP proxy on loopback for the cluster part of bench/run.js
 * (bench/cluster.js), in a process of its own so its CPU time can be told
 * apart from the load generator's and the replicas'. Usage:
 *   node bench/proxy.js <upstream port>...
 * Prints `LISTENING <port>` once it accepts connections. Each request goes to
 * the next upstream in turn, over a keep-alive connection pool per upstream;
 * the answer is streamed back as it came. An upstream that cannot be reached
 * is answered 502, which the bench counts as a failure.
 */
const http = require('node:http');

const ports = process.argv.slice(2).map(Number);
if (!ports.length || ports.some(port => !Number.isInteger(port) || port <= 0)) {
  process.stderr.write('usage: node bench/proxy.js <upstream port>...\n');
  process.exit(2);
}
const upstreams = ports.map(port => ({ port, agent: new http.Agent({ keepAlive: true, maxSockets: 64 }) }));
let next = 0;

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const upstream = upstreams[next];
  next = (next + 1) % upstreams.length;
  const forward = http.request(
    {
      host: '127.0.0.1',
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent: upstream.agent,
    },
    answer => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  forward.on('error', error => {
    if (res.headersSent) {
      res.destroy(error);
      return;
    }
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`bench proxy: upstream ${upstream.port} failed: ${error.message}`);
  });
  req.pipe(forward);
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
