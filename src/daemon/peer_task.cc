#include "daemon/peer_task.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <deque>
#include <random>

#include "daemon/metrics.h"
#include "daemon/piece_picker.h"
#include "daemon/scheduler_client.h"
#include "dragonfly/common/digest.h"
#include "dragonfly/common/piece.h"
#include "dragonfly/piece/piece_client.h"

namespace df::daemon {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct PeerTask::Swarm {
  struct Parent {
    sched::Parent info;
    bool alive = true;
    bool dropped = false;
    uint64_t bytes = 0;
    uint64_t busy_ms = 0;
    uint32_t failures = 0;
    std::string error;
  };
  explicit Swarm(uint64_t seed) : picker(seed) {}

  // Records how long a piece took from request to arrival and adapts the endgame threshold
  // to twice the running average (at least 2 s).
  void RecordLatency(milliseconds latency) {
    latency_ms = latency_ms == 0 ? static_cast<double>(latency.count())
                                 : 0.8 * latency_ms + 0.2 * static_cast<double>(latency.count());
    picker.set_endgame_after(
        std::max(milliseconds(2000), milliseconds(static_cast<int64_t>(2 * latency_ms))));
  }

  std::mutex mu;
  PiecePicker picker;
  double latency_ms = 0;  // running average, request to arrival
  std::vector<Parent> parents;
  int alive = 0;
  Status fatal;  // a local (disk) error that ends the download
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
};

PeerTask::PeerTask(DaemonContext* ctx, DownloadOptions options, storage::TaskLease lease)
    : ctx_(ctx), options_(std::move(options)), lease_(std::move(lease)) {}

PeerTask::~PeerTask() = default;

void PeerTask::Start(std::function<void(PeerTask*)> on_done) {
  auto self = shared_from_this();
  std::thread([self, on_done = std::move(on_done)] {
    self->Run();
    if (on_done) {
      on_done(self.get());
    }
  }).detach();
}

void PeerTask::Cancel() {
  cancelled_ = true;
  cv_.notify_all();
}

bool PeerTask::WaitFinished(milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return finished_; });
}

bool PeerTask::finished() const {
  std::lock_guard lock(mu_);
  return finished_;
}

Status PeerTask::result() const {
  std::lock_guard lock(mu_);
  return result_;
}

std::string PeerTask::warning() const {
  std::lock_guard lock(mu_);
  return warning_;
}

SourceBytes PeerTask::bytes() const {
  return {bytes_b2s_.load(), bytes_peer_.load(), bytes_seed_.load()};
}

bool PeerTask::WaitCancelled(milliseconds d) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, d, [&] { return cancelled_.load(); });
}

void PeerTask::Run() {
  const auto& spec = options_.spec;
  ctx_->metrics->active_tasks.Increment();
  auto start = Clock::now();
  spdlog::info("download started task_id={} peer_id={} seed={} url=\"{}\"", spec.task_id(),
               options_.peer_id, options_.seed, spec.url());
  Status st = Download();
  if (st.ok()) {
    st = task().Flush();
  }
  auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  if (st.ok()) {
    ctx_->metrics->tasks_succeeded.Increment();
    spdlog::info(
        "download finished task_id={} peer_id={} ms={} back_to_source_bytes={} "
        "remote_peer_bytes={}",
        spec.task_id(), options_.peer_id, ms, bytes_b2s_.load(), bytes_peer_.load());
    Report(sched::PEER_STATE_SUCCEEDED, "", nullptr);
  } else {
    ctx_->metrics->tasks_failed.Increment();
    spdlog::warn("download failed task_id={} peer_id={} ms={} error=\"{}\"", spec.task_id(),
                 options_.peer_id, ms, st.ToString());
    Report(sched::PEER_STATE_FAILED, st.ToString(), nullptr);
  }
  {
    std::lock_guard lock(mu_);
    finished_ = true;
    result_ = st;
  }
  cv_.notify_all();
  ctx_->metrics->active_tasks.Decrement();
}

