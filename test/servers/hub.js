#!/usr/bin/env node
// A model hub for the end-to-end tests: the endpoints of the Hugging Face Hub's HTTP API that the
// hf:// backend calls, serving one private repository from a directory, on loopback, as the
// hub documents and answers them (huggingface_hub's file_download.py, hf_api.py, utils/_http.py):
//   GET /api/{models|datasets|spaces}/{repo}/revision/{rev}   {"id","sha","siblings":[...]}
//   GET /api/{...}/{repo}/tree/{rev}[/{path}]?recursive=true  pages of {"type","oid","size",
//       "path"[,"lfs":{"oid","size","pointerSize"}]}, the next page in a Link header (cursor=)
//   GET|HEAD /[datasets/|spaces/]{repo}/resolve/{rev}/{path}  a small file itself (200/206,
//       X-Repo-Commit, ETag); a large ("LFS") file a 302 to a second server, the "CDN", with a
//       signed URL, X-Linked-Size and X-Linked-Etag (the token is not for the CDN)
// Every hub request needs "Authorization: Bearer TOKEN" (a private repository): none is 401
// "Invalid username or password.", another token 401 "Invalid credentials in Authorization
// header"; a revision, repository or file the hub does not have is 404 with X-Error-Code
// RevisionNotFound, RepoNotFound or EntryNotFound. Revisions: "main", the tag "v1.0" and the
// commit sha (derived from the files).
//   node hub.js --dir DIR --repo owner/name --token TOKEN [--kind models] [--lfs-from BYTES]
//               [--page-size N] [--log FILE]
// Prints "hub listening on 127.0.0.1:PORT cdn 127.0.0.1:PORT"; with --log, appends one JSON line
// per request (request_log.js, with `server`: hub or cdn) to FILE.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { logRequest } = require('./request_log');

const args = process.argv.slice(2);
const opts = { dir: '', repo: '', token: '', kind: 'models', lfsFrom: 1 << 20, pageSize: 50, log: '' };
for (let i = 0; i < args.length; i += 2) {
  const [flag, value] = [args[i], args[i + 1]];
  if (value === undefined) throw new Error(`${flag} needs a value`);
  if (flag === '--dir') opts.dir = value;
  else if (flag === '--repo') opts.repo = value;
  else if (flag === '--token') opts.token = value;
  else if (flag === '--kind') opts.kind = value;
  else if (flag === '--lfs-from') opts.lfsFrom = Number(value);
  else if (flag === '--page-size') opts.pageSize = Number(value);
  else if (flag === '--log') opts.log = value;
  else throw new Error(`unknown flag ${flag}`);
}
if (!opts.dir || !opts.repo || !opts.token) throw new Error('--dir, --repo and --token are required');

// The repository: every file under --dir, read once at start.
const files = new Map();  // path -> {full, size, sha256, oid}
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) { walk(full); continue; }
    const data = fs.readFileSync(full);
    files.set(path.relative(opts.dir, full).split(path.sep).join('/'), {
      full, size: data.length,
      sha256: crypto.createHash('sha256').update(data).digest('hex'),
      oid: crypto.createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex'),
    });
  }
})(opts.dir);
const sorted = [...files.keys()].sort();
const commit = crypto.createHash('sha1')
  .update(sorted.map((p) => `${p} ${files.get(p).sha256}`).join('\n')).digest('hex');
const revisions = new Set(['main', 'v1.0', commit]);
const byDigest = new Map([...files.values()].map((f) => [f.sha256, f]));
const cdnSecret = crypto.randomBytes(16).toString('hex');

function log(server, req, res) {
  if (opts.log) logRequest(opts.log, req, res, null, { server });
}

function fail(res, status, code, message, extra = {}) {
  const headers = { 'Content-Type': 'application/json', 'X-Error-Message': message, ...extra };
  if (code) headers['X-Error-Code'] = code;
  res.writeHead(status, headers);
  res.end(JSON.stringify({ error: message }));
}

// Sends `f` (or its Range) with `headers`.
function sendFile(req, res, f, headers) {
  let [start, end, status] = [0, f.size - 1, 200];
  const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range || '');
  if (m && (m[1] !== '' || m[2] !== '')) {
    if (m[1] === '') { start = Math.max(0, f.size - Number(m[2])); } else {
      start = Number(m[1]);
      if (m[2] !== '') end = Math.min(end, Number(m[2]));
    }
    if (start >= f.size || start > end) {
      res.writeHead(416, { 'Content-Range': `bytes */${f.size}` });
      res.end();
      return;
    }
    status = 206;
    headers['Content-Range'] = `bytes ${start}-${end}/${f.size}`;
  }
  headers['Content-Length'] = String(f.size === 0 ? 0 : end - start + 1);
  headers['Accept-Ranges'] = 'bytes';
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || f.size === 0) { res.end(); return; }
  fs.createReadStream(f.full, { start, end }).pipe(res);
}

