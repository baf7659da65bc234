#include "dragonfly/daemon/daemon.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "daemon/downloads.h"
#include "daemon/health.h"
#include "daemon/local_service.h"
#include "daemon/metrics.h"
#include "daemon/piece_spans.h"
#include "daemon/proxy/p2p.h"
#include "daemon/proxy/proxy_server.h"
#include "daemon/scheduler_client.h"
#include "daemon/scheduler_discovery.h"
#include "daemon/stored_tasks.h"
#include "dragonfly/backend/origin.h"
#include "dragonfly/common/http_status_server.h"
#include "dragonfly/common/task_id.h"
#include "dragonfly/common/version.h"
#include "dragonfly/manager/enroll.h"
#include "dragonfly/manager/keepalive.h"
#include "dragonfly/piece/swarm.h"
#include "dragonfly/rpc/health.h"
#include "dragonfly/rpc/server_limits.h"
#include "dragonfly/security/piece_token.h"

namespace df::daemon {
namespace {

// Refuses to start over the socket of a live daemon; removes a stale one.
Status PrepareSocket(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) {
    return PermissionDenied("cannot create directory for socket " + path + ": " + ec.message());
  }
  if (!std::filesystem::exists(path, ec)) {
    return Status::Ok();
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  if (live) {
    return FailedPrecondition("another dfdaemon is already serving " + path);
  }
  std::filesystem::remove(path, ec);
  return Status::Ok();
}

class DaemonImpl : public Daemon {
 public:
  explicit DaemonImpl(DaemonConfig config) : config_(std::move(config)) {}
  ~DaemonImpl() override { Teardown(); }
  DaemonImpl(const DaemonImpl&) = delete;
  DaemonImpl& operator=(const DaemonImpl&) = delete;

