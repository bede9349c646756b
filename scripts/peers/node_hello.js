#!/usr/bin/env node
// Reference peer: the Node.js http module answering /hello, so the bench can
// put our servers next to "what Node does" on the same plots. It is meant to
// be the plain, idiomatic Node server a workshop attendee would write: no
// cluster, no tuning. Run as:  node scripts/peers/node_hello.js PORT [HOST]
// PORT 0 lets the kernel pick; the line "listening on HOST:PORT" says which.
'use strict';

const http = require('http');

function usage(code) {
  const out = code === 0 ? process.stdout : process.stderr;
  out.write('usage: node node_hello.js PORT [HOST]\n' +
            '  GET / and GET /hello answer "Hello, World!" (text/plain);\n' +
            '  anything else 404. Prints "listening on HOST:PORT" once ready;\n' +
            '  SIGINT/SIGTERM stop it with exit status 0.\n');
  process.exit(code);
}

const args = process.argv.slice(2);
if (args.includes('-h') || args.includes('--help')) usage(0);
if (args.length < 1 || args.length > 2) usage(2);
const port = Number(args[0]);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`node_hello.js: bad port '${args[0]}'\n`);
  process.exit(2);
}
const host = args[1] || '127.0.0.1';

const HELLO = Buffer.from('Hello, World!');

const server = http.createServer((req, res) => {
  if (req.url === '/hello' || req.url === '/') {
    res.writeHead(200, {'Content-Type': 'text/plain', 'Content-Length': HELLO.length});
    res.end(HELLO);
  } else {
    res.writeHead(404, {'Content-Type': 'text/plain', 'Content-Length': 0});
    res.end();
  }
});

// Node's default keep-alive timeout (5 s) would close connections that a
// load generator holds idle between phases; match our servers, which keep an
// idle connection open until the client closes it.
server.keepAliveTimeout = 0;
server.headersTimeout = 10000;
server.requestTimeout = 0;

server.on('error', (err) => {
  process.stderr.write(`node_hello.js: ${err.message}\n`);
  process.exit(2);
});

// The same listen backlog as our servers (--backlog 4096) and nginx's
// generated config: Node's default, 511, drops the SYNs of a thousand
// clients connecting at once, and the bench then measures connect retries.
server.listen({port, host, backlog: 4096}, () => {
  const a = server.address();
  const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  process.stdout.write(`listening on ${shown}:${a.port}\n`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.close();
    process.exit(0);
  });
}