Status PeerTask::Download() {
  if (task().done() && !options_.seed) {
    return Status::Ok();
  }
  if (options_.seed) {
    // The seed peer is the root of the task: it tells the scheduler it exists (so children can
    // be pointed at it) and fetches from the origin.
    if (ctx_->scheduler->enabled()) {
      sched::RegisterPeerRequest req;
      req.set_host_id(ctx_->host_id);
      req.set_peer_id(options_.peer_id);
      *req.mutable_task() = options_.spec;
      auto resp = ctx_->scheduler->RegisterPeer(req);
      if (!resp.ok()) {
        spdlog::warn("seed peer could not register task_id={} error=\"{}\"",
                     options_.spec.task_id(), resp.status().ToString());
      }
    }
    return task().done() ? Status::Ok() : BackToSource();
  }
  if (!ctx_->scheduler->enabled()) {
    if (options_.disable_back_to_source) {
      return FailedPrecondition("no scheduler is configured and back-to-source is disabled");
    }
    return BackToSource();
  }
  const auto& cfg = ctx_->config->scheduler;
  sched::RegisterPeerRequest req;
  req.set_host_id(ctx_->host_id);
  req.set_peer_id(options_.peer_id);
  *req.mutable_task() = options_.spec;
  std::optional<Clock::time_point> waiting_since;  // first RETRY of the current round
  uint32_t parent_rounds = 0;
  uint32_t scheduler_errors = 0;
  while (!cancelled_) {
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
      bool unreachable =
          s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
      if (unreachable && scheduler_errors >= 2) {
        if (cfg.back_to_source_when_unreachable && !options_.disable_back_to_source) {
          std::lock_guard lock(mu_);
          warning_ = "scheduler unreachable (" + s.message() + "); downloaded back-to-source";
          spdlog::warn("scheduler unreachable, going back to source task_id={} error=\"{}\"",
                       options_.spec.task_id(), s.ToString());
        } else {
          return s.Annotate("scheduler unreachable and back-to-source not allowed");
        }
        return BackToSource();
      }
      if (!unreachable && scheduler_errors > 3) {
        return s;
      }
      WaitCancelled(milliseconds(200 * scheduler_errors));
      continue;
    }
    scheduler_errors = 0;
    switch (resp->action()) {
      case sched::ACTION_BACK_TO_SOURCE:
        if (options_.disable_back_to_source) {
          return FailedPrecondition(
              "no parent has the task and back-to-source is disabled (scheduler: " +
              resp->reason() + ")");
        }
        return BackToSource();
      case sched::ACTION_PARENTS: {
        waiting_since.reset();
        std::vector<std::string> failed;
        Status s = DownloadFromParents(*resp, &failed);
        if (s.ok() || s.code() == StatusCode::kCancelled || s.code() == StatusCode::kInternal ||
            s.code() == StatusCode::kResourceExhausted ||
            s.code() == StatusCode::kPermissionDenied) {
          return s;
        }
        spdlog::info("parents exhausted, rescheduling task_id={} peer_id={} reason=\"{}\"",
                     options_.spec.task_id(), options_.peer_id, s.ToString());
        for (auto& f : failed) {
          req.add_blocked_parents(f);
        }
        if (++parent_rounds >= 3 && !options_.disable_back_to_source) {
          req.set_need_back_to_source(true);
        }
        break;
      }
      case sched::ACTION_RETRY: {
        auto now = Clock::now();
        if (!waiting_since) {
          waiting_since = now;
        }
        if (now - *waiting_since >= cfg.schedule_timeout) {
          if (options_.disable_back_to_source) {
            if (now - *waiting_since >= 3 * cfg.schedule_timeout) {
              return Unavailable("no parent became available and back-to-source is disabled");
            }
          } else {
            req.set_need_back_to_source(true);
          }
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

Status PeerTask::AdoptGeometry(const storage::PieceMap& map) {
  if (map.piece_length == 0) {
    return Status::Ok();
  }
  storage::TaskStat st = task().Stat();
  if (st.piece_length == 0) {
    return task().SetGeometry(map.content_length, map.piece_length);
  }
  if (st.piece_length != map.piece_length) {
    return InvalidArgument("parent has piece length " + std::to_string(map.piece_length) +
                           ", this task " + std::to_string(st.piece_length));
  }
  if (st.content_length < 0 && map.content_length >= 0) {
    return task().SetFinalLength(map.content_length);
  }
  if (map.content_length >= 0 && st.content_length != map.content_length) {
    return InvalidArgument("parent has content length " + std::to_string(map.content_length));
  }
  return Status::Ok();
}

void PeerTask::ParentWorker(Swarm* s, int index) {
  const sched::Parent info = [&] {
    std::lock_guard lock(s->mu);
    return s->parents[static_cast<size_t>(index)].info;
  }();
  const auto& cfg = ctx_->config->download;
  const std::string& task_id = options_.spec.task_id();
  auto piece_timeout = static_cast<int>(cfg.piece_timeout.count());
  Status error;
  bool corrupt = false;
  std::vector<std::string> ips(info.ips().begin(), info.ips().end());
  if (ips.empty()) {
    ips.push_back(info.ip());
  }
  auto conn =
      piece::ConnectPiece(ips, static_cast<uint16_t>(info.piece_port()), 3000, piece_timeout);
  if (!conn.ok()) {
    error = conn.status();
  }
  std::deque<std::pair<uint32_t, Clock::time_point>> pending;  // piece, requested at
  std::vector<char> buf;
  uint64_t version = 0;
  int misses = 0;
  auto have = [this](uint32_t n) { return task().HasPiece(n); };
  while (error.ok() && !s->stop && !cancelled_) {
    while (pending.size() < cfg.concurrent_piece_count) {
      std::optional<uint32_t> n;
      {
        std::lock_guard lock(s->mu);
        n = s->picker.Pick(index, have);
      }
      if (!n) {
        break;
      }
      error = (*conn)->RequestPiece(task_id, *n);
      if (!error.ok()) {
        break;
      }
      pending.emplace_back(*n, Clock::now());
    }
    if (!error.ok()) {
      break;
    }
    if (pending.empty()) {
      if (task().done()) {
        break;
      }
      error = (*conn)->RequestMap(task_id, version, 1000);
      if (!error.ok()) {
        break;
      }
      auto map = (*conn)->ReadMap();
      if (!map.ok()) {
        if (map.status().code() == StatusCode::kNotFound && ++misses < 20) {
          WaitCancelled(milliseconds(100));
          continue;
        }
        error = map.status();
        break;
      }
      version = map->version;
      error = AdoptGeometry(*map);
      std::lock_guard lock(s->mu);
      s->picker.UpdateParent(index, map->bitmap);
      continue;
    }
    auto [n, requested_at] = pending.front();
    pending.pop_front();
    auto t0 = Clock::now();
    auto header = (*conn)->ReadPieceHeader();
    if (!header.ok()) {
      {
        std::lock_guard lock(s->mu);
        s->picker.Finished(n, index);
        s->parents[static_cast<size_t>(index)].failures++;
      }
      if (header.status().code() == StatusCode::kNotFound && ++misses < 20) {
        version = 0;  // refresh the parent's map before asking again
        continue;
      }
      error = header.status();
      break;
    }
    uint32_t max_len = task().Stat().piece_length;
    if (header->number != n || header->length == 0 || header->length > max_len) {
      error = InvalidArgument("parent answered piece " + std::to_string(header->number) + " (" +
                              std::to_string(header->length) + " bytes) for piece " +
                              std::to_string(n));
      break;
    }
    buf.resize(header->length);
    error = (*conn)->ReadBody(buf.data(), header->length);
    if (!error.ok()) {
      std::lock_guard lock(s->mu);
      s->picker.Finished(n, index);
      break;
    }
    auto busy = std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
    if (task().HasPiece(n)) {  // an endgame duplicate that lost the race
      std::lock_guard lock(s->mu);
      s->picker.Finished(n, index);
      continue;
    }
    Status w = task().WritePiece(n, buf.data(), header->length, header->crc);
    std::lock_guard lock(s->mu);
    s->picker.Finished(n, index);
    auto& p = s->parents[static_cast<size_t>(index)];
    if (w.code() == StatusCode::kDataLoss) {
      ctx_->metrics->piece_corrupt.Increment();
      p.failures++;
      corrupt = true;
      error = w;
      break;
    }
    if (w.code() == StatusCode::kInvalidArgument) {
      error = w;
      break;
    }
    if (!w.ok()) {
      s->fatal = w;  // local storage failure: the whole download fails
      break;
    }
    p.bytes += header->length;
    p.busy_ms += static_cast<uint64_t>(busy);
    s->RecordLatency(std::chrono::duration_cast<milliseconds>(Clock::now() - requested_at));
    bytes_peer_ += header->length;
    ctx_->metrics->bytes_remote_peer.Increment(header->length);
    if (info.host_type() == sched::HOST_TYPE_SEED) {
      bytes_seed_ += header->length;
      ctx_->metrics->bytes_seed_peer.Increment(header->length);
    }
    ctx_->metrics->pieces_remote_peer.Increment();
  }
  std::lock_guard lock(s->mu);
  for (const auto& [n, at] : pending) {
    s->picker.Finished(n, index);
  }
  s->picker.RemoveParent(index);
  auto& p = s->parents[static_cast<size_t>(index)];
  p.alive = false;
  s->alive--;
  if (!error.ok() && !s->stop) {
    p.dropped = true;
    p.error = error.ToString();
    ctx_->metrics->parent_failures.Increment();
    spdlog::warn("dropping parent task_id={} parent={} addr={}:{} corrupt={} error=\"{}\"", task_id,
                 info.peer_id(), info.ip(), info.piece_port(), corrupt, error.ToString());
  }
}

Status PeerTask::DownloadFromParents(const sched::RegisterPeerResponse& resp,
                                     std::vector<std::string>* failed) {
  auto swarm = std::make_shared<Swarm>(std::random_device{}());
  for (const auto& p : resp.parents()) {
    if (p.peer_id() == options_.peer_id) {
      continue;
    }
    swarm->parents.push_back({p});
  }
  if (swarm->parents.empty()) {
    return Unavailable("scheduler gave no usable parent");
  }
  spdlog::info("downloading from parents task_id={} peer_id={} parents={}", options_.spec.task_id(),
               options_.peer_id, swarm->parents.size());
  swarm->alive = static_cast<int>(swarm->parents.size());
  auto self = shared_from_this();
  for (size_t i = 0; i < swarm->parents.size(); ++i) {
    swarm->threads.emplace_back(
        [self, swarm, i] { self->ParentWorker(swarm.get(), static_cast<int>(i)); });
  }
  const auto stall = ctx_->config->download.stall_timeout;
  uint64_t version = task().Map().version;
  auto last_progress = Clock::now();
  auto last_report = Clock::now();
  auto last_flush = Clock::now();
  Status result;
  while (true) {
    if (task().done()) {
      break;
    }
    if (cancelled_) {
      result = Cancelled("download cancelled");
      break;
    }
    {
      std::lock_guard lock(swarm->mu);
      if (!swarm->fatal.ok()) {
        result = swarm->fatal;
        break;
      }
      if (swarm->alive == 0) {
        result = Unavailable("every parent failed");
        break;
      }
    }
    uint64_t v = task().WaitForChange(version, milliseconds(500));
    auto now = Clock::now();
    if (v != version) {
      version = v;
      last_progress = now;
    } else if (now - last_progress > stall) {
      result =
          DeadlineExceeded("no progress from parents for " + std::to_string(stall.count()) + " ms");
      break;
    }
    if (now - last_flush > std::chrono::seconds(1)) {
      last_flush = now;
      if (Status f = task().Flush(); !f.ok()) {
        result = f;
        break;
      }
    }
    if (now - last_report > std::chrono::seconds(2)) {
      last_report = now;
      Report(sched::PEER_STATE_RUNNING, "", swarm.get());
    }
  }
  swarm->stop = true;
  {
    std::lock_guard lock(swarm->mu);
    for (const auto& p : swarm->parents) {
      if (p.dropped) {
        failed->push_back(p.info.peer_id());
      }
    }
  }
  // Workers finish their current request (bounded by the piece timeout) and exit; they own a
  // reference to the swarm and this task, so nobody waits for them here.
  for (auto& t : swarm->threads) {
    t.detach();
  }
  return result;
}

Status PeerTask::BackToSource() {
  back_to_source_ = true;
  Report(sched::PEER_STATE_RUNNING, "", nullptr);
  storage::Task& t = task();
  storage::TaskStat st = t.Stat();
  uint32_t piece_length = st.piece_length;
  uint32_t next = piece_length == 0 ? 0 : static_cast<uint32_t>(t.ReadyBytes() / piece_length);
  backend::FetchRequest req;
  req.url = options_.spec.url();
  for (const auto& [k, v] : options_.spec.headers()) {
    req.headers[k] = v;
  }
  req.offset = PieceOffset(piece_length, next);
  uint64_t received = 0;
  std::vector<char> buf;
  uint32_t fill = 0;
  auto last_flush = Clock::now();
  auto commit = [&]() -> Status {
    if (!t.HasPiece(next)) {
      DF_RETURN_IF_ERROR(t.WritePiece(next, buf.data(), fill, Crc32c(0, buf.data(), fill)));
      bytes_b2s_ += fill;
      ctx_->metrics->bytes_back_to_source.Increment(fill);
      ctx_->metrics->pieces_back_to_source.Increment();
    }
    next++;
    fill = 0;
    if (Clock::now() - last_flush > std::chrono::seconds(1)) {
      last_flush = Clock::now();
      return t.Flush();
    }
    return Status::Ok();
  };
  auto on_response = [&](const backend::ResponseInfo& info) -> Status {
    if (piece_length == 0) {
      piece_length = options_.spec.piece_length() != 0 ? options_.spec.piece_length()
                                                       : ComputePieceLength(info.total_length);
      DF_RETURN_IF_ERROR(t.SetGeometry(info.total_length, piece_length));
    } else if (info.total_length >= 0) {
      storage::TaskStat now = t.Stat();
      if (now.content_length < 0) {
        DF_RETURN_IF_ERROR(t.SetFinalLength(info.total_length));
      } else if (now.content_length != info.total_length) {
        return DataLoss("origin content length changed from " + std::to_string(now.content_length) +
                        " to " + std::to_string(info.total_length) + "; delete the task and retry");
      }
    }
    buf.resize(piece_length);
    return Status::Ok();
  };
  auto on_data = [&](const char* data, size_t n) -> Status {
    if (cancelled_) {
      return Cancelled("download cancelled");
    }
    received += n;
    while (n > 0) {
      uint32_t want = t.PieceSize(next);
      if (want == 0) {
        return DataLoss("origin sent more bytes than its content length");
      }
      uint32_t take = static_cast<uint32_t>(std::min<size_t>(n, want - fill));
      std::memcpy(buf.data() + fill, data, take);
      fill += take;
      data += take;
      n -= take;
      if (fill == want) {
        DF_RETURN_IF_ERROR(commit());
      }
    }
    return Status::Ok();
  };
  DF_RETURN_IF_ERROR(ctx_->backend->Fetch(req, on_response, on_data));
  if (t.Stat().content_length < 0) {
    if (fill > 0) {
      DF_RETURN_IF_ERROR(commit());
    }
    DF_RETURN_IF_ERROR(t.SetFinalLength(static_cast<int64_t>(req.offset + received)));
  }
  if (!t.done()) {
    return DataLoss("origin closed the connection early: got " +
                    std::to_string(req.offset + received) + " of " +
                    std::to_string(t.Stat().content_length) + " bytes");
  }
  return Status::Ok();
}

void PeerTask::Report(sched::PeerState state, const std::string& error, Swarm* swarm) {
  if (!ctx_->scheduler->enabled()) {
    return;
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
  if (swarm != nullptr) {
    std::lock_guard lock(swarm->mu);
    for (auto& p : swarm->parents) {
      auto* ps = req.add_parents();
      ps->set_peer_id(p.info.peer_id());
      ps->set_bytes(p.bytes);
      ps->set_busy_ms(p.busy_ms);
      ps->set_failures(p.failures);
      ps->set_dropped(p.dropped);
      p.bytes = 0;
      p.busy_ms = 0;
      p.failures = 0;
    }
  }
  Status s = ctx_->scheduler->ReportPeer(req);
  if (!s.ok()) {
    spdlog::debug("report to scheduler failed task_id={} error=\"{}\"", options_.spec.task_id(),
                  s.ToString());
  }
}

}  // namespace df::daemon
