// The request log the test servers keep for the tests and benches: one JSON line per request
// answered, {method, url, range, status, bytes: the body's announced length, auth: whether it
// was signed (an Authorization header, or a signature parameter named by `signedBy`)} plus
// `extra`.
'use strict';

const fs = require('fs');

// Logs `res` of `req` to `file` once it is answered.
function logRequest(file, req, res, signedBy, extra = {}) {
  res.on('finish', () => {
    fs.appendFileSync(file, JSON.stringify({
      ...extra, method: req.method, url: req.url, range: req.headers.range || '',
      status: res.statusCode, bytes: Number(res.getHeader('content-length') || 0),
      auth: Boolean(req.headers.authorization || (signedBy && signedBy.test(req.url))),
    }) + '\n');
  });
}

// Logs every request `server` (an http.Server) answers.
function logRequests(file, server, signedBy) {
  server.on('request', (req, res) => logRequest(file, req, res, signedBy));
}

module.exports = { logRequest, logRequests };
