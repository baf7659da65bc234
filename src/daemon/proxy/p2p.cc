#include "daemon/proxy/p2p.h"

#include <spdlog/spdlog.h>

#include "daemon/metrics.h"
#include "daemon/proxy/range.h"
#include "daemon/scheduler_api.h"
#include "dragonfly/common/digest.h"
#include "dragonfly/common/net.h"
#include "dragonfly/common/piece.h"
#include "dragonfly/common/task_id.h"
#include "dragonfly/common/url.h"
#include "dragonfly/tracing/tracer.h"

namespace df::daemon::proxy {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

int HttpStatusOf(const Status& s) {
  switch (s.code()) {
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kDeadlineExceeded:
      return 504;
    case StatusCode::kUnavailable:
      return 502;
    default:
      return 500;
  }
}

// Bytes stored contiguously from `pos` (the pieces covering it are present).
uint64_t AvailableFrom(const storage::Task& task, uint64_t pos) {
  storage::TaskStat st = task.Stat();
  if (st.piece_length == 0) {
    return pos;
  }
  auto n = static_cast<uint32_t>(pos / st.piece_length);
  uint64_t end = pos;
  while (task.HasPiece(n)) {
    end = PieceOffset(st.piece_length, n) + task.PieceSize(n);
    ++n;
  }
  return std::max(end, pos);
}

}  // namespace

backend::HttpOptions UpstreamTls(const DaemonConfig& config) {
  backend::HttpOptions o;
  o.ca_file = config.back_source.ca_cert;
  o.insecure = config.back_source.insecure;
  for (const auto& r : config.proxy.registries) {
    o.host_tls[r.host] = backend::HostTls{r.ca_cert, r.insecure};
  }
  return o;
}

P2PServer::P2PServer(DaemonContext* ctx, Downloads* downloads)
    : ctx_(ctx), downloads_(downloads), tls_(UpstreamTls(*ctx->config)) {}

namespace {
// What the current thread's request got (for its span): the response's status, its task, and
// whether this host held it whole already.
thread_local int answered_status = 0;
thread_local std::string answered_task;
thread_local bool answered_from_cache = false;
thread_local uint64_t answered_bytes = 0;  // body bytes sent
}  // namespace

bool P2PServer::Fail(int fd, int status, const std::string& type, const std::string& message,
                     bool keep_alive, const std::string& extra_headers) {
  ctx_->metrics->proxy_errors.Increment();
  answered_status = status;
  return SendErrorResponse(fd, status, type, message, keep_alive, extra_headers);
}

bool P2PServer::Relay(int fd, const P2PRequest& req, long timeout_s) {
  UpstreamRequest up;
  up.method = "GET";
  up.url = req.url;
  up.headers = req.headers;
  up.timeout_s = timeout_s;
  ForwardResult r = Forward(tls_, up, fd, req.keep_alive);
  return r.complete && req.keep_alive;
}

bool P2PServer::FromAnotherSource(const std::string& task_id, const std::string& url,
                                  const Headers& auth, long timeout_s) {
  std::string source;
  if (auto lease = ctx_->store->AcquireExisting(task_id); lease.ok()) {
    source = (*lease)->Stat().url;
  } else if (ctx_->scheduler != nullptr && ctx_->scheduler->enabled()) {
    // Not here: the swarm would hand over what another host registered, from its source.
    StatusOr<std::string> bound = ctx_->scheduler->BoundBlobUrl(task_id);
    if (!bound.ok()) {
      spdlog::info(
          "proxy: blob task_id={}: no answer from the scheduler on its source ({}); "
          "relaying the request",
          task_id, bound.status().message());
      return true;  // unknown: fail safe, the client's own registry answers
    }
    source = *bound;
  }
  if (source.empty()) {
    return false;  // nobody has it yet: the registry the client named just authorized it
  }
  auto from = ParseUrl(source);
  auto to = ParseUrl(url);
  if (!from.ok() || !to.ok()) {
    return true;
  }
  auto repository = [](const Url& u) { return u.path.substr(0, u.path.rfind("/blobs/")); };
  if (from->authority() != to->authority() || from->scheme != to->scheme) {
    // Another registry: its answer would need this client's credentials, which are for the
    // registry the client named and must not travel elsewhere.
    spdlog::info(
        "proxy: blob task_id={} came from another registry; relaying this client's "
        "request to its own",
        task_id);
    return true;
  }
  if (repository(*from) == repository(*to)) {
    return false;
  }
  auto head = Head(tls_, from->ToString(), auth, timeout_s);  // same registry, its repository
  bool allowed = head.ok() && head->status >= 200 && head->status < 300;
  if (!allowed) {
    spdlog::info(
        "proxy: blob task_id={} is not readable by this client in its source repository; "
        "relaying the request",
        task_id);
  }
  return !allowed;
}

