#include "dragonfly/scheduler/config.h"

#include <unistd.h>

#include <charconv>

#include "dragonfly/common/config.h"
#include "dragonfly/common/logging.h"

namespace df::scheduler {
namespace {

Status ReadScheduler(const YAML::Node& n, SchedulerOptions* o) {
  const std::string p = "scheduler";
  DF_RETURN_IF_ERROR(config::CheckKeys(
      n, p,
      {"candidateParentLimit", "filterParentLimit", "backToSourceCount", "retryInterval", "peerTTL",
       "hostTTL", "gcInterval", "persistentCacheHolderTTL", "maxHosts", "maxTasks",
       "maxPeersPerTask", "maxPeersPerHost", "pieceTokenTTL"}));
  DF_RETURN_IF_ERROR(config::Read(n, p, "candidateParentLimit", &o->candidate_parent_limit));
  DF_RETURN_IF_ERROR(config::Read(n, p, "filterParentLimit", &o->filter_parent_limit));
  if (o->filter_parent_limit < 1 || o->filter_parent_limit > 1000) {
    return InvalidArgument("scheduler.filterParentLimit must be in [1, 1000]");
  }
  DF_RETURN_IF_ERROR(config::Read(n, p, "backToSourceCount", &o->back_to_source_count));
  DF_RETURN_IF_ERROR(config::Read(n, p, "retryInterval", &o->retry_interval));
  DF_RETURN_IF_ERROR(config::Read(n, p, "peerTTL", &o->peer_ttl));
  DF_RETURN_IF_ERROR(config::Read(n, p, "hostTTL", &o->host_ttl));
  DF_RETURN_IF_ERROR(config::Read(n, p, "gcInterval", &o->gc_interval));
  DF_RETURN_IF_ERROR(
      config::Read(n, p, "persistentCacheHolderTTL", &o->persistent_cache_holder_ttl));
  DF_RETURN_IF_ERROR(config::Read(n, p, "maxHosts", &o->max_hosts));
  DF_RETURN_IF_ERROR(config::Read(n, p, "maxTasks", &o->max_tasks));
  DF_RETURN_IF_ERROR(config::Read(n, p, "maxPeersPerTask", &o->max_peers_per_task));
  DF_RETURN_IF_ERROR(config::Read(n, p, "maxPeersPerHost", &o->max_peers_per_host));
  DF_RETURN_IF_ERROR(config::Read(n, p, "pieceTokenTTL", &o->piece_token_ttl));
  if (o->piece_token_ttl < std::chrono::seconds(1) || o->piece_token_ttl > std::chrono::hours(24)) {
    return InvalidArgument("scheduler.pieceTokenTTL must be in [1s, 24h]");
  }
  if (o->max_hosts == 0 || o->max_tasks == 0 || o->max_peers_per_task == 0 ||
      o->max_peers_per_host == 0) {
    return InvalidArgument(
        "scheduler.maxHosts, maxTasks, maxPeersPerTask and maxPeersPerHost must be positive");
  }
  if (o->candidate_parent_limit < 1 || o->candidate_parent_limit > 20) {
    return InvalidArgument("scheduler.candidateParentLimit must be in [1, 20]");
  }
  if (o->retry_interval.count() <= 0 || o->peer_ttl.count() <= 0 || o->host_ttl.count() <= 0 ||
      o->gc_interval.count() <= 0 || o->persistent_cache_holder_ttl.count() <= 0) {
    return InvalidArgument(
        "scheduler.retryInterval, peerTTL, hostTTL, gcInterval and persistentCacheHolderTTL must "
        "be positive");
  }
  return Status::Ok();
}

Status ReadHost(const YAML::Node& n, HostIdentity* h) {
  DF_RETURN_IF_ERROR(config::CheckKeys(n, "host", {"hostname", "ip", "idc", "location"}));
  DF_RETURN_IF_ERROR(config::Read(n, "host", "hostname", &h->hostname));
  DF_RETURN_IF_ERROR(config::Read(n, "host", "ip", &h->ip));
  if (!h->ip.empty()) {
    DF_ASSIGN_OR_RETURN(h->ip, net::CanonicalIp(h->ip).Annotate("config key 'host.ip'"));
  }
  DF_RETURN_IF_ERROR(config::Read(n, "host", "idc", &h->idc));
  DF_RETURN_IF_ERROR(config::Read(n, "host", "location", &h->location));
  return Status::Ok();
}

Status ReadManager(const YAML::Node& n, ManagerOptions* m) {
  const std::string p = "manager";
  DF_RETURN_IF_ERROR(config::CheckKeys(n, p, {"addr", "clusterID", "keepAliveInterval", "token"}));
  DF_RETURN_IF_ERROR(config::Read(n, p, "token", &m->token));
  DF_RETURN_IF_ERROR(config::Read(n, p, "addr", &m->addr));
  int64_t cluster_id = static_cast<int64_t>(m->cluster_id);
  DF_RETURN_IF_ERROR(config::Read(n, p, "clusterID", &cluster_id));
  if (cluster_id < 0) {
    return InvalidArgument("manager.clusterID must not be negative");
  }
  m->cluster_id = static_cast<uint64_t>(cluster_id);
  DF_RETURN_IF_ERROR(config::Read(n, p, "keepAliveInterval", &m->keep_alive_interval));
  if (m->keep_alive_interval < std::chrono::milliseconds(100) ||
      m->keep_alive_interval > std::chrono::minutes(5)) {
    return InvalidArgument("manager.keepAliveInterval must be in [100ms, 5m]");
  }
  if (!m->addr.empty()) {
    DF_RETURN_IF_ERROR(SplitHostPort(m->addr).status().Annotate("manager.addr"));
  }
  return Status::Ok();
}

Status ReadListen(const YAML::Node& root, const char* section, std::string* out) {
  const YAML::Node n = root[section];
  DF_RETURN_IF_ERROR(config::CheckKeys(n, section, {"listen"}));
  return config::Read(n, section, "listen", out);
}

Status ParseRoot(const YAML::Node& root, SchedulerConfig* out) {
  SchedulerConfig& c = *out;
  DF_RETURN_IF_ERROR(config::CheckKeys(
      root, "",
      {"server", "metrics", "scheduler", "host", "manager", "log", "security", "tracing"}));
  DF_RETURN_IF_ERROR(ReadListen(root, "server", &c.listen));
  DF_RETURN_IF_ERROR(ReadListen(root, "metrics", &c.metrics_listen));
  DF_RETURN_IF_ERROR(ReadScheduler(root["scheduler"], &c.scheduler));
  DF_RETURN_IF_ERROR(ReadHost(root["host"], &c.host));
  DF_RETURN_IF_ERROR(ReadManager(root["manager"], &c.manager));
  DF_RETURN_IF_ERROR(security::ReadTlsSettings(root["security"], &c.tls));
  DF_RETURN_IF_ERROR(tracing::ReadTracingConfig(root["tracing"], "tracing", &c.tracing));
  const YAML::Node log = root["log"];
  DF_RETURN_IF_ERROR(config::CheckKeys(log, "log", {"level", "format"}));
  DF_RETURN_IF_ERROR(config::Read(log, "log", "level", &c.log_level));
  DF_RETURN_IF_ERROR(config::Read(log, "log", "format", &c.log_format));
  DF_RETURN_IF_ERROR(ValidateLogFormat(c.log_format).Annotate("log.format"));
  DF_RETURN_IF_ERROR(SplitHostPort(c.listen).status().Annotate("server.listen"));
  if (!c.metrics_listen.empty()) {
    DF_RETURN_IF_ERROR(SplitHostPort(c.metrics_listen).status().Annotate("metrics.listen"));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<SchedulerConfig> ParseSchedulerConfig(const YAML::Node& root) {
  SchedulerConfig c;
  if (root && !root.IsNull()) {
    try {
      DF_RETURN_IF_ERROR(ParseRoot(root, &c));
    } catch (const YAML::Exception& e) {  // a shape the readers did not expect
      return InvalidArgument(std::string("scheduler config: ") + e.what());
    }
  }
  if (c.tracing.service_name.empty()) {
    c.tracing.service_name = "scheduler";
  }
  if (c.host.hostname.empty()) {
    char name[256] = {};
    ::gethostname(name, sizeof(name) - 1);
    c.host.hostname = name;
  }
  return c;
}

StatusOr<SchedulerConfig> LoadSchedulerConfig(const std::string& path, bool allow_missing) {
  StatusOr<YAML::Node> root = config::LoadFile(path);
  if (!root.ok()) {
    if (allow_missing && root.status().code() == StatusCode::kNotFound) {
      return ParseSchedulerConfig(YAML::Node());
    }
    return root.status();
  }
  return ParseSchedulerConfig(*root);
}

}  // namespace df::scheduler
