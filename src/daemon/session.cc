#include "daemon/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <random>

#include "backend/url_util.h"
#include "daemon/back_to_source.h"
#include "daemon/metrics.h"
#include "daemon/scheduler_api.h"
#include "dragonfly/common/task_id.h"

namespace df::daemon {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {
std::mt19937& ReregisterJitter() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return rng;
}

constexpr milliseconds kReportInterval{2000};
constexpr milliseconds kTopUpInterval{5000};
constexpr size_t kTopUpBelow = 4;  // ask for more neighbours while fewer are connected
constexpr uint32_t kStuckRounds = 3;
constexpr uint32_t kShortRetryMs = 100;  // a RETRY this soon is not "nobody to hand out"  // rounds
                                         // without progress before asking for the origin
}  // namespace

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

void DownloadSession::OnPieceStored(uint32_t, uint32_t bytes, const std::string&, bool from_seed) {
  bytes_peer_ += bytes;
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
  auto start = Clock::now();
  spdlog::info("download started task_id={} peer_id={} seed={} url=\"{}\"", spec.task_id(),
               options_.peer_id, options_.seed, backend::RedactUrl(spec.url()));
  Status st = Download();
  if (st.ok()) {
    st = task().Flush();
  }
  auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  if (st.ok()) {
    ctx_->metrics->tasks_succeeded.Increment();
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
  Register();
  return task().done() ? Status::Ok() : BackToSource();
}

std::vector<piece::NeighbourAddr> DownloadSession::Given(const sched::RegisterPeerResponse& resp) {
  std::vector<piece::NeighbourAddr> out;
  std::lock_guard lock(mu_);
  for (const sched::Neighbour& n : resp.neighbours()) {
    if (n.peer_id() == options_.peer_id || failed_.count(n.peer_id()) > 0 || n.piece_port() == 0 ||
        n.piece_port() > 65535) {
      continue;
    }
    piece::NeighbourAddr a;
    a.peer_id = n.peer_id();
    a.ips.assign(n.ips().begin(), n.ips().end());
    if (a.ips.empty()) {
      a.ips.push_back(n.ip());
    }
    a.port = static_cast<uint16_t>(n.piece_port());
    a.seed = n.host_type() == sched::HOST_TYPE_SEED;
    given_.insert(a.peer_id);
    gone_.erase(a.peer_id);
    out.push_back(std::move(a));
  }
  return out;
}

Status DownloadSession::Mesh() {
  JoinSwarm(true);
  const auto& cfg = ctx_->config->scheduler;
  sched::RegisterPeerRequest req;
  req.set_host_id(ctx_->host_id);
  req.set_peer_id(options_.peer_id);
  *req.mutable_task() = options_.spec;
  Clock::time_point waiting_since{};  // first RETRY of the current round (epoch: none)
  uint32_t stuck_rounds = 0;
  uint32_t pieces_at_retry = 0;  // finished pieces at the last RETRY
  uint32_t scheduler_errors = 0;
  while (!cancelled_) {
    {
      std::lock_guard lock(mu_);
      req.clear_blocked_neighbours();
      for (const std::string& id : failed_) {
        req.add_blocked_neighbours(id);
      }
      req.clear_connected();
      for (const std::string& id : given_) {
        if (gone_.count(id) == 0) {
          req.add_connected(id);
        }
      }
    }
    SetProgress(&req);
    auto resp = ctx_->scheduler->RegisterPeer(req);
    if (!resp.ok()) {
      Status s = resp.status();
      if (s.code() == StatusCode::kFailedPrecondition && scheduler_errors == 0 &&
          ctx_->announce_host) {
        ctx_->announce_host();  // the scheduler restarted and forgot this host
        scheduler_errors++;
        continue;
      }
      scheduler_errors++;
      // A full scheduler (its bounds reached) cannot take this task either: like an outage.
      bool unreachable = s.code() == StatusCode::kUnavailable ||
                         s.code() == StatusCode::kDeadlineExceeded ||
                         s.code() == StatusCode::kResourceExhausted;
      if (unreachable && scheduler_errors >= 2 && req.connected_size() == 0) {
        if (!cfg.back_to_source_when_unreachable || options_.disable_back_to_source) {
          return s.Annotate("scheduler unreachable and back-to-source not allowed");
        }
        {
          std::lock_guard lock(mu_);
          warning_ = "scheduler unreachable (" + s.message() + "); downloaded back-to-source";
        }
        spdlog::warn("scheduler unreachable, going back to source task_id={} error=\"{}\"",
                     options_.spec.task_id(), s.ToString());
        return BackToSource();
      }
      if (!unreachable && scheduler_errors > 3) {
        return s;
      }
      if (unreachable && req.connected_size() > 0) {
        // The data path does not need the scheduler: go on with the neighbours we have.
        switch (WaitForProgress()) {
          case Wake::kDone:
            return Status::Ok();
          case Wake::kCancelled:
            return Cancelled("download cancelled");
          case Wake::kFatal: {
            std::lock_guard lock(mu_);
            return fatal_;
          }
          default:
            continue;
        }
      }
      WaitCancelled(milliseconds(200 * scheduler_errors));
      continue;
    }
    scheduler_errors = 0;
    switch (resp->action()) {
      case sched::ACTION_BACK_TO_SOURCE:
        if (options_.disable_back_to_source) {
          return FailedPrecondition(
              "no neighbour has the task and back-to-source is disabled (scheduler: " +
              resp->reason() + ")");
        }
        return BackToSource();
      case sched::ACTION_NEIGHBOURS: {
        waiting_since = Clock::time_point{};
        std::vector<piece::NeighbourAddr> given = Given(*resp);
        std::string names;
        for (const piece::NeighbourAddr& a : given) {
          names += (names.empty() ? "" : ",") + a.peer_id;
        }
        spdlog::info("neighbours task_id={} peer_id={} given=[{}]", options_.spec.task_id(),
                     options_.peer_id, names);
        if (swarm_) {
          swarm_->Connect(std::move(given), resp->piece_token());
        }
        if (std::optional<Status> end = Trade(&req, &stuck_rounds)) {
          return *end;
        }
        break;
      }
      case sched::ACTION_RETRY: {
        // Nobody (new) to hand out. A peer that trades with the neighbours it has (e.g. after a
        // scheduler took the task over and has not heard from the others yet) goes on with them,
        // and while pieces arrive the wait does not count towards going back to source.
        const bool trading = swarm_ && swarm_->neighbours() > 0 &&
                             resp->retry_after_ms() > kShortRetryMs;  // not "the seed is coming"
        const uint32_t pieces = task().Stat().finished_pieces;
        if (trading && pieces > pieces_at_retry) {
          waiting_since = Clock::time_point{};
        }
        pieces_at_retry = pieces;
        auto now = Clock::now();
        if (waiting_since == Clock::time_point{}) {
          waiting_since = now;
        }
        if (now - waiting_since >= cfg.schedule_timeout) {
          if (options_.disable_back_to_source) {
            if (now - waiting_since >= 3 * cfg.schedule_timeout) {
              return Unavailable("no neighbour became available and back-to-source is disabled");
            }
          } else {
            req.set_need_back_to_source(true);
          }
        }
        if (trading && !req.need_back_to_source()) {
          if (std::optional<Status> end = Trade(&req, &stuck_rounds)) {
            return *end;
          }
          break;
        }
        WaitCancelled(milliseconds(std::clamp<uint32_t>(resp->retry_after_ms(), 5, 5000)));
        break;
      }
      case sched::ACTION_FAIL:
      default:
        return Unavailable("scheduler refused the download: " + resp->reason());
    }
  }
  return Cancelled("download cancelled");
}

std::optional<Status> DownloadSession::Trade(sched::RegisterPeerRequest* req,
                                             uint32_t* stuck_rounds) {
  const uint32_t pieces_before = task().Stat().finished_pieces;
  Wake w = WaitForProgress();
  switch (w) {
    case Wake::kDone:
      return Status::Ok();
    case Wake::kCancelled:
      return Cancelled("download cancelled");
    case Wake::kFatal: {
      std::lock_guard lock(mu_);
      return fatal_;
    }
    case Wake::kTopUp:
    case Wake::kReRegister:
      return std::nullopt;
    default:
      break;
  }
  *stuck_rounds = task().Stat().finished_pieces > pieces_before ? 0 : *stuck_rounds + 1;
  spdlog::info("asking for other neighbours task_id={} peer_id={} reason={}",
               options_.spec.task_id(), options_.peer_id,
               w == Wake::kStalled ? "stalled" : "no neighbour left");
  if (*stuck_rounds >= kStuckRounds && !options_.disable_back_to_source) {
    req->set_need_back_to_source(true);
  }
  return std::nullopt;
}

DownloadSession::Wake DownloadSession::WaitForProgress() {
  const auto stall = ctx_->config->download.stall_timeout;
  auto next_report = Clock::now() + kReportInterval;
  auto next_topup = Clock::now() + kTopUpInterval;
  std::optional<Clock::time_point> reregister_at;
  while (true) {
    if (task().done()) {
      return Wake::kDone;
    }
    auto now = Clock::now();
    bool no_neighbours = false;
    {
      std::unique_lock lock(mu_);
      if (cancelled_) {
        return Wake::kCancelled;
      }
      if (!fatal_.ok()) {
        return Wake::kFatal;
      }
      if (now - last_progress_ > stall) {
        last_progress_ = now;  // the next round gets a whole stall period
        return Wake::kStalled;
      }
      if (neighbours_changed_) {
        neighbours_changed_ = false;
        no_neighbours = std::all_of(given_.begin(), given_.end(),
                                    [&](const std::string& id) { return gone_.count(id) > 0; });
      }
    }
    // Outside mu_: the swarm's calls wait for its network thread, which takes mu_ to notify.
    if (no_neighbours && (!swarm_ || swarm_->neighbours() == 0)) {
      return Wake::kNoNeighbours;
    }
    if (reregister_at && now >= *reregister_at) {
      return Wake::kReRegister;
    }
    if (now >= next_report) {
      next_report = now + kReportInterval;
      Status r = Report(sched::PEER_STATE_RUNNING, "");
      if (r.code() == StatusCode::kNotFound && !reregister_at) {
        // The scheduler that now owns the task does not know this peer (it took the task over,
        // or it came back): register with it again, at a random moment of the next report
        // interval so that the hosts of a large swarm do not all arrive at once.
        reregister_at = now + std::chrono::duration_cast<Clock::duration>(
                                  kReportInterval *
                                  std::uniform_real_distribution<double>(0, 1)(ReregisterJitter()));
        spdlog::info("task unknown to its scheduler now, registering again task_id={} peer_id={}",
                     options_.spec.task_id(), options_.peer_id);
      }
      if (Status f = task().Flush(); !f.ok()) {
        std::lock_guard lock(mu_);
        fatal_ = f;
        continue;
      }
    }
    if (now >= next_topup) {
      next_topup = now + kTopUpInterval;
      if (swarm_ && swarm_->neighbours() < kTopUpBelow) {
        return Wake::kTopUp;
      }
    }
    auto until = std::min(next_report, next_topup);
    if (reregister_at) {
      until = std::min(until, *reregister_at);
    }
    std::unique_lock lock(mu_);
    const auto seen = last_progress_;
    until = std::min(until, last_progress_ + stall + milliseconds(1));
    cv_.wait_until(lock, until, [&] {
      return cancelled_.load() || !fatal_.ok() || neighbours_changed_ || last_progress_ != seen;
    });
  }
}

Status DownloadSession::BackToSource() {
  back_to_source_ = true;
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

void DownloadSession::Register() {
  if (!ctx_->scheduler->enabled()) {
    return;
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
  }
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