// A P2P request is the root of its trace (or a child of the client's traceparent): its span
// carries the client's request-target as http.url, as Dragonfly's does, so a blob is found by
// `/v2/<repo>/blobs/sha256:<digest>?ns=<registry>`.
bool P2PServer::Serve(int fd, const P2PRequest& req) {
  tracing::Span span;
  if (ctx_->tracer != nullptr) {
    tracing::SpanContext parent;
    for (const auto& [k, v] : req.headers) {
      if (EqualsIgnoreCase(k, "traceparent")) {
        parent = tracing::SpanContext::FromTraceparent(v).value_or(tracing::SpanContext{});
      }
    }
    span = ctx_->tracer->StartSpan("dfdaemon.proxy", tracing::SpanKind::kServer, parent);
    span.SetAttribute("http.url", req.target.substr(0, 2048));
    span.SetAttribute("http.method", std::string("GET"));
    span.SetAttribute("dragonfly.registry", req.registry);
    span.SetAttribute("dragonfly.p2p", true);
  }
  tracing::ScopedContext scope(span.context());
  answered_status = 0;
  answered_task.clear();
  answered_from_cache = false;
  answered_bytes = 0;
  bool keep_alive = ServeTraced(fd, req);
  if (span.recording()) {
    span.SetAttribute("http.status_code", static_cast<int64_t>(answered_status));
    span.SetAttribute("dragonfly.task_id", answered_task);
    span.SetAttribute("dragonfly.bytes", static_cast<int64_t>(answered_bytes));
    // A blob held whole here: no download, the local cache answered.
    span.SetAttribute("dragonfly.source", std::string(answered_from_cache ? "local_cache" : "p2p"));
    if (answered_status >= 500 || answered_status == 0) {
      span.SetError(answered_status == 0 ? "the response was cut short"
                                         : "answered " + std::to_string(answered_status));
    }
  }
  return keep_alive;
}

