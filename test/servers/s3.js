#!/usr/bin/env node
// An S3-compatible server for the end-to-end tests: @20minutes/s3rver (a maintained fork of
// s3rver that verifies AWS Signature V4), on loopback, with the buckets and key pairs given.
//   node s3.js --dir DIR [--bucket NAME]... [--key ID:SECRET]... [--log FILE] [--address IP]
// Prints "s3 listening on ADDRESS:PORT" when it serves (default address 127.0.0.1); with --log,
// appends one JSON line per request (request_log.js) to FILE, so that a test or a bench can
// count what it served.
'use strict';

const fs = require('fs');
const { logRequests } = require('./request_log');
const S3rver = require('@20minutes/s3rver');
const { DUMMY_ACCOUNT } = require('@20minutes/s3rver/lib/models/account');

const args = process.argv.slice(2);
const opts = { dir: '', buckets: [], keys: [], log: '', address: '127.0.0.1' };
for (let i = 0; i < args.length; i += 2) {
  const [flag, value] = [args[i], args[i + 1]];
  if (value === undefined) throw new Error(`${flag} needs a value`);
  if (flag === '--dir') opts.dir = value;
  else if (flag === '--bucket') opts.buckets.push(value);
  else if (flag === '--key') opts.keys.push(value);
  else if (flag === '--log') opts.log = value;
  else if (flag === '--address') opts.address = value;
  else throw new Error(`unknown flag ${flag}`);
}
if (!opts.dir) throw new Error('--dir is required');
fs.mkdirSync(opts.dir, { recursive: true });
for (const pair of opts.keys) {
  const at = pair.indexOf(':');
  DUMMY_ACCOUNT.createKeyPair(pair.slice(0, at), pair.slice(at + 1));
}

const server = new S3rver({
  address: opts.address,
  port: 0,
  silent: true,
  directory: opts.dir,
  configureBuckets: opts.buckets.map((name) => ({ name, configs: [] })),
});
server.run((err, { address, port } = {}) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  if (opts.log) {
    logRequests(opts.log, server.httpServer, /[?&]X-Amz-Signature=/);
  }
  console.log(`s3 listening on ${address}:${port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
