// DownloadSession's dialogue with the scheduler while it trades with neighbours: registering,
// connecting what it is given, waiting for progress, asking again (stall, lost neighbours, top-up,
// the task's scheduler not knowing it), and when to ask for the origin. See session.h.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <random>

#include "daemon/scheduler_api.h"
#include "daemon/session.h"

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
constexpr size_t kTopUpBelow = 4;        // ask for more neighbours while fewer are connected
constexpr uint32_t kStuckRounds = 3;     // rounds without progress before asking for the origin
constexpr uint32_t kShortRetryMs = 100;  // a RETRY this soon is not "nobody to hand out"

}  // namespace

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
      if (s.code() == StatusCode::kPermissionDenied) {
        return s;  // the cluster refuses the task (its blocklist): not from peers, not from origin
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
        if (std::optional<Status> end = Ended(WaitForProgress())) {
          return *end;
        }
        continue;
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

std::optional<Status> DownloadSession::Ended(Wake w) {
  switch (w) {
    case Wake::kDone:
      return Status::Ok();
    case Wake::kCancelled:
      return Cancelled("download cancelled");
    case Wake::kFatal: {
      std::lock_guard lock(mu_);
      return fatal_;
    }
    default:
      return std::nullopt;
  }
}

std::optional<Status> DownloadSession::Trade(sched::RegisterPeerRequest* req,
                                             uint32_t* stuck_rounds) {
  const uint32_t pieces_before = task().Stat().finished_pieces;
  const Wake w = WaitForProgress();
  if (std::optional<Status> end = Ended(w)) {
    return end;
  }
  if (w == Wake::kTopUp || w == Wake::kReRegister) {
    return std::nullopt;
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

}  // namespace df::daemon
