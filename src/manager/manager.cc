#include "manager/manager.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <filesystem>
#include <thread>

#include "dragonfly/common/http_status_server.h"
#include "dragonfly/common/net.h"
#include "dragonfly/rpc/health.h"
#include "dragonfly/rpc/server_limits.h"
#include "dragonfly/security/cert_keeper.h"
#include "manager/api.h"
#include "manager/ca_service.h"
#include "manager/cluster_ca.h"
#include "manager/console.h"
#include "manager/grpc_service.h"
#include "manager/http_server.h"
#include "manager/jobs.h"
#include "manager/rest_metrics.h"
#include "manager/store.h"

namespace df::manager {
namespace {

constexpr int64_t kSchedulerRefreshMs = 30000;  // told to daemons in ListSchedulers

class ManagerImpl : public Manager {
 public:
  explicit ManagerImpl(const ManagerConfig& config) : config_(config) {}
  ~ManagerImpl() override { Stop(); }

  // The generated initial password of root goes to a 0600 file beside the SQLite database,
  // never to the log.
  Status HandOverRootPassword(const std::string& password) {
    std::string path = config_.database.sqlite_path + ".root-password";
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      return ErrnoError("write the initial root password to " + path, errno);
    }
    std::string line = password + "\n";
    bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::close(fd);
    if (!ok) {
      return ErrnoError("write the initial root password to " + path, errno);
    }
    spdlog::warn(
        "manager: user root has a generated password, in {} (readable by this user "
        "only): sign in and change it, then delete the file",
        path);
    return Status::Ok();
  }

  Status Init() {
    spdlog::info("open files limit {}", net::RaiseFdLimit());
    DF_ASSIGN_OR_RETURN(auto database, db::Open(config_.database));
    store_ = std::make_unique<Store>(std::move(database));
    std::string generated;
    // Replicas on a database server share no file system to hand a generated password over.
    std::string* generate = config_.database.dialect == db::Dialect::kSqlite ? &generated : nullptr;
    DF_RETURN_IF_ERROR(store_->Bootstrap(config_.auth.root_password, &api_.jwt_key, generate));
    if (!generated.empty()) {
      DF_RETURN_IF_ERROR(HandOverRootPassword(generated));
    }
    registry_ = std::make_shared<prometheus::Registry>();
    RegisterVersionMetric(*registry_, "manager");
    if (!config_.ca.cert.empty()) {
      DF_RETURN_IF_ERROR(OpenClusterCa());
    }
    DF_ASSIGN_OR_RETURN(std::shared_ptr<const rpc::Credentials> creds,
                        rpc::Credentials::Make(config_.tls, "manager"));
    DF_ASSIGN_OR_RETURN(tracer_, tracing::Tracer::Create(config_.tracing, registry_.get()));
    jobs_ = std::make_unique<JobRunner>(store_.get(), config_, *registry_, creds);
    jobs_->set_tracer(tracer_.get());
    swarm_ = std::make_unique<SwarmInspector>(store_.get(), creds);
    if (!config_.metrics_listen.empty()) {
      DF_ASSIGN_OR_RETURN(auto m, net::SplitHostPort(config_.metrics_listen));
      DF_ASSIGN_OR_RETURN(status_, StartHttpStatusServer(m.host, m.port, registry_));
      spdlog::info("metrics listening on {}", net::JoinHostPort(m.host, status_->port()));
    }
    api_.store = store_.get();
    api_.jobs = jobs_.get();
    api_.config = &config_;
    api_.ca = ca_.get();
    api_.swarm = swarm_.get();
    RegisterApi(router_, &api_);
    router_.set_observer(RestMetrics(*registry_));
    const std::string console = FindConsoleDir(config_.console.dir);
    if (console.empty() && !config_.console.dir.empty()) {
      return InvalidArgument("console.dir " + config_.console.dir + " has no index.html");
    }
    RegisterConsole(router_, console);  // after the API: it takes every other GET
    spdlog::info("web console {}", console.empty() ? "not installed" : "served from " + console);
    DF_ASSIGN_OR_RETURN(
        rest_, StartHttpServer(config_.server.rest_listen, &router_, config_.server.max_body_bytes,
                               256, config_.server.request_timeout));

    DF_ASSIGN_OR_RETURN(auto addr, net::SplitHostPort(config_.server.grpc_listen));
    service_ = std::make_unique<ManagerService>(store_.get(), config_, creds->secure());
    grpc::ServerBuilder builder;
    int port = 0;
    DF_RETURN_IF_ERROR(net::CheckListenAddress(config_.server.grpc_listen));
    DF_RETURN_IF_ERROR(
        security::CheckExposure(config_.tls, {{"server.grpc.addr", config_.server.grpc_listen}}));
    // With the cluster CA, a joining host comes without a certificate: only Join takes that.
    builder.AddListeningPort(net::JoinHostPort(addr.host, addr.port),
                             creds->Server(/*require_client_cert=*/ca_ == nullptr), &port);
    builder.RegisterService(service_.get());
    // Ready while its database answers.
    health_ = std::make_unique<rpc::HealthService>(
        [store = store_.get()] { return store->db().Exec("SELECT 1").status(); },
        std::set<std::string>{"dragonfly.api.manager.Manager"});
    builder.RegisterService(health_.get());
    // A KeepAlive stream holds a thread for as long as a scheduler or seed peer is up.
    rpc::ApplyServerLimits(builder, {.max_threads = 4096});
    if (ca_) {
      ca_service_ = std::make_unique<ClusterCaService>(ca_.get());
      builder.RegisterService(ca_service_.get());
    }
    grpc_ = builder.BuildAndStart();
    if (!grpc_ || port == 0) {
      return Unavailable("cannot listen on " + config_.server.grpc_listen);
    }
    grpc_port_ = static_cast<uint16_t>(port);
    jobs_->Start();
    reaper_ = std::thread([this] { Reap(); });
    return Status::Ok();
  }

