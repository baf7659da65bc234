// gRPC `dragonfly.api.scheduler.Scheduler` (callback API) over a SchedulerState, and the
// server that hosts it together with the GC timer.
#pragma once

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "api/scheduler.grpc.pb.h"
#include "dragonfly/common/status.h"
#include "dragonfly/manager/enroll.h"
#include "dragonfly/manager/keepalive.h"
#include "dragonfly/rpc/health.h"
#include "dragonfly/rpc/tls.h"
#include "dragonfly/scheduler/config.h"
#include "dragonfly/scheduler/metrics.h"
#include "dragonfly/scheduler/persistent_cache.h"
#include "dragonfly/scheduler/state.h"
#include "dragonfly/security/piece_token.h"
#include "dragonfly/tracing/tracer.h"

namespace prometheus {
class Registry;
}

namespace df::scheduler {

namespace mgr = ::dragonfly::api::manager;
using manager::ManagerKeepAlive;
using manager::ManagerKeepAliveOptions;

grpc::Status ToGrpcStatus(const Status& status);

// Unary reactors that finish immediately. Thread-safe (the state and the signer are).
// AnnounceHost answers carry the piece-token key; RegisterPeer answers the task's grant.
// With TLS (`secure`), a caller acts only as itself: its certificate (a daemon's or a seed
// peer's) names the host name it announces, only a seed peer announces a seed host, and
// leaving, registering and reporting name one of its own hosts and peers.
class SchedulerService final : public api::Scheduler::CallbackService {
 public:
  SchedulerService(SchedulerState* state, const security::TokenSigner* signer,
                   std::chrono::milliseconds token_ttl, bool secure, size_t max_tasks = 100000)
      : state_(state),
        signer_(signer),
        grants_(signer, std::chrono::duration_cast<std::chrono::seconds>(token_ttl), max_tasks),
        secure_(secure) {}

  // Spans of RegisterPeer go there (null: none).
  void set_tracer(tracing::Tracer* tracer) { tracer_ = tracer; }
  // The persistent cache tasks (null: their RPCs are Unimplemented).
  void set_persistent_cache(PersistentCacheRegistry* cache) { cache_ = cache; }

  // Keep the base's synchronous overloads visible (-Woverloaded-virtual).
  using api::Scheduler::CallbackService::AnnounceHost;
  using api::Scheduler::CallbackService::AnnouncePersistentCacheTask;
  using api::Scheduler::CallbackService::AnnounceTask;
  using api::Scheduler::CallbackService::DeletePersistentCacheTask;
  using api::Scheduler::CallbackService::InspectTask;
  using api::Scheduler::CallbackService::LeaveHost;
  using api::Scheduler::CallbackService::LeavePeer;
  using api::Scheduler::CallbackService::ListPersistentCacheTasks;
  using api::Scheduler::CallbackService::ListTasks;
  using api::Scheduler::CallbackService::RegisterPeer;
  using api::Scheduler::CallbackService::ReportPeer;
  using api::Scheduler::CallbackService::StatPersistentCacheTask;
  using api::Scheduler::CallbackService::StatTask;