function treePage(req, res, url, rev, dir) {
  const prefix = dir ? dir + '/' : '';
  const items = [];
  const dirs = new Set();
  for (const p of sorted) {
    if (!p.startsWith(prefix)) continue;
    const parts = p.slice(prefix.length).split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = prefix + parts.slice(0, i).join('/');
      if (!dirs.has(d)) { dirs.add(d); items.push({ type: 'directory', oid: commit, size: 0, path: d }); }
    }
    const f = files.get(p);
    const item = { type: 'file', oid: f.oid, size: f.size, path: p };
    if (f.size >= opts.lfsFrom) item.lfs = { oid: f.sha256, size: f.size, pointerSize: 134 };
    items.push(item);
  }
  if (dir && items.length === 0) return fail(res, 404, 'EntryNotFound', `${dir} does not exist on "${rev}"`);
  const cursor = Number(url.searchParams.get('cursor') || '0');
  const page = items.slice(cursor, cursor + opts.pageSize);
  const headers = { 'Content-Type': 'application/json' };
  if (cursor + opts.pageSize < items.length) {
    const next = new URL(url.href);
    next.searchParams.set('cursor', String(cursor + opts.pageSize));
    headers.Link = `<${next.href}>; rel="next"`;
  }
  res.writeHead(200, headers);
  res.end(JSON.stringify(page));
}

let cdnPort = 0;
const hub = http.createServer((req, res) => {
  const auth = req.headers.authorization || '';
  log('hub', req, res);
  const url = new URL(req.url, `http://${req.headers.host}`);
  if (auth === '') return fail(res, 401, 'RepoNotFound', 'Invalid username or password.',
    { 'WWW-Authenticate': 'Bearer realm="Authentication required", charset="UTF-8"' });
  if (auth !== `Bearer ${opts.token}`) return fail(res, 401, '', 'Invalid credentials in Authorization header');
  const segs = url.pathname.split('/').slice(1).map(decodeURIComponent);
  const kindPrefix = opts.kind === 'models' ? [] : [opts.kind];
  const repo = opts.repo.split('/');
  let rest;
  if (segs[0] === 'api') {
    if (segs[1] !== opts.kind || segs[2] !== repo[0] || segs[3] !== repo[1]) {
      return fail(res, 404, 'RepoNotFound', 'Repository not found');
    }
    const [what, rev] = [segs[4], segs[5]];
    if (!revisions.has(rev)) return fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
    if (what === 'revision' && segs.length === 6) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ id: opts.repo, sha: commit, private: true,
        siblings: sorted.map((p) => ({ rfilename: p })) }));
    }
    if (what === 'tree') return treePage(req, res, url, rev, segs.slice(6).join('/'));
    return fail(res, 404, '', 'Sorry, we can\'t find the page you are looking for.');
  }
  rest = segs.slice(kindPrefix.length);
  if (segs.slice(0, kindPrefix.length).join('/') !== kindPrefix.join('/') ||
      rest[0] !== repo[0] || rest[1] !== repo[1]) {
    return fail(res, 404, 'RepoNotFound', 'Repository not found');
  }
  if (rest[2] !== 'resolve' || (req.method !== 'GET' && req.method !== 'HEAD')) {
    return fail(res, 404, '', 'Sorry, we can\'t find the page you are looking for.');
  }
  if (!revisions.has(rest[3])) return fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${rest[3]}`);
  const f = files.get(rest.slice(4).join('/'));
  if (!f) return fail(res, 404, 'EntryNotFound', 'Entry not found', { 'X-Repo-Commit': commit });
  if (f.size >= opts.lfsFrom) {
    const sig = crypto.createHmac('sha256', cdnSecret).update(f.sha256).digest('hex');
    res.writeHead(302, {
      Location: `http://127.0.0.1:${cdnPort}/lfs/${f.sha256}?X-Amz-Signature=${sig}`,
      'X-Repo-Commit': commit, 'X-Linked-Size': String(f.size), 'X-Linked-Etag': `"${f.sha256}"`,
    });
    return res.end();
  }
  sendFile(req, res, f, { 'Content-Type': 'application/octet-stream', 'X-Repo-Commit': commit,
    ETag: `"${f.oid}"` });
});

// The LFS storage: signed URLs only; it never needs (and must never get) the hub token.
const cdn = http.createServer((req, res) => {
  log('cdn', req, res);
  const url = new URL(req.url, 'http://cdn');
  const m = /^\/lfs\/([0-9a-f]{64})$/.exec(url.pathname);
  const f = m && byDigest.get(m[1]);
  const sig = m && crypto.createHmac('sha256', cdnSecret).update(m[1]).digest('hex');
  if (!f || url.searchParams.get('X-Amz-Signature') !== sig) {
    res.writeHead(403, { 'Content-Type': 'application/xml' });
    return res.end('<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Bad signature</Message></Error>');
  }
  sendFile(req, res, f, { 'Content-Type': 'application/octet-stream', ETag: `"${f.sha256}"` });
});

cdn.listen(0, '127.0.0.1', () => {
  cdnPort = cdn.address().port;
  hub.listen(0, '127.0.0.1', () => {
    console.log(`hub listening on 127.0.0.1:${hub.address().port} cdn 127.0.0.1:${cdnPort}`);
  });
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => { hub.close(); cdn.close(); process.exit(0); });
}