  uint16_t rest_port() const override { return rest_->port(); }
  uint16_t grpc_port() const override { return grpc_port_; }

  void Stop() override {
    {
      std::lock_guard lock(mu_);
      if (stopped_) {
        return;
      }
      stopped_ = true;
    }
    cv_.notify_all();
    if (reaper_.joinable()) {
      reaper_.join();
    }
    if (grpc_) {
      grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    }
    if (rest_) {
      rest_->Stop();
    }
    if (jobs_) {
      jobs_->Stop();
    }
    if (status_) {
      status_->Stop();
    }
  }

 private:
  // The cluster CA; without security.cert, the manager's own certificate from it too (beside
  // ca.key, renewed like every other).
  Status OpenClusterCa() {
    DF_ASSIGN_OR_RETURN(ca_, ClusterCa::Open(config_.ca, &store_->db()));
    if (!config_.tls.cert.empty()) {
      return Status::Ok();
    }
    const std::string dir = std::filesystem::path(config_.ca.key).parent_path().string();
    config_.tls.ca_cert = config_.ca.cert;
    config_.tls.cert = (std::filesystem::path(dir) / "manager.crt").string();
    config_.tls.key = (std::filesystem::path(dir) / "manager.key").string();
    security::CertificateKeeper::Options o;
    o.files = config_.tls;
    o.identity = {security::Role::kManager, config_.server.name};
    o.join = [ca = ca_.get(), id = o.identity](const std::string& public_key) {
      return ca->Issue(id, public_key);
    };
    o.renew = o.join;
    DF_ASSIGN_OR_RETURN(cert_keeper_, security::CertificateKeeper::Start(std::move(o)));
    return Status::Ok();
  }

  // Components whose stream went silent (a host that vanished without closing it) turn
  // inactive after keepAlive.timeout.
  void Reap() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(1000), [&] { return stopped_; })) {
      lock.unlock();
      int64_t now = NowMs();
      Status s = store_->ExpireComponents("scheduler", now - config_.keep_alive.timeout.count());
      if (s.ok()) {
        s = store_->ExpireComponents("seed_peer", now - config_.keep_alive.timeout.count());
      }
      if (s.ok()) {
        // Peers only show up when they ask for schedulers (every refresh interval).
        s = store_->ExpireComponents("peer", now - 3 * kSchedulerRefreshMs);
      }
      if (!s.ok()) {
        spdlog::warn("manager: expiring components failed error=\"{}\"", s.ToString());
      }
      lock.lock();
    }
  }

  ManagerConfig config_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ClusterCa> ca_;
  std::unique_ptr<security::CertificateKeeper> cert_keeper_;
  std::unique_ptr<ClusterCaService> ca_service_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<HttpStatusServer> status_;
  std::unique_ptr<tracing::Tracer> tracer_;  // before jobs_: outlives the job threads
  std::unique_ptr<JobRunner> jobs_;
  std::unique_ptr<SwarmInspector> swarm_;
  ApiContext api_{};
  HttpRouter router_;
  std::unique_ptr<HttpServer> rest_;
  std::unique_ptr<ManagerService> service_;
  std::unique_ptr<rpc::HealthService> health_;
  std::unique_ptr<grpc::Server> grpc_;
  uint16_t grpc_port_ = 0;
  std::thread reaper_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
};

}  // namespace

StatusOr<std::unique_ptr<Manager>> StartManager(const ManagerConfig& config) {
  auto m = std::make_unique<ManagerImpl>(config);
  DF_RETURN_IF_ERROR(m->Init());
  return std::unique_ptr<Manager>(std::move(m));
}

}  // namespace df::manager
