#include "dragonfly/scheduler/service.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "dragonfly/common/task_id.h"
#include "dragonfly/common/version.h"
#include "dragonfly/rpc/server_limits.h"
#include "dragonfly/rpc/status.h"
#include "dragonfly/tracing/grpc.h"
#include "scheduler/reactor.h"

namespace df::scheduler {
namespace {

template <typename T>
Status Assign(StatusOr<T> result, T* out) {
  if (!result.ok()) {
    return result.status();
  }
  *out = std::move(result).value();
  return Status::Ok();
}

}  // namespace

grpc::Status ToGrpcStatus(const Status& status) { return rpc::ToGrpc(status); }

ClusterConfig ClusterConfigFromProto(const mgr::SchedulerClusterConfig& config) {
  ClusterConfig c;
  c.version = config.version();
  c.candidate_parent_limit = config.candidate_parent_limit();
  c.back_to_source_count = config.back_to_source_count();
  c.upload_slots = config.upload_slots();
  c.filter_parent_limit = config.filter_parent_limit();
  c.blocked_hosts.insert(config.blocked_hosts().begin(), config.blocked_hosts().end());
  auto rules = [](const mgr::BlockRules& r) {
    return BlockRules{{r.applications().begin(), r.applications().end()},
                      {r.urls().begin(), r.urls().end()},
                      {r.tags().begin(), r.tags().end()}};
  };
  auto blocklist = TaskBlocklist::Compile(rules(config.blocklist().client()),
                                          rules(config.blocklist().seed_client()));
  if (blocklist.ok()) {
    c.blocklist = std::make_shared<const TaskBlocklist>(std::move(blocklist).value());
  } else {  // the manager checks the rules with the same library: not expected
    spdlog::error("cluster config version={} has a bad blocklist, kept none: {}", config.version(),
                  blocklist.status().ToString());
  }
  return c;
}

std::string AdvertisedIp(const SchedulerConfig& config) {
  if (!config.host.ip.empty()) {
    return config.host.ip;
  }
  StatusOr<HostPort> listen = SplitHostPort(config.listen);
  std::vector<std::string> ips = net::AdvertisedAddresses(listen.ok() ? listen->host : "");
  return ips.empty() ? "127.0.0.1" : ips.front();
}

StatusOr<security::Identity> SchedulerService::Caller(
    const grpc::CallbackServerContext* ctx) const {
  return rpc::RequireRole(*ctx, secure_, {security::Role::kDaemon, security::Role::kSeedPeer});
}

Status SchedulerService::ActsFor(const security::Identity& caller,
                                 const std::string& host_id) const {
  if (!secure_) {
    return Status::Ok();
  }
  std::optional<std::string> hostname = state_->HostnameOf(HostId(host_id));
  if (hostname && *hostname != caller.name) {
    return PermissionDenied(caller.SpiffeId() + " cannot act for host " + host_id);
  }
  return Status::Ok();
}

Status SchedulerService::ActsForPeer(const security::Identity& caller,
                                     const std::string& peer_id) const {
  if (!secure_) {
    return Status::Ok();
  }
  std::optional<PeerInfo> peer = state_->GetPeer(PeerId(peer_id));
  return peer ? ActsFor(caller, peer->host_id.str()) : Status::Ok();
}

grpc::ServerUnaryReactor* SchedulerService::AnnounceHost(grpc::CallbackServerContext* ctx,
                                                         const api::AnnounceHostRequest* req,
                                                         api::AnnounceHostResponse* resp) {
  return Finish(ctx, [&] {
    DF_ASSIGN_OR_RETURN(security::Identity caller, Caller(ctx));
    if (secure_) {
      const api::Host& h = req->host();
      const bool seed = h.type() == api::HOST_TYPE_SEED;
      if (h.hostname() != caller.name) {
        return PermissionDenied(caller.SpiffeId() + " cannot announce host name " + h.hostname());
      }
      if (h.id() != MakeHostId(h.ip(), h.hostname(), seed)) {
        return PermissionDenied("host ID " + h.id() + " is not made of the host's IP and name");
      }
      if (seed && caller.role != security::Role::kSeedPeer) {
        return PermissionDenied(caller.SpiffeId() + " is not a seed peer: it cannot announce one");
      }
    }
    DF_RETURN_IF_ERROR(Assign(state_->AnnounceHost(*req, net::PeerFamily(ctx->peer())), resp));
    resp->set_piece_token_key(signer_->public_key());
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* SchedulerService::LeaveHost(grpc::CallbackServerContext* ctx,
                                                      const api::LeaveHostRequest* req,
                                                      api::LeaveHostResponse* /*resp*/) {
  return Finish(ctx, [&] {
    DF_ASSIGN_OR_RETURN(security::Identity caller, Caller(ctx));
    DF_RETURN_IF_ERROR(ActsFor(caller, req->host_id()));
    return state_->LeaveHost(HostId(req->host_id()));
  });
}

grpc::ServerUnaryReactor* SchedulerService::RegisterPeer(grpc::CallbackServerContext* ctx,
                                                         const api::RegisterPeerRequest* req,
                                                         api::RegisterPeerResponse* resp) {
  // The decision as a span of the peer's trace; a seed trigger it starts carries it on.
  tracing::Span span;
  if (tracer_ != nullptr) {
    span = tracer_->StartSpan("scheduler.RegisterPeer", tracing::SpanKind::kServer,
                              tracing::Extract(*ctx));
    span.SetAttribute("dragonfly.task_id", req->task().task_id());
    span.SetAttribute("dragonfly.peer_id", req->peer_id());
    span.SetAttribute("dragonfly.host_id", req->host_id());
  }
  tracing::ScopedContext scope(span.context());
  return Finish(ctx, [&]() -> Status {
    uint64_t candidates = 0;
    Status s = DoRegisterPeer(ctx, req, resp, &candidates);
    if (!s.ok()) {
      span.SetError(s.ToString());
    } else if (span.recording()) {
      span.SetAttribute("dragonfly.candidates", static_cast<int64_t>(candidates));
      span.SetAttribute("dragonfly.action", api::Action_Name(resp->action()));
      span.SetAttribute("dragonfly.neighbours", static_cast<int64_t>(resp->neighbours_size()));
      std::string chosen;
      for (const auto& n : resp->neighbours()) {
        chosen += (chosen.empty() ? "" : ",") + n.host_id();
      }
      span.SetAttribute("dragonfly.chosen_hosts", chosen);
    }
    return s;
  });
}

Status SchedulerService::DoRegisterPeer(grpc::CallbackServerContext* ctx,
                                        const api::RegisterPeerRequest* req,
                                        api::RegisterPeerResponse* resp, uint64_t* candidates) {
  DF_ASSIGN_OR_RETURN(security::Identity caller, Caller(ctx));
  DF_RETURN_IF_ERROR(ActsFor(caller, req->host_id()));
  DF_RETURN_IF_ERROR(ActsForPeer(caller, req->peer_id()));
  DF_RETURN_IF_ERROR(Assign(state_->RegisterPeer(*req, candidates), resp));
  // Registered: the spec matched the task ID (rpc::VerifyTaskSpec) and the host is known.
  DF_ASSIGN_OR_RETURN(std::string token,
                      grants_.Grant(req->task().task_id(), security::NowUnixSeconds()));
  resp->set_piece_token(std::move(token));
  return Status::Ok();
}

grpc::ServerUnaryReactor* SchedulerService::ReportPeer(grpc::CallbackServerContext* ctx,
                                                       const api::ReportPeerRequest* req,
                                                       api::ReportPeerResponse* /*resp*/) {
  return Finish(ctx, [&] {
    DF_ASSIGN_OR_RETURN(security::Identity caller, Caller(ctx));
    DF_RETURN_IF_ERROR(ActsForPeer(caller, req->peer_id()));
    return state_->ReportPeer(*req);
  });
}

grpc::ServerUnaryReactor* SchedulerService::AnnounceTask(grpc::CallbackServerContext* ctx,
                                                         const api::AnnounceTaskRequest* req,
                                                         api::AnnounceTaskResponse* /*resp*/) {
  return Finish(ctx, [&] {
    DF_ASSIGN_OR_RETURN(security::Identity caller, Caller(ctx));
    DF_RETURN_IF_ERROR(ActsFor(caller, req->host_id()));
    DF_RETURN_IF_ERROR(ActsForPeer(caller, req->peer_id()));
    return state_->AnnounceTask(*req);
  });
}

grpc::ServerUnaryReactor* SchedulerService::LeavePeer(grpc::CallbackServerContext* ctx,
                                                      const api::LeavePeerRequest* req,
                                                      api::LeavePeerResponse* /*resp*/) {
  return Finish(ctx, [&] {
    DF_ASSIGN_OR_RETURN(security::Identity caller, Caller(ctx));
    DF_RETURN_IF_ERROR(ActsForPeer(caller, req->peer_id()));
    return state_->LeavePeer(PeerId(req->peer_id()));
  });
}

grpc::ServerUnaryReactor* SchedulerService::StatTask(grpc::CallbackServerContext* ctx,
                                                     const api::StatTaskRequest* req,
                                                     api::StatTaskResponse* resp) {
  return Finish(ctx, [&] {
    DF_RETURN_IF_ERROR(Caller(ctx).status());
    std::optional<api::StatTaskResponse> stat =
        state_->StatTask(TaskId(req->task_id()), req->with_peers());
    if (!stat) {
      return Status::Ok();  // known = false
    }
    *resp = std::move(*stat);
    // Only a blob task's URL is told, without its query (it may carry credentials).
    const std::string url = resp->url();
    resp->set_url(BlobDigest(url).empty() ? "" : url.substr(0, url.find('?')));
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* SchedulerService::InspectTask(grpc::CallbackServerContext* ctx,
                                                        const api::InspectTaskRequest* req,
                                                        api::InspectTaskResponse* resp) {
  return Finish(ctx, [&] {
    DF_RETURN_IF_ERROR(rpc::RequireRole(*ctx, secure_, {security::Role::kManager}).status());
    if (std::optional<api::InspectTaskResponse> r = state_->InspectTask(TaskId(req->task_id()))) {
      *resp = std::move(*r);
    }
    return Status::Ok();  // known = false
  });
}

grpc::ServerUnaryReactor* SchedulerService::ListTasks(grpc::CallbackServerContext* ctx,
                                                      const api::ListTasksRequest* req,
                                                      api::ListTasksResponse* resp) {
  return Finish(ctx, [&] {
    DF_RETURN_IF_ERROR(rpc::RequireRole(*ctx, secure_, {security::Role::kManager}).status());
    *resp = state_->ListTasks(req->limit());
    return Status::Ok();
  });
}

StatusOr<std::unique_ptr<SchedulerServer>> SchedulerServer::Start(
    const SchedulerConfig& config, std::shared_ptr<prometheus::Registry> registry,
    std::unique_ptr<SeedTrigger> trigger) {
  DF_RETURN_IF_ERROR(net::CheckListenAddress(config.listen).Annotate("server.listen"));
  DF_RETURN_IF_ERROR(security::CheckExposure(config.tls, {{"server.listen", config.listen}}));
  std::unique_ptr<SchedulerServer> s(new SchedulerServer);
  s->registry_ = std::move(registry);
  if (s->registry_) {
    s->metrics_ = std::make_unique<SchedulerMetrics>(*s->registry_);
  }
  DF_ASSIGN_OR_RETURN(s->cert_keeper_,
                      manager::KeepClusterCertificate(
                          config.tls, {security::Role::kScheduler, config.host.hostname}));
  DF_ASSIGN_OR_RETURN(std::shared_ptr<const rpc::Credentials> creds,
                      rpc::Credentials::Make(config.tls, "scheduler"));
  if (!trigger) {
    trigger = MakeGrpcSeedTrigger(config.scheduler.seed_trigger_timeout, creds);
  }
  s->state_ = std::make_unique<SchedulerState>(config.scheduler, std::move(trigger), nullptr,
                                               s->metrics_.get());
  DF_ASSIGN_OR_RETURN(security::TokenSigner signer, security::TokenSigner::Generate());
  s->signer_ = std::make_unique<security::TokenSigner>(std::move(signer));
  s->service_ = std::make_unique<SchedulerService>(s->state_.get(), s->signer_.get(),
                                                   config.scheduler.piece_token_ttl,
                                                   creds->secure(), config.scheduler.max_tasks);
  DF_ASSIGN_OR_RETURN(s->tracer_, tracing::Tracer::Create(config.tracing, s->registry_.get()));
  s->service_->set_tracer(s->tracer_.get());
  s->replica_trigger_ = MakeGrpcReplicaTrigger(config.scheduler.seed_trigger_timeout, creds);
  PersistentCacheOptions cache_opts;
  cache_opts.holder_ttl = config.scheduler.persistent_cache_holder_ttl;
  s->cache_ = std::make_unique<PersistentCacheRegistry>(s->state_.get(), s->replica_trigger_.get(),
                                                        cache_opts);
  s->service_->set_persistent_cache(s->cache_.get());
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen, creds->Server(), &port);
  builder.RegisterService(s->service_.get());
  // The scheduler's state is in memory: ready while it runs.
  s->health_ = std::make_unique<rpc::HealthService>(
      nullptr, std::set<std::string>{"dragonfly.api.scheduler.Scheduler"});
  builder.RegisterService(s->health_.get());
  rpc::ApplyServerLimits(builder);
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || port == 0) {
    return Unavailable("scheduler cannot listen on " + config.listen +
                       ": address in use or not available on this host");
  }
  s->port_ = static_cast<uint16_t>(port);
  s->gc_thread_ = std::thread([p = s.get()] { p->GcLoop(); });
  s->cache_thread_ = std::thread([p = s.get()] { p->CacheLoop(); });
  if (!config.manager.addr.empty()) {
    mgr::KeepAliveRequest req;
    req.set_source_type(mgr::SOURCE_TYPE_SCHEDULER);
    req.set_hostname(config.host.hostname);
    req.set_ip(AdvertisedIp(config));
    req.set_port(s->port_);
    req.set_cluster_id(config.manager.cluster_id);
    req.set_idc(config.host.idc);
    req.set_location(config.host.location);
    req.set_version(kVersion);
    req.set_git_commit(kGitCommit);
    ManagerKeepAliveOptions opts;
    opts.addrs = {config.manager.addr};
    opts.interval = config.manager.keep_alive_interval;
    opts.token = config.manager.token;
    opts.credentials = creds;
    spdlog::info("keepalive to manager {} as {} {}:{} cluster_id={}", config.manager.addr,
                 req.hostname(), req.ip(), req.port(), req.cluster_id());
    s->keepalive_ =
        ManagerKeepAlive::Start(std::move(opts), std::move(req),
                                [state = s->state_.get()](const mgr::KeepAliveResponse& r) {
                                  if (r.has_config()) {
                                    state->ApplyClusterConfig(ClusterConfigFromProto(r.config()));
                                  }
                                });
  }
  return s;
}

SchedulerServer::~SchedulerServer() { Stop(); }

void SchedulerServer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
  }
  cv_.notify_all();
  if (keepalive_) {
    keepalive_->Stop();
  }
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
  }
  if (gc_thread_.joinable()) {
    gc_thread_.join();
  }
  if (cache_thread_.joinable()) {
    cache_thread_.join();
  }
}

void SchedulerServer::CacheLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) {
    lock.unlock();
    cache_->Tick();
    lock.lock();
  }
}

void SchedulerServer::GcLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  const auto interval = state_->options().gc_interval;
  while (!cv_.wait_for(lock, interval, [this] { return stopping_; })) {
    lock.unlock();
    GcResult r = state_->RunGc(SteadyClock()->Now());
    if (r.hosts_removed + r.peers_removed + r.tasks_removed > 0) {
      spdlog::info("gc hosts_removed={} peers_removed={} tasks_removed={}", r.hosts_removed,
                   r.peers_removed, r.tasks_removed);
    }
    lock.lock();
  }
}

}  // namespace df::scheduler