bool P2PServer::ServeTraced(int fd, const P2PRequest& req) {
  auto& metrics = *ctx_->metrics;
  const auto started = std::chrono::steady_clock::now();
  // 1. Ask the upstream whether this client may have the content, with its own credentials.
  Headers auth;
  for (const auto& [k, v] : req.headers) {
    if (EqualsIgnoreCase(k, "Authorization") || EqualsIgnoreCase(k, "Cookie")) {
      auth.emplace_back(k, v);
    }
  }
  const long timeout_s = static_cast<long>(ctx_->config->proxy.upstream_timeout.count() / 1000);
  auto head = Head(tls_, req.url, auth, timeout_s);
  if (!head.ok()) {
    int status = head.status().code() == StatusCode::kDeadlineExceeded ? 504 : 502;
    return Fail(fd, status, "backend", head.status().message(), false);
  }
  bool head_unsupported = head->status == 405 || head->status == 501;
  if (!head_unsupported && (head->status < 200 || head->status >= 300)) {
    // Relay the upstream's own answer (e.g. 401 with WWW-Authenticate) unchanged.
    return Relay(fd, req, timeout_s);
  }

  // 2. The task: the blob digest or Dragonfly's URL rule names it.
  std::string digest = req.registry ? BlobDigest(req.url) : "";
  sched::TaskSpec spec;
  if (!digest.empty() && ctx_->config->proxy.registry_mirror.enable_task_id_based_blob_digest) {
    spec.set_task_id(digest.substr(7));
  } else {
    TaskIdInput in;
    in.url = req.url;
    in.tag = req.tag;
    in.application = req.application;
    in.filtered_query_params = req.filtered_query_params;
    auto id = MakeTaskId(in);
    if (!id.ok()) {
      return Fail(fd, 400, "proxy", id.status().message(), false);
    }
    spec.set_task_id(*id);
  }
  spec.set_url(req.url);
  spec.set_tag(req.tag);
  spec.set_application(req.application);
  for (const auto& [k, v] : auth) {
    (*spec.mutable_headers())[k] = v;
  }
  for (const auto& f : req.filtered_query_params) {
    spec.add_filtered_query_params(f);
  }

  // A blob this host holds, or the swarm has, from another registry or repository is served
  // only when that source authorizes this client too; otherwise the client gets it from its
  // own registry, uncached.
  if (!digest.empty() && FromAnotherSource(spec.task_id(), req.url, auth, timeout_s)) {
    return Relay(fd, req, timeout_s);
  }

  DownloadOptions options;
  options.spec = spec;
  options.trace_parent = tracing::CurrentContext();
  auto opened = downloads_->Open(options);
  if (!opened.ok()) {
    return Fail(fd, 500, "dfdaemon", opened.status().message(), false);
  }
  DownloadHandle download = std::move(opened).value();
  storage::Task& task = download.task();
  if (download.cached()) {
    const int64_t length = task.Stat().content_length;
    metrics.bytes_local_peer.Increment(static_cast<double>(length));
    metrics.ObserveDownload(
        "local_cache", length,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  metrics.proxy_p2p.Increment();
  // Waits on the task's notifications; gives up when the proxy stops.
  auto wait = [&](uint64_t* version) -> Status {
    if (stopping_) {
      return Unavailable("dfdaemon is stopping");
    }
    return download.Wait(version, Clock::now() + std::chrono::seconds(1));
  };

  // 3. The length: from the store once the task's geometry is known.
  uint64_t version = 0;
  while (task.Stat().content_length < 0) {
    if (Status s = wait(&version); !s.ok() && s.code() != StatusCode::kDeadlineExceeded) {
      return Fail(fd, stopping_ ? 503 : HttpStatusOf(s), stopping_ ? "dfdaemon" : "backend",
                  s.message(), false);
    }
    if (download.ended() && task.Stat().content_length < 0) {
      return Fail(fd, 502, "backend", "download ended without a content length", false);
    }
  }
  auto total = static_cast<uint64_t>(task.Stat().content_length);
  if (head->content_length >= 0 && static_cast<uint64_t>(head->content_length) != total) {
    return Fail(fd, 502, "backend", "upstream length differs from the task's", false);
  }
  auto range = ParseRange(req.range, total);
  if (!range.ok()) {
    return Fail(fd, 416, "proxy", "range not satisfiable", req.keep_alive,
                "Content-Range: bytes */" + std::to_string(total) + "\r\n");
  }
  uint64_t start = *range ? (*range)->start : 0;
  uint64_t end = *range ? (*range)->end : total;
  std::string out = *range ? "HTTP/1.1 206 Partial Content\r\n" : "HTTP/1.1 200 OK\r\n";
  out += "Content-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\n";
  out += "Content-Length: " + std::to_string(end - start) + "\r\n";
  if (*range) {
    out += "Content-Range: bytes " + std::to_string(start) + "-" + std::to_string(end - 1) + "/" +
           std::to_string(total) + "\r\n";
  }
  if (!digest.empty()) {
    out += "Docker-Content-Digest: " + digest + "\r\n";
  }
  out += "X-Dragonfly-Task-ID: " + spec.task_id() + "\r\n";
  if (download.cached()) {
    out += "X-Dragonfly-Task-Download-Finished: true\r\n";
  }
  out += req.keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  if (!net::WriteAll(fd, out.data(), out.size(), true).ok()) {
    return false;
  }
  answered_status = *range ? 206 : 200;
  answered_task = spec.task_id();
  answered_from_cache = download.cached();
  spdlog::info("proxy served task_id={} status={} start={} end={} total={} cached={}",
               spec.task_id(), *range ? 206 : 200, start, end, total, download.cached());

  // 4. Stream as pieces arrive. The last byte of a whole blob waits for its digest check.
  const bool hold_last = !digest.empty() && start == 0 && end == total && total > 0;
  const uint64_t limit = hold_last ? end - 1 : end;
  uint64_t pos = start;
  while (pos < limit) {
    // At most 4 MiB per call, so progress (and the metric) advances while a client reads.
    uint64_t ready = std::min({AvailableFrom(task, pos), limit, pos + (4u << 20)});
    if (ready > pos) {
      if (Status s = net::SendFile(fd, task.read_fd(), pos, ready - pos); !s.ok()) {
        spdlog::info("proxy client went away task_id={} sent={} error=\"{}\"", spec.task_id(),
                     pos - start, s.ToString());
        return false;
      }
      metrics.proxy_bytes.Increment(static_cast<double>(ready - pos));
      answered_bytes += ready - pos;
      pos = ready;
      continue;
    }
    if (Status s = wait(&version); !s.ok() && s.code() != StatusCode::kDeadlineExceeded) {
      spdlog::warn("proxy download failed mid-response url=\"{}\" error=\"{}\"",
                   req.url.substr(0, req.url.find('?')), s.ToString());
      return false;
    }
    if (download.ended() && !download.failure().ok()) {
      return false;
    }
  }
  if (hold_last) {
    while (!task.done()) {
      if (Status s = wait(&version); !s.ok() && s.code() != StatusCode::kDeadlineExceeded) {
        return false;
      }
      if (download.ended() && !task.done()) {
        return false;
      }
    }
    if (!downloads_->Verify(download, digest).ok()) {
      return false;  // the client sees a truncated body and retries
    }
    if (!net::SendFile(fd, task.read_fd(), end - 1, 1).ok()) {
      return false;
    }
    metrics.proxy_bytes.Increment(1);
    answered_bytes += 1;
  }
  return req.keep_alive;
}

}  // namespace df::daemon::proxy