  Status Start() {
    upload_slots_ = config_.upload.slots;
    registry_ = std::make_shared<prometheus::Registry>();
    RegisterVersionMetric(*registry_, "dfdaemon");
    metrics_ = std::make_unique<DaemonMetrics>(registry_);
    tracing::TracingConfig tracing = config_.tracing;
    if (tracing.service_name.empty()) {
      tracing.service_name = config_.seed_peer.enable ? "seed-peer" : "dfdaemon";
    }
    DF_ASSIGN_OR_RETURN(tracer_, tracing::Tracer::Create(tracing, registry_.get()));
    DF_ASSIGN_OR_RETURN(store_, storage::OpenTaskStore(config_.storage.dir));
    backend::HttpOptions http = proxy::UpstreamTls(config_);
    http.max_retries = static_cast<int>(config_.back_source.max_retries);
    backend::OriginOptions origin{config_.back_source.s3, config_.back_source.azure,
                                  config_.back_source.hugging_face};
    DF_RETURN_IF_ERROR(backend::PrepareOriginOptions(&origin));
    backend_ = backend::NewOriginBackend(backend::NewHttpBackend(http), std::move(origin));
    DF_ASSIGN_OR_RETURN(cert_keeper_,
                        manager::KeepClusterCertificate(
                            config_.tls, {config_.seed_peer.enable ? security::Role::kSeedPeer
                                                                   : security::Role::kDaemon,
                                          config_.host.hostname}));
    DF_ASSIGN_OR_RETURN(credentials_, rpc::Credentials::Make(config_.tls, "dfdaemon"));
    SchedulerClient::Hooks hooks;
    hooks.host_request = [this] { return HostAnnouncement(); };
    hooks.on_all_unreachable = [this] {
      if (SchedulerDiscovery* d = discovery_ptr_.load(); d != nullptr) {
        d->RequestRefresh();
      }
    };
    hooks.on_owners_changed = [this] { OwnersChanged(); };
    hooks.on_token_key = [this](const std::string& key) {
      if (Status s = token_keys_.Trust(key); !s.ok()) {
        spdlog::warn("scheduler sent a bad piece-token key error=\"{}\"", s.ToString());
      }
    };
    scheduler_ = std::make_unique<SchedulerClient>(
        config_.scheduler.addrs, config_.scheduler.rpc_timeout, std::move(hooks), credentials_);
    const bool seed = config_.seed_peer.enable;
    ctx_.config = &config_;
    ctx_.store = store_.get();
    ctx_.scheduler = scheduler_.get();
    ctx_.backend = backend_.get();
    ctx_.metrics = metrics_.get();
    ctx_.host_id = MakeHostId(config_.host.ip, config_.host.hostname, seed);
    ctx_.announce_host = [this] { (void)Announce(); };
    StoredTaskAnnouncer::Options sto;
    sto.host_id = ctx_.host_id;
    sto.ip = config_.host.ip;
    sto.hostname = config_.host.hostname;
    sto.seed = seed;
    sto.owner = [this](const TaskId& task_id) {
      uint64_t generation = 0;
      std::string addr = scheduler_->OwnerOf(task_id, &generation);
      return addr + "#" + std::to_string(generation);
    };
    sto.downloading = [this](const TaskId& task_id) {
      return downloads_ != nullptr && downloads_->Downloading(task_id.str());
    };
    stored_ = std::make_unique<StoredTaskAnnouncer>(*store_, *scheduler_, std::move(sto));
    ctx_.on_stored_known = [this](const TaskId& task_id) { stored_->Known(task_id); };
    DF_ASSIGN_OR_RETURN(auto piece_addr, SplitHostPort(config_.upload.listen));
    piece::SwarmOptions so;
    so.address = piece_addr.host;
    so.port = piece_addr.port;
    so.host_peer_id = ctx_.host_id;
    so.seed_host = seed;
    so.max_connections = config_.upload.max_connections;
    so.upload_slots = config_.upload.slots;
    so.rate_limit_bytes_per_sec = config_.upload.rate_limit;
    so.pipeline = config_.download.concurrent_piece_count;
    so.piece_timeout = config_.download.piece_timeout;
    so.lookup = [this](const std::string& id) { return store_->AcquireExisting(id); };
    if (config_.tls.secure()) {
      so.tls = config_.tls;  // mutual TLS on the piece port too (docs/security.md)
      so.on_tls_connection = [this](bool kernel) {
        (kernel ? metrics_->piece_tls_kernel : metrics_->piece_tls_user_space).Increment();
      };
    }
    // A neighbour must show the scheduler's grant for the task (docs/security.md).
    so.authorize = [this](const std::string& token, const std::string& task_id,
                          const std::string& peer_id) {
      Status s = token_keys_.Verify(token, task_id, peer_id, security::NowUnixSeconds());
      if (!s.ok() && s.message().find(security::kUnknownKey) != std::string::npos) {
        AnnounceSoon();  // a scheduler restarted with a new key: learn it
      }
      return s;
    };
    if (tracer_->enabled()) {
      so.on_served = [this](const piece::ServedNeighbour& s) { RecordServedSpan(*tracer_, s); };
    }
    so.on_piece_sent = [this](uint64_t bytes) {
      metrics_->upload_bytes.Increment(static_cast<double>(bytes));
      metrics_->upload_pieces.Increment();
    };
    if (!config_.testing.corrupt_upload_pieces.empty()) {
      std::set<uint32_t> bad(config_.testing.corrupt_upload_pieces.begin(),
                             config_.testing.corrupt_upload_pieces.end());
      so.corrupt_for_test = [bad](const std::string&, uint32_t n) { return bad.count(n) > 0; };
      spdlog::warn("testing: this daemon serves corrupted pieces {}", bad.size());
    }
    DF_ASSIGN_OR_RETURN(swarm_, piece::StartSwarm(std::move(so)));
    ctx_.swarm = swarm_.get();
    ctx_.tracer = tracer_.get();
    downloads_ = std::make_unique<Downloads>(&ctx_);
    cache_ = std::make_unique<CacheRpcs>(&ctx_, downloads_.get(), config_.host.ip,
                                         config_.host.hostname, config_.seed_peer.enable);

    DF_RETURN_IF_ERROR(PrepareSocket(config_.server.socket_path));
    // The upload service (and its port) before the local one: a download started from the
    // local API may announce this host, which needs the RPC port.
    upload_service_ = std::make_unique<UploadService>(&ctx_, downloads_.get(), cache_.get(),
                                                      credentials_->secure());
    DF_RETURN_IF_ERROR(
        net::CheckListenAddress(config_.upload.rpc_listen).Annotate("upload.rpcListen"));
    DF_RETURN_IF_ERROR(
        security::CheckExposure(config_.tls, {{"upload.listen", config_.upload.listen},
                                              {"upload.rpcListen", config_.upload.rpc_listen}}));
    grpc::ServerBuilder upload;
    int rpc_port = 0;
    upload.AddListeningPort(config_.upload.rpc_listen, credentials_->Server(), &rpc_port);
    upload.RegisterService(upload_service_.get());
    // Ready while it can store what it downloads (one service object per server).
    // Ready while it can store what it downloads and, with schedulers, one of them takes its
    // announcements (given three announce intervals, at least 5 s, from start).
    auto ready = [this, dir = config_.storage.dir] {
      DF_RETURN_IF_ERROR(StorageWritable(dir));
      const auto grace = std::max<std::chrono::milliseconds>(
          3 * config_.scheduler.announce_interval, std::chrono::seconds(5));
      return SchedulerReachable(scheduler_->enabled(), last_announce_ok_.load(),
                                std::chrono::steady_clock::now(), grace);
    };
    upload_health_ = std::make_unique<rpc::HealthService>(
        ready, std::set<std::string>{"dragonfly.api.dfdaemon.DfdaemonUpload"});
    upload.RegisterService(upload_health_.get());
    rpc::ApplyServerLimits(upload, {.max_threads = 64});
    upload_server_ = upload.BuildAndStart();
    if (!upload_server_ || rpc_port == 0) {
      return Unavailable("cannot listen on upload.rpcListen " + config_.upload.rpc_listen +
                         ": address in use or not available on this host");
    }
    rpc_port_ = static_cast<uint16_t>(rpc_port);

    local_service_ = std::make_unique<LocalService>(&ctx_, downloads_.get(), cache_.get());
    grpc::ServerBuilder local;
    local.AddListeningPort("unix:" + config_.server.socket_path, grpc::InsecureServerCredentials());
    local.RegisterService(local_service_.get());
    local_health_ = std::make_unique<rpc::HealthService>(
        ready, std::set<std::string>{"dragonfly.api.dfdaemon.Dfdaemon"});
    local.RegisterService(local_health_.get());
    local_server_ = local.BuildAndStart();
    if (!local_server_) {
      return Unavailable("cannot serve the local API on " + config_.server.socket_path);
    }

    if (!config_.proxy.listen.empty()) {
      DF_ASSIGN_OR_RETURN(proxy_server_, proxy::StartProxyServer(&ctx_, downloads_.get()));
    }
    if (!config_.metrics.listen.empty()) {
      DF_ASSIGN_OR_RETURN(auto maddr, SplitHostPort(config_.metrics.listen));
      DF_ASSIGN_OR_RETURN(
          status_server_, StartHttpStatusServer(maddr.host, maddr.port, registry_, [this] {
            metrics_->ObserveStore(*store_, GcPolicyOf(config_), swarm_->connections());
          }));
    }
    StartManager();
    if (scheduler_->enabled()) {
      if (Status s = Announce(); !s.ok()) {
        spdlog::warn("first announce to the scheduler failed error=\"{}\"", s.ToString());
      }
    }
    background_ = std::thread([this] { Background(); });
    std::cout << "dfdaemon started host_id=" << ctx_.host_id << " piece_port=" << swarm_->port()
              << " rpc_port=" << rpc_port_.load()
              << " metrics_port=" << (status_server_ ? status_server_->port() : 0)
              << " proxy_port=" << (proxy_server_ ? proxy_server_->port() : 0)
              << " socket=" << config_.server.socket_path << std::endl;
    spdlog::info("dfdaemon started host_id={} piece_port={} rpc_port={} seed={}", ctx_.host_id,
                 swarm_->port(), rpc_port_.load(), seed);
    return Status::Ok();
  }

