"""Object stores on loopback for the end-to-end tests: an S3-compatible server that verifies AWS
Signature V4 (test/servers/s3.js, @20minutes/s3rver), and a client that uploads to it the way the
AWS tools do (a signed PUT)."""

import datetime
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request

from cluster import ROOT, Proc

SERVERS = os.path.join(ROOT, "test", "servers")
NODE = shutil.which("node")
S3_READY = os.path.isdir(os.path.join(SERVERS, "node_modules", "@20minutes", "s3rver"))


class S3Server(Proc):
    """The S3 server with `buckets` and the key pair (access_key, secret)."""

    def __init__(self, workdir, buckets=("models",), access_key="AKIDDRAGONFLYTEST",
                 secret="dragonfly-test-secret-key", name="s3"):
        self.access_key, self.secret = access_key, secret
        self.request_log = os.path.join(workdir, name + "-requests.jsonl")
        argv = [NODE, os.path.join(SERVERS, "s3.js"), "--dir", os.path.join(workdir, name),
                "--key", f"{access_key}:{secret}", "--log", self.request_log]
        for b in buckets:
            argv += ["--bucket", b]
        super().__init__(name, argv, workdir, r"s3 listening on 127\.0\.0\.1:(\d+)")

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.match.group(1)}"

    def requests(self, method=None, path=None):
        """The requests served so far ({method, url, range, status}), filtered."""
        if not os.path.exists(self.request_log):
            return []
        with open(self.request_log) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        return [r for r in rows if (method is None or r["method"] == method)
                and (path is None or r["url"].split("?")[0] == path)]

    def put(self, bucket, key, data):
        """Uploads `data` as bucket/key with a SigV4-signed PUT (UNSIGNED-PAYLOAD)."""
        path = f"/{bucket}/{urllib.parse.quote(key)}"
        host = self.endpoint.split("://")[1]
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        headers = {"host": host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
                   "x-amz-date": amz_date}
        signed = ";".join(sorted(headers))
        creq = "\n".join(["PUT", path, ""] + [f"{k}:{headers[k]}" for k in sorted(headers)]
                         + ["", signed, "UNSIGNED-PAYLOAD"])
        scope = f"{day}/us-east-1/s3/aws4_request"
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
        k = ("AWS4" + self.secret).encode()
        for part in (day, "us-east-1", "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        req = urllib.request.Request(self.endpoint + path, data=data, method="PUT")
        req.add_header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        req.add_header("x-amz-date", amz_date)
        req.add_header("Authorization", f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
                                        f"SignedHeaders={signed}, Signature={signature}")
        with urllib.request.urlopen(req, timeout=300) as r:
            assert r.status == 200, r.status

    def backend_config(self, secret=None):
        """The dfdaemon's backSource.s3 section for this server."""
        return {"endpoint": self.endpoint, "region": "us-east-1", "forcePathStyle": True,
                "accessKeyID": self.access_key, "secretAccessKey": secret or self.secret}
