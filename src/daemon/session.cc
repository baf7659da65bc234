#include "daemon/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "backend/url_util.h"
#include "daemon/back_to_source.h"
#include "daemon/metrics.h"
#include "daemon/scheduler_api.h"
#include "dragonfly/common/task_id.h"

namespace df::daemon {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

DownloadSession::DownloadSession(DaemonContext* ctx, DownloadOptions options,
                                 storage::TaskLease lease)
    : ctx_(ctx),
      options_(std::move(options)),
      lease_(std::move(lease)),
      last_progress_(Clock::now()) {}

DownloadSession::~DownloadSession() {
  Cancel();
  Join();
}

void DownloadSession::Start(std::function<void(DownloadSession*)> on_done) {
  thread_ = std::thread([this, on_done = std::move(on_done)] {
    Run();
    if (on_done) {
      on_done(this);
    }
  });
}

void DownloadSession::Join() {
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
    thread_.join();
  }
}

void DownloadSession::Cancel() {
  cancelled_ = true;
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

bool DownloadSession::finished() const {
  std::lock_guard lock(mu_);
  return finished_;
}

Status DownloadSession::result() const {
  std::lock_guard lock(mu_);
  return result_;
}

std::string DownloadSession::warning() const {
  std::lock_guard lock(mu_);
  return warning_;
}

SourceBytes DownloadSession::bytes() const {
  return {bytes_b2s_.load(), bytes_peer_.load(), bytes_seed_.load()};
}

bool DownloadSession::WaitCancelled(milliseconds d) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, d, [&] { return cancelled_.load(); });
}

void DownloadSession::OnPieceStored(uint32_t, uint32_t bytes, const std::string& from,
                                    bool from_seed) {
  if (trace_pieces_) {
    ledger_.Piece(from, from_seed, bytes);
  }
  bytes_peer_ += bytes;
  ++pieces_peer_;
  ctx_->metrics->bytes_remote_peer.Increment(bytes);
  ctx_->metrics->pieces_remote_peer.Increment();
  if (from_seed) {
    bytes_seed_ += bytes;
    ctx_->metrics->bytes_seed_peer.Increment(bytes);
  }
  std::lock_guard lock(mu_);
  last_progress_ = Clock::now();
  cv_.notify_all();
}

void DownloadSession::OnNeighbourGone(const std::string& peer_id, bool failed, const Status& why) {
  if (failed) {
    if (trace_pieces_) {
      ledger_.Failed(peer_id, why);
    }
    ctx_->metrics->parent_failures.Increment();
    if (why.code() == StatusCode::kDataLoss) {
      ctx_->metrics->piece_corrupt.Increment();
    }
  }
  std::lock_guard lock(mu_);
  gone_.insert(peer_id);
  if (failed) {
    failed_.insert(peer_id);
  }
  neighbours_changed_ = true;
  cv_.notify_all();
}

void DownloadSession::OnLocalError(const Status& why) {
  std::lock_guard lock(mu_);
  fatal_ = why;
  cv_.notify_all();
}

