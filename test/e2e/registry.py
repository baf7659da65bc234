"""Real OCI registry, token server, containerd and skopeo for registry-mirror end-to-end tests.

Python 3 stdlib only (plus the openssl, docker-registry, containerd, ctr and skopeo programs;
scripts/install-deps.sh installs them). Every process runs on cluster.LOOPBACK (127.0.0.1, or ::1 in
the IPv6-only runs) with files under a temp
directory owned by the caller. The process classes follow cluster.Proc's interface (start(),
kill(sig) -> exit code, logs(), .name, .log, .killed), so they can be added to a cluster.Cluster
next to the Dragonfly processes, or owned by a RegistryEnv (below) on their own.

    env = RegistryEnv()
    tls = env.tls()                                   # CA + server cert for 127.0.0.1/localhost
    tok = env.token_server(users={"alice": "secret"}) # Docker-style bearer tokens (RS256 JWT)
    reg = env.registry(tls=tls, token_server=tok)     # /usr/bin/docker-registry serve CONFIG
    img = push_image(reg, "dfly/test", "v1", layers=[1 << 20, 64 << 20], seed=7)
    ctd = env.containerd()
    hosts = write_hosts_toml(env.path("hosts.d"), reg.host, reg.url, ca=reg.ca,
                             mirrors=[{"url": "http://127.0.0.1:65001",
                                       "header": {"X-Dragonfly-Registry": [reg.url]}}])
    r = ctd.pull(img["ref"], hosts)
    assert r.returncode == 0 and reg.blob_gets(img["layer_digests"][1]) == 1
    problems = env.stop()

Layer content is random.Random(seed) bytes in a tar (mtime 0) gzipped with mtime 0, so the same
name-independent (seed, sizes) always gives the same digests. containerd shares content across
namespaces, so use a fresh seed for every cold pull.
"""

import base64
import collections
import gzip
import hashlib
import http.client
import http.server
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import tarfile
import tempfile
import threading
import time
import unittest
import urllib.parse

from cluster import LOOPBACK, hostport, stop_process

REGISTRY_BIN = os.environ.get("DF_REGISTRY_BIN", "/usr/bin/docker-registry")
CONTAINERD_BIN = os.environ.get("DF_CONTAINERD_BIN", "containerd")
CTR_BIN = os.environ.get("DF_CTR_BIN", "ctr")
SKOPEO_BIN = os.environ.get("DF_SKOPEO_BIN", "skopeo")

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MEDIA_TYPES = {
    "oci": (OCI_MANIFEST, OCI_INDEX, OCI_CONFIG, OCI_LAYER_GZIP),
    "docker": (DOCKER_MANIFEST, DOCKER_LIST, DOCKER_CONFIG, DOCKER_LAYER_GZIP),
}
USER_AGENT = "dfly-registry-harness/1"
MANIFEST_ACCEPT = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])


# --------------------------------------------------------------------------------------------
# small helpers

def free_port(host=None):
    """A TCP port on `host` (default LOOPBACK) that was free a moment ago (bind port 0, release
    it). Racy: callers that start a server on it retry with a new port when the server fails to
    bind."""
    host = host or LOOPBACK
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, **kw)


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _unescape_mount_path(p):
    # /proc/mounts escapes space, tab, newline and backslash as octal
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), p)


def mounts_under(path):
    """Mount points at or below `path` (deepest first)."""
    path = os.path.realpath(path)
    found = []
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 2:
                continue
            mp = _unescape_mount_path(fields[1])
            if mp == path or mp.startswith(path + "/"):
                found.append(mp)
    return sorted(set(found), key=len, reverse=True)


def unmount_under(path):
    """Unmounts everything mounted at or below `path`; returns mount points that stayed."""
    for _ in range(3):
        left = mounts_under(path)
        if not left:
            return []
        for mp in left:
            r = subprocess.run(["umount", mp], capture_output=True)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", mp], capture_output=True)
    return mounts_under(path)


def remove_tree(path):
    """rmtree that first unmounts whatever is mounted below `path` (containerd snapshots)."""
    if os.path.exists(path):
        unmount_under(path)
        shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# TLS material

TLSFiles = collections.namedtuple("TLSFiles", "ca cert key")
TLSFiles.ca_dir = property(lambda self: os.path.dirname(self.ca))


def make_ca_and_cert(dir, name="localhost"):
    """Makes an RSA CA and a server certificate signed by it for DNS:localhost, IP:127.0.0.1,
    IP:::1.

    Returns TLSFiles(ca, cert, key); `.ca_dir` is a directory holding ONLY the CA certificate
    (skopeo --cert-dir treats a *.key next to a *.crt as a client pair), for skopeo --cert-dir
    and as a Docker-style certs.d directory."""
    os.makedirs(dir, exist_ok=True)
    ca_dir = os.path.join(dir, "ca")
    private = os.path.join(dir, "ca-private")
    os.makedirs(ca_dir, exist_ok=True)
    os.makedirs(private, exist_ok=True)
    ca = os.path.join(ca_dir, "ca.crt")
    ca_key = os.path.join(private, "ca.key")
    cert = os.path.join(dir, "server.crt")
    key = os.path.join(dir, "server.key")
    csr = os.path.join(private, "server.csr")
    ext = os.path.join(private, "server.ext")
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3",
          "-subj", "/CN=dfly-test-ca", "-keyout", ca_key, "-out", ca])
    _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
          "-keyout", key, "-out", csr])
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                f"subjectAltName=DNS:{name},DNS:localhost,IP:127.0.0.1,IP:::1\n")
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
          "-CAcreateserial", "-CAserial", os.path.join(private, "ca.srl"), "-days", "3",
          "-sha256", "-extfile", ext, "-out", cert])
    return TLSFiles(ca, cert, key)


def libtrust_key_id(cert_path):
    """The libtrust key id of a certificate's public key, as docker-registry computes it for
    rootcertbundle keys: base32(sha256(DER SubjectPublicKeyInfo)[:30]) in 4-char groups."""
    pem = _run(["openssl", "x509", "-in", cert_path, "-pubkey", "-noout"]).stdout
    der = _run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pem).stdout
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))