  void Wait() override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stopping_; });
  }

  void Shutdown() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
  }

 private:
  void Teardown() {
    Shutdown();
    if (background_.joinable()) {
      background_.join();
    }
    discovery_ptr_ = nullptr;
    if (discovery_) {
      discovery_->Stop();
    }
    if (keepalive_) {
      keepalive_->Stop();
    }
    if (scheduler_ && scheduler_->enabled()) {
      scheduler_->LeaveHost(ctx_.host_id);
    }
    auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(2);
    if (local_server_) {
      local_server_->Shutdown(deadline);
    }
    if (upload_server_) {
      upload_server_->Shutdown(deadline);
    }
    if (proxy_server_) {
      proxy_server_->Stop();
    }
    if (downloads_) {
      downloads_->Shutdown(std::chrono::seconds(5));
    }
    if (swarm_) {
      swarm_->Stop();
    }
    if (status_server_) {
      status_server_->Stop();
    }
    std::error_code ec;
    std::filesystem::remove(config_.server.socket_path, ec);
  }

  // With manager.addrs: the scheduler list from the manager (refreshed in the background) and,
  // for a seed peer, the KeepAlive stream that registers it with the manager.
  void StartManager() {
    const DaemonConfig::Manager& m = config_.manager;
    if (m.addrs.empty()) {
      return;
    }
    SchedulerDiscovery::Options o;
    o.manager_addrs = m.addrs;
    o.fallback = config_.scheduler.addrs;
    o.refresh_interval = m.refresh_interval;
    o.rpc_timeout = config_.scheduler.rpc_timeout;
    o.token = m.token;
    o.credentials = credentials_;
    o.on_config = [this](const manager::mgr::SchedulerClusterConfig& c) { ApplyClusterConfig(c); };
    o.request.set_hostname(config_.host.hostname);
    o.request.set_ip(config_.host.ip);
    o.request.set_idc(config_.host.idc);
    o.request.set_location(config_.host.location);
    o.request.set_version(kVersion);
    o.request.set_git_commit(kGitCommit);
    if (!config_.seed_peer.enable) {
      // Recorded by the manager as a peer (preheat scope all_peers); seed peers register
      // through their KeepAlive stream instead.
      o.request.set_rpc_port(rpc_port_.load());
      o.request.set_piece_port(swarm_->port());
    }
    discovery_ = SchedulerDiscovery::Start(std::move(o), scheduler_.get());
    discovery_ptr_ = discovery_.get();
    if (!config_.seed_peer.enable) {
      return;
    }
    manager::mgr::KeepAliveRequest req;
    req.set_source_type(manager::mgr::SOURCE_TYPE_SEED_PEER);
    req.set_hostname(config_.host.hostname);
    req.set_ip(config_.host.ip);
    req.set_port(rpc_port_);
    req.set_piece_port(swarm_->port());
    req.set_idc(config_.host.idc);
    req.set_location(config_.host.location);
    req.set_cluster_id(config_.seed_peer.cluster_id);
    req.set_version(kVersion);
    req.set_git_commit(kGitCommit);
    manager::ManagerKeepAliveOptions ko;
    ko.addrs = m.addrs;
    ko.interval = m.keep_alive_interval;
    ko.token = m.token;
    ko.credentials = credentials_;
    keepalive_ = manager::ManagerKeepAlive::Start(
        std::move(ko), std::move(req),
        [this](const manager::mgr::KeepAliveResponse& r) { ApplyClusterConfig(r.config()); });
  }

  Status Announce() {
    Status s = scheduler_->AnnounceHost(HostAnnouncement());
    if (s.ok()) {
      last_announce_ok_ = std::chrono::steady_clock::now();
    }
    return s;
  }

  // Has the background thread announce now (at most every kForcedAnnounceGap): called from the
  // piece server's thread, which must not wait for the scheduler.
  void AnnounceSoon() {
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    if (now - last_forced_announce_ < kForcedAnnounceGap) {
      return;
    }
    last_forced_announce_ = now;
    announce_now_ = true;
    cv_.notify_all();
  }

  // The cluster's config from the manager: upload_slots (the load limit: pieces this host
  // uploads at once) replaces upload.slots at runtime and is announced to the schedulers.
  void ApplyClusterConfig(const manager::mgr::SchedulerClusterConfig& c) {
    uint64_t seen = config_version_.load();
    if (c.version() <= seen || !config_version_.compare_exchange_strong(seen, c.version())) {
      return;
    }
    uint32_t slots = c.upload_slots() > 0 ? c.upload_slots() : config_.upload.slots;
    if (upload_slots_.exchange(slots) == slots) {
      return;
    }
    spdlog::info("applied cluster config version={} upload_slots={}", c.version(), slots);
    swarm_->SetUploadSlots(slots);
    (void)Announce();
  }

  sched::AnnounceHostRequest HostAnnouncement() {
    sched::AnnounceHostRequest req;
    auto* h = req.mutable_host();
    h->set_id(ctx_.host_id);
    h->set_hostname(config_.host.hostname);
    h->set_ip(config_.host.ip);
    for (const std::string& ip : config_.host.ips) {
      h->add_ips(ip);
    }
    h->set_piece_port(swarm_->port());
    h->set_rpc_port(rpc_port_);
    h->set_type(config_.seed_peer.enable ? sched::HOST_TYPE_SEED : sched::HOST_TYPE_NORMAL);
    h->set_idc(config_.host.idc);
    h->set_location(config_.host.location);
    h->set_upload_slots(upload_slots_.load());
    h->set_upload_rate_limit(config_.upload.rate_limit);
    req.mutable_load()->set_active_uploads(static_cast<uint32_t>(swarm_->active_uploads()));
    req.mutable_load()->set_connections(static_cast<uint32_t>(swarm_->connections()));
    return req;
  }

  // A scheduler went down, came back, joined, left or restarted: the tasks this host holds are
  // announced to their owners within an announce interval, at a random moment so that the hosts
  // of the cluster do not all call the new owner at once.
  void OwnersChanged() {
    const auto spread = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        config_.scheduler.announce_interval);
    std::lock_guard lock(mu_);
    if (sweep_at_) {
      return;  // one is planned
    }
    thread_local std::mt19937_64 rng{std::random_device{}()};
    sweep_at_ = std::chrono::steady_clock::now() +
                std::chrono::steady_clock::duration(std::uniform_int_distribution<int64_t>(
                    0, std::max<int64_t>(spread.count(), 1))(rng));
    cv_.notify_all();
  }

  void SweepStoredTasks() {
    if (!scheduler_->enabled()) {
      return;
    }
    StoredTasksResult r = stored_->Sweep([this] {
      std::lock_guard lock(mu_);
      return stopping_;
    });
    if (r.announced > 0) {
      spdlog::info("stored tasks announced={} skipped={}", r.announced, r.skipped);
    }
  }

  // Announces to the scheduler and runs GC, until shutdown; first, the tasks this host holds.
  void Background() {
    SweepStoredTasks();
    auto next_announce = std::chrono::steady_clock::now() + config_.scheduler.announce_interval;
    auto next_gc = std::chrono::steady_clock::now() + config_.gc.interval;
    const storage::GcPolicy policy = GcPolicyOf(config_);
    std::unique_lock lock(mu_);
    while (!stopping_) {
      auto until = std::min(next_announce, next_gc);
      if (sweep_at_) {
        until = std::min(until, *sweep_at_);
      }
      const auto planned = sweep_at_;
      cv_.wait_until(lock, until,
                     [&] { return stopping_ || announce_now_ || sweep_at_ != planned; });
      if (stopping_) {
        break;
      }
      const bool forced = std::exchange(announce_now_, false);
      auto now = std::chrono::steady_clock::now();
      const bool sweep = sweep_at_ && now >= *sweep_at_;
      if (sweep) {
        sweep_at_.reset();
      }
      lock.unlock();
      if (sweep) {
        SweepStoredTasks();
      }
      if (now >= next_announce || forced) {
        next_announce = now + config_.scheduler.announce_interval;
        if (scheduler_->enabled()) {
          if (Status s = Announce(); !s.ok()) {
            spdlog::warn("announce to the scheduler failed error=\"{}\"", s.ToString());
          }
          bool sweep_planned = false;
          {
            std::lock_guard inner(mu_);
            sweep_planned = sweep_at_.has_value();
          }
          if (!forced && !sweep_planned) {
            SweepStoredTasks();  // what an earlier sweep could not announce
          }
          cache_->AnnounceHoldings();  // the persistent cache tasks' heartbeat
        }
      }
      downloads_->Reap();  // join the sessions that ended
      if (now >= next_gc) {
        next_gc = now + config_.gc.interval;
        storage::GcResult r = store_->RunGc(policy);
        metrics_->CountEvictions(r);
        if (r.evicted > 0) {
          spdlog::info("gc evicted={} freed_bytes={}", r.evicted, r.freed_bytes);
        }
      }
      lock.lock();
    }
  }

  DaemonConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<DaemonMetrics> metrics_;
  std::unique_ptr<tracing::Tracer> tracer_;  // outlives every session and request
  std::unique_ptr<storage::TaskStore> store_;
  std::unique_ptr<backend::HttpBackend> backend_;
  // With security.join: keeps the certificate from the manager's cluster CA current.
  std::unique_ptr<security::CertificateKeeper> cert_keeper_;
  std::shared_ptr<const rpc::Credentials> credentials_;  // TLS between hosts (or plaintext)
  std::unique_ptr<SchedulerClient> scheduler_;
  std::unique_ptr<SchedulerDiscovery> discovery_;
  std::atomic<SchedulerDiscovery*> discovery_ptr_{nullptr};  // for the scheduler client's hook
  std::unique_ptr<manager::ManagerKeepAlive> keepalive_;     // seed peers with a manager
  DaemonContext ctx_;
  std::unique_ptr<piece::Swarm> swarm_;
  std::unique_ptr<StoredTaskAnnouncer> stored_;
  std::unique_ptr<Downloads> downloads_;
  std::unique_ptr<CacheRpcs> cache_;
  std::unique_ptr<LocalService> local_service_;
  std::unique_ptr<UploadService> upload_service_;
  std::unique_ptr<rpc::HealthService> upload_health_;
  std::unique_ptr<rpc::HealthService> local_health_;
  std::unique_ptr<grpc::Server> local_server_;
  std::unique_ptr<grpc::Server> upload_server_;
  std::unique_ptr<HttpStatusServer> status_server_;
  std::unique_ptr<proxy::ProxyServer> proxy_server_;
  std::atomic<uint16_t> rpc_port_{0};
  std::atomic<uint32_t> upload_slots_{0};    // upload.slots, or the manager's cluster config
  std::atomic<uint64_t> config_version_{0};  // of the last cluster config applied
  // When a scheduler last took this host's announcement (readiness); start counts as one.
  std::atomic<std::chrono::steady_clock::time_point> last_announce_ok_{
      std::chrono::steady_clock::now()};

  // The piece-token keys of the schedulers this host announced to.
  security::TokenVerifier token_keys_;

  static constexpr std::chrono::seconds kForcedAnnounceGap{5};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool announce_now_ = false;                                      // AnnounceSoon() asked
  std::optional<std::chrono::steady_clock::time_point> sweep_at_;  // of the stored tasks
  std::chrono::steady_clock::time_point last_forced_announce_{};
  std::thread background_;
};

}  // namespace

StatusOr<std::unique_ptr<Daemon>> StartDaemon(const DaemonConfig& config) {
  spdlog::info("open files limit {}", net::RaiseFdLimit());
  auto d = std::make_unique<DaemonImpl>(config);
  DF_RETURN_IF_ERROR(d->Start());
  return std::unique_ptr<Daemon>(std::move(d));
}

}  // namespace df::daemon