  grpc::ServerUnaryReactor* AnnounceHost(grpc::CallbackServerContext* ctx,
                                         const api::AnnounceHostRequest* req,
                                         api::AnnounceHostResponse* resp) override;
  grpc::ServerUnaryReactor* LeaveHost(grpc::CallbackServerContext* ctx,
                                      const api::LeaveHostRequest* req,
                                      api::LeaveHostResponse* resp) override;
  grpc::ServerUnaryReactor* RegisterPeer(grpc::CallbackServerContext* ctx,
                                         const api::RegisterPeerRequest* req,
                                         api::RegisterPeerResponse* resp) override;
  grpc::ServerUnaryReactor* ReportPeer(grpc::CallbackServerContext* ctx,
                                       const api::ReportPeerRequest* req,
                                       api::ReportPeerResponse* resp) override;
  grpc::ServerUnaryReactor* AnnounceTask(grpc::CallbackServerContext* ctx,
                                         const api::AnnounceTaskRequest* req,
                                         api::AnnounceTaskResponse* resp) override;
  grpc::ServerUnaryReactor* LeavePeer(grpc::CallbackServerContext* ctx,
                                      const api::LeavePeerRequest* req,
                                      api::LeavePeerResponse* resp) override;
  grpc::ServerUnaryReactor* StatTask(grpc::CallbackServerContext* ctx,
                                     const api::StatTaskRequest* req,
                                     api::StatTaskResponse* resp) override;
  // The live swarm view: the manager's role only (with TLS).
  grpc::ServerUnaryReactor* InspectTask(grpc::CallbackServerContext* ctx,
                                        const api::InspectTaskRequest* req,
                                        api::InspectTaskResponse* resp) override;
  grpc::ServerUnaryReactor* ListTasks(grpc::CallbackServerContext* ctx,
                                      const api::ListTasksRequest* req,
                                      api::ListTasksResponse* resp) override;
  // Persistent cache tasks (service_cache.cc): a holder announces itself; daemons and the
  // manager stat and delete; the manager lists.
  grpc::ServerUnaryReactor* AnnouncePersistentCacheTask(
      grpc::CallbackServerContext* ctx, const api::AnnouncePersistentCacheTaskRequest* req,
      api::AnnouncePersistentCacheTaskResponse* resp) override;
  grpc::ServerUnaryReactor* StatPersistentCacheTask(
      grpc::CallbackServerContext* ctx, const api::StatPersistentCacheTaskRequest* req,
      api::StatPersistentCacheTaskResponse* resp) override;
  grpc::ServerUnaryReactor* DeletePersistentCacheTask(
      grpc::CallbackServerContext* ctx, const api::DeletePersistentCacheTaskRequest* req,
      api::DeletePersistentCacheTaskResponse* resp) override;
  grpc::ServerUnaryReactor* ListPersistentCacheTasks(
      grpc::CallbackServerContext* ctx, const api::ListPersistentCacheTasksRequest* req,
      api::ListPersistentCacheTasksResponse* resp) override;

 private:
  Status DoRegisterPeer(grpc::CallbackServerContext* ctx, const api::RegisterPeerRequest* req,
                        api::RegisterPeerResponse* resp, uint64_t* candidates);
  // The caller's identity (empty on plaintext); PermissionDenied for another role.
  StatusOr<security::Identity> Caller(const grpc::CallbackServerContext* ctx) const;
  // Ok when `caller` may act for `host_id` (an unknown host: the state answers).
  Status ActsFor(const security::Identity& caller, const std::string& host_id) const;
  Status ActsForPeer(const security::Identity& caller, const std::string& peer_id) const;

  SchedulerState* state_;
  const security::TokenSigner* signer_;
  security::GrantCache grants_;  // the piece tokens RegisterPeer answers carry
  const bool secure_;
  tracing::Tracer* tracer_ = nullptr;
  PersistentCacheRegistry* cache_ = nullptr;
};

// The cluster config carried by a KeepAliveResponse, as SchedulerState takes it.
ClusterConfig ClusterConfigFromProto(const mgr::SchedulerClusterConfig& config);

// The address this scheduler tells the manager: host.ip if set, else the server.listen host
// unless it is a wildcard, else this host's first non-loopback IPv4 address, else 127.0.0.1.
std::string AdvertisedIp(const SchedulerConfig& config);

// Owns metrics, state, service, gRPC server, the GC thread and, with manager.addr set, the
// KeepAlive stream to the manager, whose cluster configs are applied to the state as they come.
class SchedulerServer {
 public:
  // Listens on config.listen (port 0 = ephemeral). `trigger` null = the gRPC seed trigger.
  static StatusOr<std::unique_ptr<SchedulerServer>> Start(
      const SchedulerConfig& config, std::shared_ptr<prometheus::Registry> registry,
      std::unique_ptr<SeedTrigger> trigger = nullptr);
  ~SchedulerServer();

  uint16_t port() const { return port_; }
  SchedulerState& state() { return *state_; }
  // Null without a manager.
  ManagerKeepAlive* manager_keepalive() { return keepalive_.get(); }
  // Stops the manager stream, serving and the GC thread. Idempotent.
  void Stop();

 private:
  SchedulerServer() = default;
  void GcLoop();
  void CacheLoop();  // PersistentCacheRegistry::Tick every second

  // With security.join: keeps the certificate from the manager's cluster CA current.
  std::unique_ptr<security::CertificateKeeper> cert_keeper_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<SchedulerMetrics> metrics_;
  std::unique_ptr<SchedulerState> state_;
  std::unique_ptr<security::TokenSigner> signer_;
  std::unique_ptr<ReplicaTrigger> replica_trigger_;
  std::unique_ptr<PersistentCacheRegistry> cache_;
  std::unique_ptr<SchedulerService> service_;
  std::unique_ptr<rpc::HealthService> health_;
  std::unique_ptr<tracing::Tracer> tracer_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<ManagerKeepAlive> keepalive_;
  uint16_t port_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread gc_thread_;
  std::thread cache_thread_;
};

}  // namespace df::scheduler