# --------------------------------------------------------------------------------------------
# Token server

def parse_scope(scope):
    """'repository:dfly/test:pull,push' -> ('repository', 'dfly/test', ['pull', 'push'])."""
    typ, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if not name:
        return None
    return typ, name, [a for a in actions.split(",") if a]


class TokenServer:
    """Docker-style bearer token server (in-process thread), RS256 JWTs signed with the openssl
    CLI; docker-registry trusts the signing certificate through `rootcertbundle` (`.cert`).

    Access: anonymous clients get `pull` on repositories not starting with `private/`; a user
    from `users` (Basic auth on GET, or OAuth2 POST grant_type=password|refresh_token) gets
    pull,push on every repository (and `*` on registry:catalog). Wrong credentials -> 401.
    Every token request is appended to `.requests` as a dict
    (method, path, user, grant_type, scopes, granted) for test assertions."""

    def __init__(self, workdir, users=None, service="dfly-test-registry",
                 issuer="dfly-test-issuer", name="token-server", expires_in=3600,
                 is_public=None):
        self.name = name
        self.workdir = os.path.join(workdir, name)
        os.makedirs(self.workdir, exist_ok=True)
        self.log = os.path.join(self.workdir, name + ".log")
        self.users = dict(users if users is not None else {"alice": "secret"})
        self.service = service
        self.issuer = issuer
        self.expires_in = expires_in
        self.is_public = is_public or (lambda repo: not repo.startswith("private/"))
        self.key = os.path.join(self.workdir, "token.key")
        self.cert = os.path.join(self.workdir, "token.crt")
        _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3",
              "-subj", "/CN=dfly-test-token-signer", "-keyout", self.key, "-out", self.cert])
        self.kid = libtrust_key_id(self.cert)
        self.requests = []
        self.refresh_tokens = {}
        self.lock = threading.Lock()
        self.httpd = None
        self.thread = None
        self.killed = False

    # -- Proc-like interface
    def start(self):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                with server.lock, open(server.log, "a") as f:
                    f.write("%s %s\n" % (self.address_string(), fmt % args))

            def do_GET(self):
                server._handle(self)

            def do_POST(self):
                server._handle(self)

        class HTTPD(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            address_family = socket.AF_INET6 if ":" in LOOPBACK else socket.AF_INET

        self.httpd = HTTPD((LOOPBACK, 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=self.name,
                                       daemon=True)
        self.thread.start()
        return self

    def kill(self, sig=signal.SIGTERM):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
            self.thread.join(timeout=10)
            return 0
        return None

    def logs(self):
        if not os.path.exists(self.log):
            return ""
        with open(self.log, errors="replace") as f:
            return f.read()

    @property
    def port(self):
        return self.httpd.server_address[1]

    @property
    def realm(self):
        return f"http://{hostport(self.port)}/token"

    # -- tokens
    def sign(self, claims):
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         _b64url(json.dumps(claims, separators=(",", ":")).encode()))
        sig = _run(["openssl", "dgst", "-sha256", "-sign", self.key],
                   input=signing_input.encode()).stdout
        return signing_input + "." + _b64url(sig)

    def grant(self, user, scope):
        """The access entry `user` (None = anonymous) gets for one requested scope."""
        parsed = parse_scope(scope)
        if not parsed:
            return None
        typ, name, wanted = parsed
        if typ == "repository":
            allowed = {"pull", "push"} if user else ({"pull"} if self.is_public(name) else set())
            if user and "*" in wanted:
                allowed.add("*")
        elif typ == "registry" and user:
            allowed = {"*"}
        else:
            allowed = set()
        return {"type": typ, "name": name, "actions": [a for a in wanted if a in allowed]}

    def issue(self, user, scopes, service=None):
        now = int(time.time())
        access = [g for g in (self.grant(user, s) for s in scopes) if g]
        claims = {"iss": self.issuer, "sub": user or "", "aud": service or self.service,
                  "exp": now + self.expires_in, "nbf": now - 10, "iat": now,
                  "jti": secrets.token_hex(8), "access": access}
        return self.sign(claims), access

    def _handle(self, h):
        url = urllib.parse.urlsplit(h.path)
        if url.path != "/token":
            return self._reply(h, 404, {"errors": [{"code": "NOT_FOUND"}]})
        query = urllib.parse.parse_qs(url.query)
        body = b""
        if h.command == "POST":
            n = int(h.headers.get("Content-Length") or 0)
            body = h.rfile.read(n)
        form = urllib.parse.parse_qs(body.decode(errors="replace"))
        user = None
        grant_type = None
        refresh = None
        record = {"method": h.command, "path": h.path, "user": None, "grant_type": None,
                  "scopes": [], "granted": [], "status": None}
        try:
            if h.command == "GET":
                scopes = query.get("scope", [])
                service = (query.get("service") or [None])[0]
                auth = h.headers.get("Authorization", "")
                if auth.lower().startswith("basic "):
                    try:
                        u, _, p = base64.b64decode(auth[6:].strip()).decode().partition(":")
                    except Exception:
                        u, p = "", None
                    if self.users.get(u) != p or p is None:
                        return self._deny(h, record, "invalid username or password")
                    user = u
                    if (query.get("offline_token") or ["false"])[0] == "true":
                        refresh = self._new_refresh(user)
            else:
                grant_type = (form.get("grant_type") or [""])[0]
                record["grant_type"] = grant_type
                scopes = " ".join(form.get("scope", [])).split()
                service = (form.get("service") or [None])[0]
                if grant_type == "password":
                    u = (form.get("username") or [""])[0]
                    p = (form.get("password") or [None])[0]
                    if self.users.get(u) != p or p is None:
                        return self._deny(h, record, "invalid username or password")
                    user = u
                    refresh = self._new_refresh(user)
                elif grant_type == "refresh_token":
                    rt = (form.get("refresh_token") or [""])[0]
                    with self.lock:
                        user = self.refresh_tokens.get(rt)
                    if not user:
                        return self._deny(h, record, "invalid refresh token")
                    refresh = rt
                else:
                    record["status"] = 400
                    return self._reply(h, 400, {"error": "unsupported_grant_type"}, record)
            if service and service != self.service:
                record["status"] = 400
                return self._reply(h, 400, {"error": "invalid_request",
                                            "error_description": "unknown service"}, record)
            token, access = self.issue(user, scopes, service)
            record.update(user=user, scopes=scopes, granted=access, status=200)
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            out = {"token": token, "access_token": token, "expires_in": self.expires_in,
                   "issued_at": now}
            if h.command == "POST":
                out["scope"] = " ".join(scopes)
            if refresh:
                out["refresh_token"] = refresh
            return self._reply(h, 200, out, record)
        except Exception as e:  # keep the server alive, make the failure visible
            record["status"] = 500
            return self._reply(h, 500, {"error": "server_error", "error_description": str(e)},
                               record)

    def _new_refresh(self, user):
        rt = secrets.token_urlsafe(24)
        with self.lock:
            self.refresh_tokens[rt] = user
        return rt

    def _deny(self, h, record, why):
        record["status"] = 401
        return self._reply(h, 401, {"error": "invalid_grant", "error_description": why},
                           record, {"WWW-Authenticate": 'Basic realm="dfly-test-token"'})

    def _reply(self, h, status, obj, record=None, headers=None):
        data = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)
        if record is not None:
            with self.lock:
                self.requests.append(record)


