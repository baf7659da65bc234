"""Object stores on loopback for the end-to-end tests: an S3-compatible server that verifies AWS
Signature V4 (test/servers/s3.js, @20minutes/s3rver) and Azure Blob Storage (test/servers/azure.js,
Azurite), each with a client that uploads to it the way the vendor's tools do (signed PUTs)."""

import base64
import datetime
import email.utils
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
AZURITE_READY = os.path.isdir(os.path.join(SERVERS, "node_modules", "azurite"))


class RequestLog:
    """The JSON lines ({method, url, range, status}) a test server writes per request."""

    def requests(self, method=None, path=None):
        """The requests served so far, filtered by method and by path (query left out)."""
        if not os.path.exists(self.request_log):
            return []
        with open(self.request_log) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        return [r for r in rows if (method is None or r["method"] == method)
                and (path is None or r["url"].split("?")[0] == path)]


class S3Server(Proc, RequestLog):
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


class AzureServer(Proc, RequestLog):
    """Azurite's blob service with the emulator's account (devstoreaccount1, its well-known key)."""

    ACCOUNT = "devstoreaccount1"
    KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
           "K1SZFPTOtr/KBHBeksoGMGw==")
    VERSION = "2021-08-06"

    def __init__(self, workdir, containers=("models",), name="azure"):
        self.request_log = os.path.join(workdir, name + "-requests.jsonl")
        argv = [NODE, os.path.join(SERVERS, "azure.js"), "--dir", os.path.join(workdir, name),
                "--log", self.request_log]
        super().__init__(name, argv, workdir, r"azure listening on 127\.0\.0\.1:(\d+)")
        self.containers = containers

    def start(self):
        super().start()
        for c in self.containers:
            self._send("PUT", f"/{c}", "restype=container", b"")
        return self

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.match.group(1)}/{self.ACCOUNT}"

    def _send(self, method, path, query, data, headers=None):
        """A Shared Key request (path under the account, as sent)."""
        headers = dict(headers or {})
        headers["Content-Type"] = "application/octet-stream"  # urllib would add its own
        headers["x-ms-date"] = email.utils.formatdate(usegmt=True)
        headers["x-ms-version"] = self.VERSION
        length = str(len(data)) if data else ""
        canon_headers = "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)
                                if k.startswith("x-ms-"))
        resource = f"/{self.ACCOUNT}/{self.ACCOUNT}{path}"
        for k, v in sorted(urllib.parse.parse_qsl(query, keep_blank_values=True)):
            resource += f"\n{k.lower()}:{v}"
        to_sign = "\n".join([method, "", "", length, "", headers["Content-Type"], "", "",
                             "", "", "", ""]) + "\n" + canon_headers + resource
        sig = base64.b64encode(hmac.new(base64.b64decode(self.KEY), to_sign.encode(),
                                        hashlib.sha256).digest()).decode()
        headers["Authorization"] = f"SharedKey {self.ACCOUNT}:{sig}"
        url = self.endpoint + path + ("?" + query if query else "")
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=300) as r:
            assert r.status in (200, 201), r.status

    def put(self, container, blob, data):
        """Uploads `data` as a block blob (one Put Blob)."""
        self._send("PUT", f"/{container}/{urllib.parse.quote(blob)}", "", data,
                   {"x-ms-blob-type": "BlockBlob"})

    def sas(self, container, permissions="rl"):
        """A service SAS for the container (sr=c), valid for a day."""
        now = datetime.datetime.now(datetime.timezone.utc)
        st = (now - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        se = (now + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        sv = "2020-12-06"
        fields = [permissions, st, se, f"/blob/{self.ACCOUNT}/{container}", "", "", "https,http",
                  sv, "c", "", "", "", "", "", "", ""]
        sig = base64.b64encode(hmac.new(base64.b64decode(self.KEY), "\n".join(fields).encode(),
                                        hashlib.sha256).digest()).decode()
        return urllib.parse.urlencode({"sv": sv, "st": st, "se": se, "sr": "c",
                                       "sp": permissions, "spr": "https,http", "sig": sig})

    def backend_config(self, key=None, sas=None):
        """The dfdaemon's backSource.azure section: the Shared Key, or only a SAS."""
        if sas is not None:
            return {"endpoint": self.endpoint, "accountName": self.ACCOUNT, "sasToken": sas}
        return {"endpoint": self.endpoint, "accountName": self.ACCOUNT,
                "accountKey": key or self.KEY}


class HubServer(Proc, RequestLog):
    """test/servers/hub.js: a private repository `repo` served from `root`, the token `token`;
    files from `lfs_from` bytes go through its CDN (a second port)."""

    def __init__(self, workdir, root, repo="owner/model", token="hf_dragonflyTestToken",
                 lfs_from=1 << 20, page_size=4, name="hub"):
        self.root, self.repo, self.token = root, repo, token
        self.request_log = os.path.join(workdir, name + "-requests.jsonl")
        argv = [NODE, os.path.join(SERVERS, "hub.js"), "--dir", root, "--repo", repo,
                "--token", token, "--lfs-from", str(lfs_from), "--page-size", str(page_size),
                "--log", self.request_log]
        super().__init__(name, argv, workdir,
                         r"hub listening on 127\.0\.0\.1:(\d+) cdn 127\.0\.0\.1:(\d+)")

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.match.group(1)}"

    def served(self, server):
        """The requests one of its two servers ("hub" or "cdn") answered."""
        return [r for r in self.requests() if r["server"] == server]