void DownloadSession::Run() {
  const auto& spec = options_.spec;
  ctx_->metrics->active_tasks.Increment();
  // The download as a span of its caller's trace; the scheduler calls and the origin request
  // made on this thread carry it.
  tracing::Span span;
  if (ctx_->tracer != nullptr) {
    span = ctx_->tracer->StartSpan(options_.seed ? "dfdaemon.seed" : "dfdaemon.download",
                                   tracing::SpanKind::kInternal, options_.trace_parent);
    span.SetAttribute("dragonfly.task_id", spec.task_id());
    span.SetAttribute("dragonfly.peer_id", options_.peer_id);
    span.SetAttribute("http.url", backend::RedactUrl(spec.url()));
    span.SetAttribute("dragonfly.seed", options_.seed);
  }
  tracing::ScopedContext scope(span.context());
  if (span.recording()) {
    trace_parent_ = span.context().ToTraceparent();
    trace_pieces_ = true;
  }
  auto start = Clock::now();
  pieces_at_start_ = task().Stat().finished_pieces;
  spdlog::info("download started task_id={} peer_id={} seed={} url=\"{}\"", spec.task_id(),
               options_.peer_id, options_.seed, backend::RedactUrl(spec.url()));
  Status st = Download();
  if (st.ok()) {
    st = task().Flush();
    AwaitPieceReports();
  }
  const auto elapsed = Clock::now() - start;
  auto ms = std::chrono::duration_cast<milliseconds>(elapsed).count();
  // Where the bytes came from: the origin, the seed peer, other peers, or nothing to fetch.
  const char* source = bytes_b2s_ > 0                                  ? "back_to_source"
                       : bytes_seed_ == bytes_peer_ && bytes_peer_ > 0 ? "seed_peer"
                       : bytes_peer_ > 0                               ? "remote_peer"
                                                                       : "local_cache";
  const int64_t content_length = task().Stat().content_length;
  if (span.recording()) {
    span.SetAttribute("dragonfly.content_length", content_length);
    span.SetAttribute("dragonfly.bytes.back_to_source", static_cast<int64_t>(bytes_b2s_.load()));
    span.SetAttribute("dragonfly.bytes.remote_peer", static_cast<int64_t>(bytes_peer_.load()));
    span.SetAttribute("dragonfly.bytes.seed_peer", static_cast<int64_t>(bytes_seed_.load()));
    span.SetAttribute("dragonfly.source", std::string(source));
    if (size_t left = ledger_.Emit(*ctx_->tracer, span.context()); left > 0) {
      span.SetAttribute("dragonfly.neighbours.unreported", static_cast<int64_t>(left));
    }
    if (!st.ok()) {
      span.SetError(st.ToString());
    }
  }
  if (st.ok()) {
    ctx_->metrics->tasks_succeeded.Increment();
    ctx_->metrics->ObserveDownload(source, content_length,
                                   std::chrono::duration<double>(elapsed).count());
    spdlog::info(
        "download finished task_id={} peer_id={} ms={} back_to_source_bytes={} "
        "remote_peer_bytes={} seed_peer_bytes={}",
        spec.task_id(), options_.peer_id, ms, bytes_b2s_.load(), bytes_peer_.load(),
        bytes_seed_.load());
    if (Report(sched::PEER_STATE_SUCCEEDED, "").ok() && ctx_->scheduler->enabled() &&
        ctx_->on_stored_known) {
      ctx_->on_stored_known(TaskId(spec.task_id()));
    }
  } else {
    ctx_->metrics->tasks_failed.Increment();
    spdlog::warn("download failed task_id={} peer_id={} ms={} error=\"{}\"", spec.task_id(),
                 options_.peer_id, ms, st.ToString());
    (void)Report(sched::PEER_STATE_FAILED, st.ToString());
  }
  // The exchange keeps serving the neighbours connected to it (and any that connect later, for
  // as long as the task is stored): only this download's hold goes.
  swarm_.reset();
  {
    std::lock_guard lock(mu_);
    finished_ = true;
    result_ = st;
  }
  cv_.notify_all();
  task().WakeWaiters();
  ctx_->metrics->active_tasks.Decrement();
}

void DownloadSession::AwaitPieceReports() {
  const uint32_t total = task().Stat().total_pieces;
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::seconds(1),
               [&] { return pieces_at_start_ + pieces_b2s_ + pieces_peer_ >= total; });
}

void DownloadSession::JoinSwarm(bool download) {
  if (ctx_->swarm == nullptr || swarm_) {
    return;
  }
  auto lease = ctx_->store->AcquireExisting(options_.spec.task_id());
  if (!lease.ok()) {
    return;
  }
  piece::JoinOptions o;
  o.peer_id = options_.peer_id;
  o.seed = options_.seed;
  o.download = download;
  o.observer = this;
  o.piece_length = options_.spec.piece_length();
  o.trace_parent = trace_parent_;
  swarm_ = ctx_->swarm->Join(std::move(lease).value(), std::move(o));
}

Status DownloadSession::Download() {
  if (task().done() && !options_.seed) {
    return Status::Ok();
  }
  if (options_.seed) {
    return Seed();
  }
  if (!ctx_->scheduler->enabled()) {
    if (options_.disable_back_to_source) {
      return FailedPrecondition("no scheduler is configured and back-to-source is disabled");
    }
    return BackToSource();
  }
  return Mesh();
}

Status DownloadSession::Seed() {
  // The seed joins the exchange before it tells the scheduler it exists, so the neighbours the
  // scheduler then points at it find it; it fetches from the origin and announces each piece.
  JoinSwarm(false);
  if (Status s = Register(); s.code() == StatusCode::kPermissionDenied) {
    return s;  // the cluster's blocklist refuses the task to seed peers
  }
  return task().done() ? Status::Ok() : BackToSource();
}