# --------------------------------------------------------------------------------------------
# docker-registry

ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<uri>\S+) HTTP/[\d.]+" (?P<status>\d{3}) '
                         r'(?P<bytes>\d+|-)(?: "(?P<referer>[^"]*)" "(?P<ua>[^"]*)")?')


class Registry:
    """/usr/bin/docker-registry serve CONFIG on <bind>:<free port> (bind: LOOPBACK unless given),
    storage and logs under workdir/<name>. tls: TLSFiles (or (ca, cert, key)) to serve HTTPS;
    token_server: a started TokenServer to require bearer tokens. `host_name`: the name clients
    use in references instead of the address (e.g. "localhost"). The access log (one
    combined-log line per request, written to the registry's stdout) goes to `.access_log`; the
    application log to `.log`."""

    def __init__(self, workdir, tls=None, token_server=None, name="registry",
                 extra_yaml="", bind=None, host_name=None):
        self.bind = bind or LOOPBACK
        self.host_name = host_name
        self.name = name
        self.workdir = os.path.join(workdir, name)
        os.makedirs(self.workdir, exist_ok=True)
        self.log = os.path.join(self.workdir, name + ".log")
        self.access_log = os.path.join(self.workdir, "access.log")
        self.config_path = os.path.join(self.workdir, "config.yml")
        self.data = os.path.join(self.workdir, "data")
        self.tls = TLSFiles(*tls) if tls else None
        self.token_server = token_server
        self.extra_yaml = extra_yaml
        self.port = None
        self.proc = None
        self.killed = False

    # -- addresses
    @property
    def scheme(self):
        return "https" if self.tls else "http"

    @property
    def host(self):
        """host:port, as used in image references and containerd's hosts.d directory name."""
        return hostport(self.port, self.host_name or self.bind)

    @property
    def url(self):
        return f"{self.scheme}://{self.host}"

    @property
    def ca(self):
        return self.tls.ca if self.tls else None

    @property
    def ca_dir(self):
        return self.tls.ca_dir if self.tls else None

    @property
    def push_creds(self):
        """Credentials push_image uses by default: the first token-server user, if any."""
        if self.token_server and self.token_server.users:
            return next(iter(self.token_server.users.items()))
        return None

    def ssl_context(self):
        return ssl.create_default_context(cafile=self.tls.ca) if self.tls else None

    def ref(self, name, tag):
        return f"{self.host}/{name}:{tag}"

    # -- process
    def _write_config(self):
        lines = [
            "version: 0.1",
            "log:",
            "  level: info",
            "  formatter: text",
            "  accesslog:",
            "    disabled: false",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {json.dumps(self.data)}",
            "  delete:",
            "    enabled: true",
            "  maintenance:",
            "    uploadpurging:",
            "      enabled: false",
            "http:",
            f"  addr: {json.dumps(hostport(self.port, self.bind))}",
            f"  secret: {secrets.token_hex(16)}",
            "  draintimeout: 2s",
            "  headers:",
            "    X-Content-Type-Options: [nosniff]",
        ]
        if self.tls:
            lines += ["  tls:",
                      f"    certificate: {json.dumps(self.tls.cert)}",
                      f"    key: {json.dumps(self.tls.key)}"]
        if self.token_server:
            ts = self.token_server
            lines += ["auth:", "  token:",
                      f"    realm: {json.dumps(ts.realm)}",
                      f"    service: {json.dumps(ts.service)}",
                      f"    issuer: {json.dumps(ts.issuer)}",
                      f"    rootcertbundle: {json.dumps(ts.cert)}"]
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n" + self.extra_yaml)

    def start(self, timeout=30.0):
        self.killed = False
        last = ""
        for _attempt in range(5):
            self.port = free_port(self.bind)
            self._write_config()
            out = open(self.access_log, "ab")
            err = open(self.log, "ab")
            self.proc = subprocess.Popen([REGISTRY_BIN, "serve", self.config_path],
                                         stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=self.workdir)
            out.close()
            err.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                if self._ping() in (200, 401):
                    return self
                time.sleep(0.1)
            if self.proc.poll() is None:
                self.kill()
            last = self.logs()[-2000:]
            if "address already in use" not in last:
                break
        raise RuntimeError(f"{self.name} did not start: {last}")

    def _ping(self):
        try:
            status, _, _ = http_request("GET", self.url + "/v2/", context=self.ssl_context(),
                                        timeout=2)
            return status
        except OSError:
            return None

    def kill(self, sig=signal.SIGTERM):
        return stop_process(self, sig)

    def logs(self):
        if not os.path.exists(self.log):
            return ""
        with open(self.log, errors="replace") as f:
            return f.read()

    # -- access log
    def requests(self):
        """Parsed access-log lines: dicts with method, uri, path, status (int), bytes (int),
        ua. Lines are written when a response completes."""
        out = []
        if not os.path.exists(self.access_log):
            return out
        with open(self.access_log, errors="replace") as f:
            for line in f:
                m = ACCESS_LINE.search(line)
                if not m:
                    continue
                out.append({"method": m.group("method"), "uri": m.group("uri"),
                            "path": urllib.parse.urlsplit(m.group("uri")).path,
                            "status": int(m.group("status")),
                            "bytes": 0 if m.group("bytes") == "-" else int(m.group("bytes")),
                            "ua": m.group("ua") or ""})
        return out

    def blob_gets(self, digest, status=None):
        """Number of `GET /v2/<name>/blobs/<digest>` requests in the access log (any
        repository, query ignored). status: None = every response (including 401s), an int,
        or a container of ints, e.g. (200, 206) to count only requests that sent data."""
        n = 0
        for r in self.requests():
            if r["method"] != "GET" or not r["path"].endswith("/blobs/" + digest):
                continue
            if not r["path"].startswith("/v2/"):
                continue
            if status is not None:
                ok = r["status"] == status if isinstance(status, int) else r["status"] in status
                if not ok:
                    continue
            n += 1
        return n

    def manifest_requests(self, method=None):
        return [r for r in self.requests() if "/manifests/" in r["path"]
                and (method is None or r["method"] == method)]

    def reset_access_log(self):
        """Truncates the access log (the registry's stdout was opened with O_APPEND, so it
        keeps writing at the new end)."""
        with open(self.access_log, "r+b") as f:
            f.truncate(0)


