#include "daemon/scheduler_discovery.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "dragonfly/common/net.h"
#include "dragonfly/manager/keepalive.h"
#include "dragonfly/rpc/status.h"

namespace df::daemon {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    out += (out.empty() ? "" : ", ") + s;
  }
  return "[" + out + "]";
}

// "ip:port" of each usable scheduler, sorted and without duplicates.
std::vector<std::string> Addresses(const mgr::ListSchedulersResponse& resp) {
  std::vector<std::string> out;
  for (const auto& s : resp.schedulers()) {
    if (s.ip().empty() || s.port() == 0 || s.port() > 65535) {
      continue;
    }
    out.push_back(net::JoinHostPort(s.ip(), static_cast<uint16_t>(s.port())));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

SchedulerDiscovery::SchedulerDiscovery(Options options, SchedulerClient* client)
    : opts_(std::move(options)), client_(client) {
  for (const auto& addr : opts_.manager_addrs) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
    const auto& creds = opts_.credentials ? opts_.credentials : rpc::Credentials::Insecure();
    stubs_.push_back(mgr::Manager::NewStub(creds->Dial(addr, {security::Role::kManager}, args)));
  }
}

std::unique_ptr<SchedulerDiscovery> SchedulerDiscovery::Start(Options options,
                                                              SchedulerClient* client) {
  std::unique_ptr<SchedulerDiscovery> d(new SchedulerDiscovery(std::move(options), client));
  milliseconds hint = d->Refresh(/*announce_added=*/false);
  d->thread_ = std::thread([p = d.get(), hint] { p->Run(hint); });
  return d;
}

SchedulerDiscovery::~SchedulerDiscovery() { Stop(); }

void SchedulerDiscovery::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (call_ != nullptr) {
      call_->TryCancel();
    }
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void SchedulerDiscovery::RequestRefresh() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || requested_) {
      return;
    }
    requested_ = true;
  }
  cv_.notify_all();
}

uint64_t SchedulerDiscovery::refreshes() const {
  std::lock_guard lock(mu_);
  return refreshes_;
}

milliseconds SchedulerDiscovery::Refresh(bool announce_added) {
  mgr::ListSchedulersResponse resp;
  Status s = Unavailable("no manager configured");
  for (size_t i = 0; i < stubs_.size(); ++i) {
    size_t k = (preferred_ + i) % stubs_.size();
    grpc::ClientContext ctx;
    if (!opts_.token.empty()) {
      ctx.AddMetadata(manager::kComponentTokenHeader, opts_.token);
    }
    ctx.set_deadline(std::chrono::system_clock::now() + opts_.rpc_timeout);
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        return milliseconds(0);
      }
      call_ = &ctx;
    }
    grpc::Status st = stubs_[k]->ListSchedulers(&ctx, opts_.request, &resp);
    {
      std::lock_guard lock(mu_);
      call_ = nullptr;
    }
    s = rpc::FromGrpc(st, "manager " + opts_.manager_addrs[k]);
    if (s.ok()) {
      preferred_ = k;
      break;
    }
    resp.Clear();
  }
  if (s.ok() && outage_) {
    spdlog::info("manager reachable again");
    outage_ = false;
  } else if (!s.ok() && !outage_) {
    spdlog::warn("manager unreachable, cannot refresh the scheduler list error=\"{}\"",
                 s.ToString());
    outage_ = true;
  } else if (!s.ok()) {
    spdlog::debug("manager still unreachable error=\"{}\"", s.ToString());
  }

  std::vector<std::string> list = Addresses(resp);
  if (s.ok() && resp.has_config() && opts_.on_config) {
    opts_.on_config(resp.config());
  }
  if (!list.empty()) {
    if (client_->SetSchedulers(list, announce_added) || !from_manager_) {
      spdlog::info("schedulers from manager: {}", Join(list));
    }
    from_manager_ = true;
  } else if (!opts_.fallback.empty()) {
    if (client_->SetSchedulers(opts_.fallback, announce_added) || from_manager_) {
      spdlog::warn("{}, using scheduler.addrs: {}",
                   s.ok() ? "manager returned no scheduler" : "manager unreachable",
                   Join(opts_.fallback));
    }
    from_manager_ = false;
  }
  {
    std::lock_guard lock(mu_);
    ++refreshes_;
  }
  return s.ok() ? milliseconds(resp.refresh_interval_ms()) : milliseconds(0);
}

void SchedulerDiscovery::Run(milliseconds hint) {
  // The manager's hint may shorten the period (to no less than a second), never lengthen it.
  auto interval = [this](milliseconds h) {
    return h.count() > 0 ? std::min(std::max(h, milliseconds(1000)), opts_.refresh_interval)
                         : opts_.refresh_interval;
  };
  auto last = Clock::now();
  auto next = last + interval(hint);
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_until(lock, next, [&] { return stopping_ || requested_; });
    if (stopping_) {
      break;
    }
    if (requested_) {
      // On demand, but not more often than min_on_demand_interval.
      cv_.wait_until(lock, last + opts_.min_on_demand_interval, [&] { return stopping_; });
      if (stopping_) {
        break;
      }
    }
    requested_ = false;
    lock.unlock();
    hint = Refresh(/*announce_added=*/true);
    lock.lock();
    last = Clock::now();
    next = last + interval(hint);
  }
}

}  // namespace df::daemon