Status DownloadSession::BackToSource() {
  back_to_source_ = true;
  tracing::Span span;
  if (ctx_->tracer != nullptr) {
    span = ctx_->tracer->StartSpan("dfdaemon.back_to_source", tracing::SpanKind::kClient,
                                   tracing::CurrentContext());
    span.SetAttribute("http.url", backend::RedactUrl(options_.spec.url()));
  }
  tracing::ScopedContext scope(span.context());  // the origin request carries it
  if (swarm_) {
    swarm_->SetDownloading(false);
  }
  (void)Report(sched::PEER_STATE_RUNNING, "");
  OriginFetch f;
  f.spec = &options_.spec;
  f.task = &task();
  f.backend = ctx_->backend;
  f.metrics = ctx_->metrics;
  f.cancelled = &cancelled_;
  f.bytes = &bytes_b2s_;
  f.pieces = &pieces_b2s_;
  int http_status = 0;
  int attempts = 0;
  f.http_status = &http_status;
  f.attempts = &attempts;
  if (swarm_) {
    piece::SwarmSession* s = swarm_.get();
    f.on_geometry = [s] { s->GeometryKnown(); };
    f.on_piece = [s](uint32_t n) { s->PieceStored(n); };
  }
  // A blob named by its digest: the origin's bytes must be that blob (a registrant can name any
  // URL whose path carries the digest).
  f.digest = ContentDigestOf(options_.spec.task_id(), options_.spec.url());
  bool mismatch = false;
  f.digest_mismatch = &mismatch;
  Status s = FetchFromOrigin(f);
  (s.ok() ? ctx_->metrics->origin_ok : ctx_->metrics->origin_failed).Increment();
  span.SetAttribute("dragonfly.bytes", static_cast<int64_t>(bytes_b2s_.load()));
  if (http_status != 0) {
    span.SetAttribute("http.status_code", static_cast<int64_t>(http_status));
  }
  span.SetAttribute("dragonfly.retries", static_cast<int64_t>(std::max(attempts - 1, 0)));
  if (!s.ok()) {
    span.SetError(s.ToString());
  }
  if (mismatch) {
    // Nothing of it may be served or resumed: drop the stored pieces and the task's links.
    const std::string& id = options_.spec.task_id();
    if (ctx_->swarm != nullptr) {
      ctx_->swarm->Evict(id);
    }
    (void)ctx_->store->Discard(id);
    spdlog::error(
        "origin content does not match the task's digest, task discarded task_id={} "
        "url=\"{}\" error=\"{}\"",
        id, backend::RedactUrl(options_.spec.url()), s.ToString());
  }
  return s;
}

void DownloadSession::SetProgress(sched::RegisterPeerRequest* req) const {
  storage::TaskStat st = task().Stat();
  req->set_finished_pieces(st.finished_pieces);
  req->set_total_pieces(st.total_pieces);
  req->set_content_length(st.content_length);
  req->set_piece_length(st.piece_length);
  req->set_back_to_source(back_to_source_);
  req->set_seed(options_.seed);
}

Status DownloadSession::Register() {
  if (!ctx_->scheduler->enabled()) {
    return Status::Ok();
  }
  sched::RegisterPeerRequest req;
  req.set_host_id(ctx_->host_id);
  req.set_peer_id(options_.peer_id);
  *req.mutable_task() = options_.spec;
  SetProgress(&req);
  req.set_back_to_source(options_.seed);  // a seed fetches from the origin (or has fetched)
  if (auto resp = ctx_->scheduler->RegisterPeer(req); !resp.ok()) {
    spdlog::warn("could not register again task_id={} peer_id={} error=\"{}\"",
                 options_.spec.task_id(), options_.peer_id, resp.status().ToString());
    return resp.status();
  }
  return Status::Ok();
}

Status DownloadSession::Report(sched::PeerState state, const std::string& error) {
  if (!ctx_->scheduler->enabled()) {
    return Status::Ok();
  }
  sched::ReportPeerRequest req;
  req.set_host_id(ctx_->host_id);
  req.set_peer_id(options_.peer_id);
  req.set_task_id(options_.spec.task_id());
  req.set_state(state);
  storage::TaskStat st = task().Stat();
  req.set_content_length(st.content_length);
  req.set_piece_length(st.piece_length);
  req.set_finished_pieces(st.finished_pieces);
  req.set_total_pieces(st.total_pieces);
  req.set_back_to_source(back_to_source_);
  req.set_error(error);
  if (swarm_) {
    for (const piece::NeighbourStats& n : swarm_->TakeStats()) {
      auto* out = req.add_neighbours();
      out->set_peer_id(n.peer_id);
      out->set_bytes(n.bytes_received);
      out->set_bytes_sent(n.bytes_sent);
      out->set_busy_ms(n.busy_ms);
      out->set_failures(n.failures);
    }
  }
  Status s = ctx_->scheduler->ReportPeer(req);
  if (!s.ok()) {
    spdlog::debug("report to scheduler failed task_id={} error=\"{}\"", options_.spec.task_id(),
                  s.ToString());
  }
  return s;
}

}  // namespace df::daemon