# --------------------------------------------------------------------------------------------
# Registry HTTP client with Basic/Bearer challenge handling

def http_request(method, url, headers=None, body=None, context=None, timeout=120):
    """One HTTP request; returns (status, headers (http.client.HTTPMessage), body bytes).
    body may be bytes or a binary file object (then give Content-Length in headers)."""
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        conn = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=timeout,
                                           context=context or ssl.create_default_context(),
                                           blocksize=1 << 20)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout,
                                          blocksize=1 << 20)
    try:
        target = u.path + ("?" + u.query if u.query else "")
        conn.request(method, target or "/", body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, r.headers, data
    finally:
        conn.close()


def parse_challenge(value):
    """'Bearer realm="x",service="y",scope="z"' -> ('bearer', {'realm': 'x', ...})."""
    scheme, _, rest = (value or "").strip().partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


class RegistryClient:
    """Minimal distribution API client: handles 401 challenges with Basic auth or a bearer
    token from the challenge's realm (Basic-authenticated GET when creds are given)."""

    def __init__(self, base_url, creds=None, context=None):
        self.base = base_url.rstrip("/")
        if isinstance(creds, str):
            creds = tuple(creds.split(":", 1))
        self.creds = creds
        self.context = context
        self.auth = {}  # scope key -> Authorization header value

    def _basic(self):
        u, p = self.creds
        return "Basic " + base64.b64encode(f"{u}:{p}".encode()).decode()

    def _authorize(self, challenge, key):
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            if not self.creds:
                return False
            self.auth[key] = self._basic()
            return True
        if scheme != "bearer" or "realm" not in params:
            return False
        q = {}
        if params.get("service"):
            q["service"] = params["service"]
        if params.get("scope"):
            q["scope"] = params["scope"]
            if self.creds and key and params["scope"].startswith(f"repository:{key}:"):
                # with credentials we are about to push: ask for both up front, saving the
                # second 401 round trip when the first challenge came from a HEAD (pull)
                q["scope"] = f"repository:{key}:pull,push"
        url = params["realm"] + ("?" + urllib.parse.urlencode(q) if q else "")
        headers = {"Authorization": self._basic()} if self.creds else {}
        status, _, body = http_request("GET", url, headers=headers, context=self.context)
        if status != 200:
            raise RuntimeError(f"token request {url} -> {status}: {body[:300]!r}")
        tok = json.loads(body)
        self.auth[key] = "Bearer " + (tok.get("token") or tok.get("access_token"))
        return True

    def request(self, method, path, headers=None, body=None, key=None, expect=None):
        """path is relative to the base URL (or an absolute URL on the same registry).
        key: auth cache key (the repository name). Retries once after a 401 challenge."""
        url = path if "://" in path else self.base + path
        for attempt in range(2):
            h = dict(headers or {})
            h.setdefault("User-Agent", USER_AGENT)
            if key in self.auth:
                h["Authorization"] = self.auth[key]
            if hasattr(body, "seek"):
                body.seek(0)
            status, rh, data = http_request(method, url, headers=h, body=body,
                                            context=self.context)
            if status == 401 and attempt == 0 and \
                    self._authorize(rh.get("WWW-Authenticate", ""), key):
                continue
            break
        if expect is not None and status not in (expect if isinstance(expect, tuple)
                                                 else (expect,)):
            raise RuntimeError(f"{method} {url} -> {status}: {data[:500]!r}")
        return status, rh, data

    def has_blob(self, name, digest):
        status, _, _ = self.request("HEAD", f"/v2/{name}/blobs/{digest}", key=name)
        return status == 200

    def push_blob(self, name, digest, data=None, path=None):
        """Monolithic upload (POST uploads/ then PUT Location&digest=); skipped if the blob
        exists. data: bytes, or path: a file."""
        if self.has_blob(name, digest):
            return False
        _, rh, _ = self.request("POST", f"/v2/{name}/blobs/uploads/", key=name,
                                headers={"Content-Length": "0"}, expect=202)
        loc = urllib.parse.urljoin(self.base + "/", rh["Location"])
        u = urllib.parse.urlsplit(loc)
        q = urllib.parse.parse_qsl(u.query, keep_blank_values=True) + [("digest", digest)]
        put = f"{u.path}?{urllib.parse.urlencode(q)}"
        if path is not None:
            size = os.path.getsize(path)
            with open(path, "rb") as f:
                self.request("PUT", put, key=name, body=f, expect=201,
                             headers={"Content-Type": "application/octet-stream",
                                      "Content-Length": str(size)})
        else:
            self.request("PUT", put, key=name, body=data, expect=201,
                         headers={"Content-Type": "application/octet-stream",
                                  "Content-Length": str(len(data))})
        return True

    def push_manifest(self, name, ref, data, media_type):
        _, rh, _ = self.request("PUT", f"/v2/{name}/manifests/{ref}", key=name, body=data,
                                headers={"Content-Type": media_type,
                                         "Content-Length": str(len(data))}, expect=201)
        got = rh.get("Docker-Content-Digest")
        want = _sha256(data)
        if got and got != want:
            raise RuntimeError(f"registry stored manifest as {got}, expected {want}")
        return want

    def get_manifest(self, name, ref, accept=MANIFEST_ACCEPT):
        status, rh, data = self.request("GET", f"/v2/{name}/manifests/{ref}", key=name,
                                        headers={"Accept": accept}, expect=200)
        return rh.get("Content-Type"), data

    def get_blob(self, name, digest, headers=None):
        return self.request("GET", f"/v2/{name}/blobs/{digest}", key=name, headers=headers,
                            expect=(200, 206))[2]


# --------------------------------------------------------------------------------------------
# Deterministic images

class _HashingWriter:
    """File-like sink that hashes and counts what passes through to `out` (may be None)."""

    def __init__(self, out=None):
        self.out = out
        self.h = hashlib.sha256()
        self.size = 0

    def write(self, b):
        self.h.update(b)
        self.size += len(b)
        if self.out is not None:
            self.out.write(b)
        return len(b)

    def flush(self):
        if self.out is not None:
            self.out.flush()

    @property
    def digest(self):
        return "sha256:" + self.h.hexdigest()


class _RandomReader:
    """Readable stream of `size` bytes from rng.randbytes, produced in 1 MiB chunks."""

    CHUNK = 1 << 20

    def __init__(self, rng, size):
        self.rng = rng
        self.left = size
        self.buf = b""

    def read(self, n=-1):
        if n is None or n < 0:
            n = self.left + len(self.buf)
        while len(self.buf) < n and self.left > 0:
            k = min(self.CHUNK, self.left)
            self.buf += self.rng.randbytes(k)
            self.left -= k
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def make_layer(path, rng, size, index):
    """Writes a gzip (level 1, mtime 0) tar holding one file of `size` random bytes;
    returns (digest, compressed size, diff_id)."""
    with open(path, "wb") as f:
        outer = _HashingWriter(f)
        with gzip.GzipFile(filename="", mode="wb", fileobj=outer, compresslevel=1,
                           mtime=0) as gz:
            inner = _HashingWriter(gz)
            with tarfile.open(fileobj=inner, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                d = tarfile.TarInfo("data")
                d.type = tarfile.DIRTYPE
                d.mode = 0o755
                d.mtime = 0
                tar.addfile(d)
                ti = tarfile.TarInfo(f"data/layer{index}.bin")
                ti.size = size
                ti.mode = 0o644
                ti.mtime = 0
                tar.addfile(ti, _RandomReader(rng, size))
    return outer.digest, outer.size, inner.digest


def _json_bytes(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def push_image(registry, name, tag, layers=(1 << 20,), seed=0, index=False, creds=None,
               fmt="oci", workdir=None):
    """Builds a deterministic image and pushes it with the registry HTTP API.

    registry: a Registry, or a plain-http base URL string ("http://127.0.0.1:5000").
    layers: uncompressed sizes of the
    random file in each layer. index=True pushes an image index (linux/amd64 and linux/arm64
    manifests sharing the layers, with different configs) under `tag`, the platform manifests
    by digest. creds: (user, pass) or "user:pass"; default registry.push_creds. fmt: "oci" or
    "docker" (schema2 media types).

    Returns a dict: ref, name, tag, manifest_digest (the linux/amd64 one for an index),
    manifest_media_type, manifest_size, index_digest (None without index), top_digest,
    top_media_type, config_digest, layer_digests, layer_sizes (compressed), diff_ids,
    blobs (config + layers, what a linux/amd64 pull fetches), platforms
    ({"linux/amd64": {manifest_digest, config_digest}, "linux/arm64": {...}} for an index)."""
    manifest_mt, index_mt, config_mt, layer_mt = MEDIA_TYPES[fmt]
    if isinstance(registry, str):
        base, context, host = registry, None, urllib.parse.urlsplit(registry).netloc
    else:
        base, context, host = registry.url, registry.ssl_context(), registry.host
        if creds is None:
            creds = registry.push_creds
    client = RegistryClient(base, creds, context)
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="df-image-", dir=workdir)
    try:
        layer_info = []
        for i, size in enumerate(layers):
            path = os.path.join(tmp, f"layer{i}.tar.gz")
            digest, csize, diff_id = make_layer(path, rng, size, i)
            client.push_blob(name, digest, path=path)
            layer_info.append((digest, csize, diff_id))
        descs = [{"mediaType": layer_mt, "digest": d, "size": s} for d, s, _ in layer_info]
        diff_ids = [x[2] for x in layer_info]

        def push_platform(arch, ref):
            config = {"architecture": arch, "os": "linux",
                      "config": {"Cmd": ["/bin/sh"], "Labels": {"dfly.seed": str(seed)}},
                      "rootfs": {"type": "layers", "diff_ids": diff_ids},
                      "history": [{"created_by": f"dfly-test layer {i}"}
                                  for i in range(len(layers))]}
            cdata = _json_bytes(config)
            cdigest = _sha256(cdata)
            client.push_blob(name, cdigest, data=cdata)
            manifest = {"schemaVersion": 2, "mediaType": manifest_mt,
                        "config": {"mediaType": config_mt, "digest": cdigest,
                                   "size": len(cdata)},
                        "layers": descs}
            mdata = _json_bytes(manifest)
            mdigest = client.push_manifest(name, ref or _sha256(mdata), mdata, manifest_mt)
            return {"manifest_digest": mdigest, "manifest_size": len(mdata),
                    "config_digest": cdigest, "config_size": len(cdata)}

        result = {"ref": f"{host}/{name}:{tag}", "name": name, "tag": tag,
                  "manifest_media_type": manifest_mt,
                  "layer_digests": [x[0] for x in layer_info],
                  "layer_sizes": [x[1] for x in layer_info], "diff_ids": diff_ids,
                  "index_digest": None, "platforms": {}}
        if index:
            entries = []
            for arch in ("amd64", "arm64"):
                p = push_platform(arch, None)
                result["platforms"][f"linux/{arch}"] = p
                entries.append({"mediaType": manifest_mt, "digest": p["manifest_digest"],
                                "size": p["manifest_size"],
                                "platform": {"architecture": arch, "os": "linux"}})
            idx = {"schemaVersion": 2, "mediaType": index_mt, "manifests": entries}
            idata = _json_bytes(idx)
            result["index_digest"] = client.push_manifest(name, tag, idata, index_mt)
            main = result["platforms"]["linux/amd64"]
            result.update(top_digest=result["index_digest"], top_media_type=index_mt)
        else:
            main = push_platform("amd64", tag)
            result.update(top_digest=main["manifest_digest"], top_media_type=manifest_mt)
        result.update(manifest_digest=main["manifest_digest"],
                      manifest_size=main["manifest_size"], config_digest=main["config_digest"])
        result["blobs"] = [result["config_digest"]] + result["layer_digests"]
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# containerd + ctr

def _toml_str(s):
    return json.dumps(s)  # a JSON string is a valid TOML basic string


def write_hosts_toml(hosts_dir, host, server=None, ca=None, mirrors=(), skip_verify=False,
                     server_capabilities=None):
    """Writes hosts_dir/<host>/hosts.toml for `ctr --hosts-dir` / CRI config_path; returns
    hosts_dir. host: "127.0.0.1:5000" or "_default". server: "https://127.0.0.1:5000" (top
    level; ca/skip_verify apply to it). mirrors: URL strings or dicts {url, capabilities
    (default pull+resolve), header: {name: [values]}, ca, skip_verify, override_path}."""
    d = os.path.join(hosts_dir, host)
    os.makedirs(d, exist_ok=True)
    lines = []
    if server:
        lines.append(f"server = {_toml_str(server)}")
    if ca:
        lines.append(f"ca = {_toml_str(ca)}")
    if skip_verify:
        lines.append("skip_verify = true")
    if server_capabilities is not None:
        lines.append("capabilities = [" + ", ".join(_toml_str(c) for c in
                                                    server_capabilities) + "]")
    mirrors = list(mirrors)
    if not mirrors and server:
        # containerd 1.6 rejects a hosts.toml without any [host] table ("invalid `host`
        # tree"), so describe the server itself as its only host.
        mirrors = [{"url": server, "ca": ca, "skip_verify": skip_verify,
                    "capabilities": server_capabilities or ["pull", "resolve", "push"]}]
    for m in mirrors:
        if isinstance(m, str):
            m = {"url": m}
        url = m["url"]
        lines.append("")
        lines.append(f"[host.{_toml_str(url)}]")
        caps = m.get("capabilities", ["pull", "resolve"])
        lines.append("  capabilities = [" + ", ".join(_toml_str(c) for c in caps) + "]")
        if m.get("ca"):
            lines.append(f"  ca = {_toml_str(m['ca'])}")
        if m.get("skip_verify"):
            lines.append("  skip_verify = true")
        if m.get("override_path"):
            lines.append("  override_path = true")
        if m.get("header"):
            lines.append(f"  [host.{_toml_str(url)}.header]")
            for k, v in m["header"].items():
                vals = v if isinstance(v, (list, tuple)) else [v]
                lines.append(f"    {k} = [" + ", ".join(_toml_str(x) for x in vals) + "]")
    with open(os.path.join(d, "hosts.toml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return hosts_dir


class Containerd:
    """A private containerd (`containerd --config`) with root, state, socket and opt dirs under
    workdir/<name>, CRI plugin disabled unless cri=True (then its registry config_path is
    `.hosts_dir`). Readiness: `ctr -a SOCK version` succeeds. kill() stops it and unmounts
    anything left mounted below its directory (overlay snapshots)."""

    def __init__(self, workdir, name="containerd", namespace="dfly", cri=False, debug=False):
        self.name = name
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.log = os.path.join(self.dir, name + ".log")
        self.config_path = os.path.join(self.dir, "config.toml")
        self.socket = os.path.join(self.dir, "containerd.sock")
        self.root = os.path.join(self.dir, "root")
        self.state = os.path.join(self.dir, "state")
        self.hosts_dir = os.path.join(self.dir, "hosts.d")
        self.namespace = namespace
        self.cri = cri
        self.debug = debug
        self.proc = None
        self.killed = False

    def _write_config(self):
        d = self.dir
        lines = ["version = 2",
                 f"root = {_toml_str(self.root)}",
                 f"state = {_toml_str(self.state)}"]
        if not self.cri:
            lines.append('disabled_plugins = ["io.containerd.grpc.v1.cri"]')
        lines += ["[grpc]", f"  address = {_toml_str(self.socket)}",
                  "[ttrpc]", f"  address = {_toml_str(self.socket + '.ttrpc')}",
                  "[debug]", f"  level = {_toml_str('debug' if self.debug else 'info')}",
                  '[plugins."io.containerd.internal.v1.opt"]',
                  f"  path = {_toml_str(os.path.join(d, 'opt'))}",
                  '[plugins."io.containerd.grpc.v1.cri"]',
                  "  disable_tcp_service = true",
                  f"  stream_server_address = {_toml_str(LOOPBACK)}",
                  '  stream_server_port = "0"',
                  '  [plugins."io.containerd.grpc.v1.cri".cni]',
                  f"    bin_dir = {_toml_str(os.path.join(d, 'cni', 'bin'))}",
                  f"    conf_dir = {_toml_str(os.path.join(d, 'cni', 'conf'))}",
                  '  [plugins."io.containerd.grpc.v1.cri".registry]',
                  f"    config_path = {_toml_str(self.hosts_dir)}"]
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=30.0):
        self.killed = False
        self._write_config()
        os.makedirs(self.hosts_dir, exist_ok=True)
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([CONTAINERD_BIN, "--config", self.config_path],
                                     stdout=logf, stderr=logf, stdin=subprocess.DEVNULL,
                                     cwd=self.dir)
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if os.path.exists(self.socket) and \
                    self.ctr("version", namespace=None, timeout=10).returncode == 0:
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"{self.name} did not start: {self.logs()[-3000:]}")

    def kill(self, sig=signal.SIGTERM):
        stop_process(self, sig, timeout=20)
        left = unmount_under(self.dir)
        if left:
            with open(self.log, "a") as f:
                f.write(f"registry.py: could not unmount {left}\n")
        return self.proc.returncode if self.proc else None

    def logs(self):
        if not os.path.exists(self.log):
            return ""
        with open(self.log, errors="replace") as f:
            return f.read()

    # -- ctr
    def ctr(self, *args, namespace="", timeout=300, check=False):
        """Runs `ctr -a SOCK [-n NS] ARGS...` (namespace "" = this instance's default, None =
        no -n); returns the CompletedProcess (text)."""
        argv = [CTR_BIN, "-a", self.socket]
        ns = self.namespace if namespace == "" else namespace
        if ns:
            argv += ["-n", ns]
        r = subprocess.run(argv + list(args), capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args)} failed ({r.returncode}): {r.stderr}"
                                 f"\n--- {self.name} log ---\n{self.logs()[-3000:]}")
        return r

    def pull(self, ref, hosts_dir=None, user=None, plain_http=False, args=(), namespace="",
             timeout=300, check=False):
        """`ctr images pull --hosts-dir DIR [--user U:P] [--plain-http] REF`; returns the
        CompletedProcess. hosts_dir defaults to `.hosts_dir`."""
        a = ["images", "pull", "--hosts-dir", hosts_dir or self.hosts_dir]
        if user:
            a += ["--user", user if isinstance(user, str) else ":".join(user)]
        if plain_http:
            a.append("--plain-http")
        return self.ctr(*a, *args, ref, namespace=namespace, timeout=timeout, check=check)

    def pull_async(self, ref, hosts_dir=None, user=None, plain_http=False, args=(),
                   namespace=""):
        """Like pull() but returns the running Popen (for kill-and-resume tests)."""
        argv = [CTR_BIN, "-a", self.socket, "-n", namespace or self.namespace,
                "images", "pull", "--hosts-dir", hosts_dir or self.hosts_dir]
        if user:
            argv += ["--user", user if isinstance(user, str) else ":".join(user)]
        if plain_http:
            argv.append("--plain-http")
        return subprocess.Popen(argv + list(args) + [ref], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)

    def check(self, ref, namespace=""):
        """`ctr images check name==REF` -> (complete, line): complete is True when all of the
        image's content for this platform is in the content store."""
        r = self.ctr("images", "check", f"name=={ref}", namespace=namespace, timeout=60)
        for line in r.stdout.splitlines():
            if line.split()[:1] == [ref]:
                return (" complete " in f" {line} ", line)
        return False, r.stdout + r.stderr

    def images(self, namespace=""):
        r = self.ctr("images", "ls", "-q", namespace=namespace, timeout=60, check=True)
        return r.stdout.split()

    def content_digests(self, namespace=""):
        """Digests in this namespace's content store (`ctr content ls -q`)."""
        r = self.ctr("content", "ls", "-q", namespace=namespace, timeout=60, check=True)
        return set(r.stdout.split())

    def content_get(self, digest, namespace=""):
        argv = [CTR_BIN, "-a", self.socket, "-n", namespace or self.namespace,
                "content", "get", digest]
        r = subprocess.run(argv, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise AssertionError(f"ctr content get {digest}: {r.stderr!r}")
        return r.stdout

    def verify(self, image, namespace=""):
        """Asserts a push_image() result was pulled intact: the image is complete, and the
        top manifest, the linux/amd64 manifest, config and layers are all in the content
        store with matching sha256 (the config/manifests are re-hashed here)."""
        ok, line = self.check(image["ref"], namespace)
        if not ok:
            raise AssertionError(f"image {image['ref']} not complete: {line}")
        have = self.content_digests(namespace)
        want = {image["top_digest"], image["manifest_digest"], *image["blobs"]}
        missing = want - have
        if missing:
            raise AssertionError(f"missing content for {image['ref']}: {sorted(missing)}")
        for d in (image["top_digest"], image["manifest_digest"], image["config_digest"]):
            data = self.content_get(d, namespace)
            if _sha256(data) != d:
                raise AssertionError(f"content {d} has digest {_sha256(data)}")
        return True

    def rm(self, ref, namespace=""):
        """`ctr images rm --sync REF` (runs garbage collection)."""
        return self.ctr("images", "rm", "--sync", ref, namespace=namespace, timeout=120)


# --------------------------------------------------------------------------------------------
# skopeo

def write_registries_conf(path, prefix, location=None, mirrors=(), insecure=False):
    """containers-registries.conf v2 for `skopeo --registries-conf`: one [[registry]] for
    `prefix` (e.g. "127.0.0.1:5000") with optional mirrors (location strings like
    "127.0.0.1:65001", or dicts {location, insecure}). insecure=True allows plain HTTP / no
    TLS verification for the registry itself."""
    lines = ["unqualified-search-registries = []", "", "[[registry]]",
             f"prefix = {_toml_str(prefix)}", f"location = {_toml_str(location or prefix)}",
             f"insecure = {'true' if insecure else 'false'}"]
    for m in mirrors:
        if isinstance(m, str):
            m = {"location": m, "insecure": True}
        lines += ["[[registry.mirror]]", f"location = {_toml_str(m['location'])}",
                  f"insecure = {'true' if m.get('insecure', True) else 'false'}"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


BLOB_INFO_CACHE_DIR = "/var/lib/containers/cache"


def _private_cache_prefix():
    """As root, skopeo keeps a persistent blob-info cache (boltdb) in
    /var/lib/containers/cache with no flag to move it. Run it in a private mount namespace
    with a tmpfs there, so no state survives between runs or tests (only the empty directory
    is left on the real filesystem)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return []
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
            'mkdir -p "$0" && mount -t tmpfs -o size=64m dfly-skopeo-cache "$0" && exec "$@"',
            BLOB_INFO_CACHE_DIR]


def skopeo_copy(src_ref, dest_dir, registries_conf=None, cert_dir=None, creds=None,
                tls_verify=True, all_images=False, dest_tag="latest", args=(), timeout=300,
                check=False, private_cache=True):
    """`skopeo [--registries-conf F] copy [--src-cert-dir D] [--src-creds U:P]
    [--src-tls-verify=false] [--all] docker://SRC oci:DEST_DIR:DEST_TAG` with an
    insecureAcceptAnything policy; returns the CompletedProcess (text). src_ref has no
    scheme ("127.0.0.1:5000/dfly/test:v1"). cert_dir must hold only the CA (TLSFiles.ca_dir).
    private_cache: run skopeo with a throw-away blob-info cache (see _private_cache_prefix).
    Note: copying a Docker schema2 image into an oci: layout converts its manifest (new
    manifest digest); push with fmt="oci" when comparing digests."""
    with tempfile.TemporaryDirectory(prefix="df-skopeo-") as tmp:
        policy = os.path.join(tmp, "policy.json")
        with open(policy, "w") as f:
            json.dump({"default": [{"type": "insecureAcceptAnything"}]}, f)
        argv = (_private_cache_prefix() if private_cache else []) + \
            [SKOPEO_BIN, "--policy", policy]
        if registries_conf:
            argv += ["--registries-conf", registries_conf]
        argv.append("copy")
        if cert_dir:
            argv += ["--src-cert-dir", cert_dir]
        if creds:
            argv += ["--src-creds", creds if isinstance(creds, str) else ":".join(creds)]
        if not tls_verify:
            argv.append("--src-tls-verify=false")
        if all_images:
            argv.append("--all")
        argv += list(args) + [f"docker://{src_ref}", f"oci:{dest_dir}:{dest_tag}"]
        env = dict(os.environ)
        if registries_conf:
            env["CONTAINERS_REGISTRIES_CONF"] = registries_conf
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                           stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise AssertionError(f"skopeo copy {src_ref} failed ({r.returncode}): {r.stderr}")
    return r


def oci_layout_blobs(layout_dir):
    """Digests of the blobs in an OCI image layout directory (e.g. skopeo's output)."""
    d = os.path.join(layout_dir, "blobs", "sha256")
    return {"sha256:" + n for n in os.listdir(d)} if os.path.isdir(d) else set()


# --------------------------------------------------------------------------------------------
# Owner of a temp dir and the processes above

class RegistryEnv:
    """Owns a temp dir and every process started through it, like cluster.Cluster;
    stop() stops them in reverse order, unmounts, removes the dir (unless keep or problems)
    and returns the problems seen (a process that did not exit cleanly, a Go panic, or
    mounts that could not be removed)."""

    def __init__(self, prefix="df-registry-e2e-"):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.procs = []

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def add(self, proc):
        self.procs.append(proc)
        return proc.start()

    def tls(self, name="tls"):
        return make_ca_and_cert(self.path(name))

    def token_server(self, **kw):
        return self.add(TokenServer(self.dir, **kw))

    def registry(self, tls=None, token_server=None, name="registry", extra_yaml="", **kw):
        return self.add(Registry(self.dir, tls, token_server, name, extra_yaml, **kw))

    def containerd(self, name="containerd", **kw):
        return self.add(Containerd(self.dir, name, **kw))

    def stop(self, keep=False):
        problems = []
        for p in reversed(self.procs):
            try:
                rc = p.kill(signal.SIGTERM)
            except Exception as e:  # keep stopping the others
                problems.append(f"{p.name}: stop failed: {e!r}")
                continue
            if p.killed:
                continue
            log = p.logs()
            if rc not in (0, None) or "panic:" in log:
                problems.append(f"{p.name}: exit code {rc}\n{log[-4000:]}")
        left = unmount_under(self.dir)
        if left:
            problems.append(f"mounts left under {self.dir}: {left}")
        if not problems and not keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        return problems


class ClusterWithRegistryTest(unittest.TestCase):
    """A test class that owns a cluster.Cluster (`cls.c`) and a RegistryEnv (`cls.env`) for all
    its tests: subclasses start their processes in `start_processes()` (a classmethod); a failure
    there stops everything, and tearDownClass reports every process that ended badly."""

    PREFIX = "df-registry-e2e-"

    @classmethod
    def start_processes(cls):
        pass

    @classmethod
    def setUpClass(cls):
        from cluster import Cluster
        cls.c = Cluster(prefix=cls.PREFIX + "cluster-")
        cls.env = RegistryEnv(prefix=cls.PREFIX)
        try:
            cls.start_processes()
        except BaseException:
            cls.c.stop()
            cls.env.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        problems = cls.c.stop() + cls.env.stop()
        if problems:
            raise AssertionError("\n".join(problems))

