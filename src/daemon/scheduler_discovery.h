// Which schedulers this dfdaemon uses, asked from the manager (Manager.ListSchedulers with the
// host's hostname, ip, idc and location): once at start, then every refresh interval, and on
// demand (RequestRefresh(), when every current scheduler is unreachable; at most once a second).
// The answer ("ip:port" of each scheduler, sorted so that every daemon hashes tasks the same way)
// replaces the SchedulerClient's list. When the manager is unreachable or returns no scheduler,
// the fallback list (scheduler.addrs) is used; if that is empty the last list stays.
//
// Logs "schedulers from manager: [...]" when the manager's list changes the client's list, and
// one warning per manager outage.
//
// Threads: Start() refreshes on the calling thread, then starts the refresh thread.
// RequestRefresh() is thread-safe and returns at once. Stop() (also run by the destructor) cancels
// a call in flight and joins the thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/manager.grpc.pb.h"
#include "daemon/scheduler_client.h"
#include "dragonfly/rpc/tls.h"

namespace df::daemon {

namespace mgr = ::dragonfly::api::manager;

class SchedulerDiscovery {
 public:
  struct Options {
    std::vector<std::string> manager_addrs;  // tried in turn, starting with the last that answered
    std::vector<std::string> fallback;       // scheduler.addrs
    std::chrono::milliseconds refresh_interval{30000};  // a shorter manager hint wins
    std::chrono::milliseconds rpc_timeout{5000};
    std::chrono::milliseconds min_on_demand_interval{1000};
    mgr::ListSchedulersRequest request;  // who asks
    std::string token;                   // the manager's component token, if it wants one
    // Called (on the discovery thread) with each answer's cluster config.
    std::function<void(const mgr::SchedulerClusterConfig&)> on_config;
    std::shared_ptr<const rpc::Credentials> credentials;  // TLS to the manager; null: plaintext
  };

  // `client` must outlive this object.
  static std::unique_ptr<SchedulerDiscovery> Start(Options options, SchedulerClient* client);
  ~SchedulerDiscovery();
  SchedulerDiscovery(const SchedulerDiscovery&) = delete;
  SchedulerDiscovery& operator=(const SchedulerDiscovery&) = delete;

  // Asks the manager again soon (rate-limited). No-op after Stop().
  void RequestRefresh();
  void Stop();
  // Completed refreshes (for tests).
  uint64_t refreshes() const;

 private:
  SchedulerDiscovery(Options options, SchedulerClient* client);
  // One ListSchedulers round over the managers, applied to the client. Returns the manager's
  // refresh hint (0 = none).
  std::chrono::milliseconds Refresh(bool announce_added);
  // The refresh thread; `hint` is the first refresh's.
  void Run(std::chrono::milliseconds hint);

  const Options opts_;
  SchedulerClient* client_;
  std::vector<std::unique_ptr<mgr::Manager::Stub>> stubs_;  // one per manager address
  size_t preferred_ = 0;                                    // refresh thread (and Start) only
  bool outage_ = false;        // a warning was logged for the current outage; refresh thread only
  bool from_manager_ = false;  // the client's list came from the manager; refresh thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool requested_ = false;
  grpc::ClientContext* call_ = nullptr;  // the call in flight, for Stop()
  uint64_t refreshes_ = 0;
  std::thread thread_;
};

}  // namespace df::daemon
