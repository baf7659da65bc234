#!/usr/bin/env node
// An Azure Blob Storage server for the end-to-end tests: Azurite (Microsoft's emulator), blob
// service only, on loopback, with the account devstoreaccount1 and its well-known key (Azurite
// checks Shared Key and SAS signatures; a wrong one is 403 AuthorizationFailure).
//   node azure.js --dir DIR [--log FILE]
// Prints "azure listening on 127.0.0.1:PORT" when it serves; with --log, appends one JSON line
// per request (request_log.js) to FILE, so that a test can count what it served.
'use strict';

const fs = require('fs');
const path = require('path');
const { logRequests } = require('./request_log');
const BlobServer = require('azurite/dist/src/blob/BlobServer').default;
const BlobConfiguration = require('azurite/dist/src/blob/BlobConfiguration').default;

const args = process.argv.slice(2);
const opts = { dir: '', log: '' };
for (let i = 0; i < args.length; i += 2) {
  const [flag, value] = [args[i], args[i + 1]];
  if (value === undefined) throw new Error(`${flag} needs a value`);
  if (flag === '--dir') opts.dir = value;
  else if (flag === '--log') opts.log = value;
  else throw new Error(`unknown flag ${flag}`);
}
if (!opts.dir) throw new Error('--dir is required');
fs.mkdirSync(opts.dir, { recursive: true });

(async () => {
  // host, port (0: any), keep-alive, metadata and extent DBs, where blobs live, no access log,
  // no debug log, strict (not loose), API versions checked.
  const config = new BlobConfiguration(
    '127.0.0.1', 0, undefined,
    path.join(opts.dir, '__azurite_db_blob__.json'),
    path.join(opts.dir, '__azurite_db_blob_extent__.json'),
    [{ locationId: 'Default', locationPath: path.join(opts.dir, 'blobs'), maxConcurrency: 10 }],
    false, undefined, false, undefined, false, false);
  const server = new BlobServer(config);
  await server.start();
  if (opts.log) {
    logRequests(opts.log, server.httpServer, /[?&]sig=/);
  }
  console.log(`azure listening on 127.0.0.1:${server.httpServer.address().port}`);
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => server.close().then(() => process.exit(0)));
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
