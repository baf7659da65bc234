#include "dragonfly/scheduler/run.h"

#include <prometheus/registry.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>

#include "dragonfly/common/http_status_server.h"
#include "dragonfly/common/service_notify.h"
#include "dragonfly/scheduler/service.h"

namespace df::scheduler {
namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Status RunScheduler(const SchedulerConfig& config) {
  spdlog::info("open files limit {}", net::RaiseFdLimit());
  DF_ASSIGN_OR_RETURN(HostPort listen, SplitHostPort(config.listen));
  auto registry = std::make_shared<prometheus::Registry>();
  RegisterVersionMetric(*registry, "scheduler");
  DF_ASSIGN_OR_RETURN(std::unique_ptr<SchedulerServer> server,
                      SchedulerServer::Start(config, registry));
  std::unique_ptr<HttpStatusServer> status_server;
  if (!config.metrics_listen.empty()) {
    DF_ASSIGN_OR_RETURN(HostPort m, SplitHostPort(config.metrics_listen));
    DF_ASSIGN_OR_RETURN(status_server, StartHttpStatusServer(m.host, m.port, registry));
    spdlog::info("metrics listening on {}", net::JoinHostPort(m.host, status_server->port()));
  }
  const std::string where = net::JoinHostPort(listen.host, server->port());
  std::printf("scheduler listening on %s\n", where.c_str());
  std::fflush(stdout);
  spdlog::info("scheduler listening on {}", where);
  NotifyReady("serving on " + where);

  sigset_t set = TerminationSignals();
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("signal {} received, shutting down", sig);
  NotifyStopping();
  server->Stop();
  if (status_server) {
    status_server->Stop();
  }
  return Status::Ok();
}

}  // namespace df::scheduler
