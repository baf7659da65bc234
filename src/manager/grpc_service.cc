#include "manager/grpc_service.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <regex>

#include "dragonfly/common/net.h"
#include "dragonfly/manager/auth.h"
#include "dragonfly/manager/keepalive.h"
#include "dragonfly/rpc/status.h"

namespace df::manager {
namespace {

// Length of the common "|"-separated prefix of two locations.
int LocationPrefix(const std::string& a, const std::string& b) {
  int n = 0;
  size_t i = 0;
  size_t j = 0;
  while (i < a.size() && j < b.size()) {
    size_t ea = std::min(a.find('|', i), a.size());
    size_t eb = std::min(b.find('|', j), b.size());
    if (a.compare(i, ea - i, b, j, eb - j) != 0) {
      break;
    }
    ++n;
    i = ea + 1;
    j = eb + 1;
  }
  return n;
}

void FillRules(const BlockRules& r, mgr::BlockRules* out) {
  out->mutable_applications()->Add(r.applications.begin(), r.applications.end());
  out->mutable_urls()->Add(r.urls.begin(), r.urls.end());
  out->mutable_tags()->Add(r.tags.begin(), r.tags.end());
}

void FillConfig(const ClusterRow& cluster, mgr::SchedulerClusterConfig* cfg) {
  const ClusterConfig& c = cluster.config;
  cfg->set_candidate_parent_limit(c.candidate_parent_limit.value_or(0));
  cfg->set_filter_parent_limit(c.filter_parent_limit.value_or(0));
  cfg->set_back_to_source_count(c.back_to_source_count.value_or(0));
  cfg->set_upload_slots(c.upload_slots.value_or(0));
  if (c.blocked_hosts) {
    cfg->mutable_blocked_hosts()->Add(c.blocked_hosts->begin(), c.blocked_hosts->end());
  }
  if (c.blocklist) {
    FillRules(c.blocklist->client, cfg->mutable_blocklist()->mutable_client());
    FillRules(c.blocklist->seed_client, cfg->mutable_blocklist()->mutable_seed_client());
  }
  cfg->set_version(static_cast<uint64_t>(cluster.config_version));
}

void AddScheduler(const ComponentRow& s, mgr::ListSchedulersResponse* response) {
  auto* out = response->add_schedulers();
  out->set_id(static_cast<uint64_t>(s.id));
  out->set_hostname(s.hostname);
  out->set_ip(s.ip);
  out->set_port(static_cast<uint32_t>(s.port));
  out->set_scheduler_cluster_id(static_cast<uint64_t>(s.cluster_id));
}

}  // namespace

int ScoreCluster(const ClusterRow& cluster, const std::string& ip, const std::string& hostname,
                 const std::string& idc, const std::string& location) {
  const ClusterScopes& s = cluster.scopes;
  int score = 0;
  for (const std::string& c : s.cidrs) {
    if (net::InCidr(ip, c)) {
      score += 1000;
      break;
    }
  }
  for (const std::string& h : s.hostnames) {
    try {
      if (std::regex_match(hostname, std::regex(h))) {
        score += 500;
        break;
      }
    } catch (const std::regex_error&) {
    }
  }
  // "idc-a|idc-b": any of them.
  if (!idc.empty() && !s.idc.empty() &&
      ("|" + s.idc + "|").find("|" + idc + "|") != std::string::npos) {
    score += 100;
  }
  if (!location.empty() && !s.location.empty()) {
    score += 10 * LocationPrefix(location, s.location);
  }
  if (score == 0 && cluster.is_default) {
    score = 1;
  }
  return score;
}

grpc::Status ManagerService::Authorize(const grpc::ServerContext* context,
                                       std::initializer_list<security::Role> roles,
                                       security::Identity* caller) const {
  StatusOr<security::Identity> id = rpc::RequireRole(*context, secure_, roles);
  if (!id.ok()) {
    spdlog::warn("manager: gRPC call refused from {}: {}", context->peer(), id.status().message());
    return rpc::ToGrpc(id.status());
  }
  *caller = std::move(id).value();
  const std::string& want = config_.auth.component_token;
  if (want.empty()) {
    return grpc::Status::OK;
  }
  auto it = context->client_metadata().find(kComponentTokenHeader);
  std::string_view got = it == context->client_metadata().end()
                             ? std::string_view()
                             : std::string_view(it->second.data(), it->second.size());
  if (!auth::SafeEqual(got, want)) {
    spdlog::warn("manager: gRPC call without a valid component token from {}", context->peer());
    return {grpc::StatusCode::UNAUTHENTICATED, "a valid component token is required"};
  }
  return grpc::Status::OK;
}

grpc::Status ManagerService::KeepAlive(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<mgr::KeepAliveResponse, mgr::KeepAliveRequest>* stream) {
  security::Identity caller;
  if (grpc::Status s =
          Authorize(context, {security::Role::kScheduler, security::Role::kSeedPeer}, &caller);
      !s.ok()) {
    return s;
  }
  mgr::KeepAliveRequest req;
  if (!stream->Read(&req)) {
    return grpc::Status::OK;
  }
  if (secure_) {
    const bool scheduler = req.source_type() == mgr::SOURCE_TYPE_SCHEDULER;
    if (caller.role != (scheduler ? security::Role::kScheduler : security::Role::kSeedPeer) ||
        caller.name != req.hostname()) {
      return {grpc::StatusCode::PERMISSION_DENIED, caller.SpiffeId() + " cannot keep alive as " +
                                                       (scheduler ? "scheduler " : "seed peer ") +
                                                       req.hostname()};
    }
  }
  if (req.hostname().empty() || req.ip().empty() || req.hostname().size() > 191 ||
      req.ip().size() > 64 || req.port() == 0 || req.port() > 65535 || req.piece_port() > 65535 ||
      req.idc().size() > 191 || req.location().size() > 191 || req.version().size() > 64 ||
      req.git_commit().size() > 64) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "hostname, ip and port are required; idc and location at most 191 characters, "
            "version and git_commit 64"};
  }
  StatusOr<std::string> ip = net::CanonicalIp(req.ip());
  if (!ip.ok()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "ip: " + ip.status().message()};
  }
  ComponentRow c;
  c.type = req.source_type() == mgr::SOURCE_TYPE_SCHEDULER ? "scheduler" : "seed_peer";
  c.hostname = req.hostname();
  c.ip = *ip;
  c.port = static_cast<int>(req.port());
  c.piece_port = static_cast<int>(req.piece_port());
  c.idc = req.idc();
  c.location = req.location();
  c.version = req.version();
  c.git_commit = req.git_commit();
  c.cluster_id = static_cast<int64_t>(req.cluster_id());
  if (c.cluster_id == 0) {
    auto clusters = store_->ListClusters();
    if (clusters.ok()) {
      for (const auto& cl : *clusters) {
        if (cl.is_default) {
          c.cluster_id = cl.id;
          break;
        }
      }
    }
  }
  auto cluster = store_->GetCluster(c.cluster_id);
  if (!cluster.ok()) {
    return {grpc::StatusCode::NOT_FOUND,
            "scheduler cluster " + std::to_string(c.cluster_id) + " does not exist"};
  }
  auto row = store_->UpsertComponent(c, config_.server.name);
  if (!row.ok()) {
    return {grpc::StatusCode::UNAVAILABLE, row.status().message()};
  }
  spdlog::info("{} registered id={} hostname={} ip={} port={} cluster={}", c.type, row->id,
               c.hostname, c.ip, c.port, c.cluster_id);
  while (true) {
    mgr::KeepAliveResponse resp;
    resp.set_id(static_cast<uint64_t>(row->id));
    resp.set_interval_ms(static_cast<uint32_t>(config_.keep_alive.interval.count()));
    if (auto cl = store_->GetCluster(c.cluster_id); cl.ok()) {
      FillConfig(*cl, resp.mutable_config());
    }
    if (!stream->Write(resp) || !stream->Read(&req) || context->IsCancelled()) {
      break;
    }
    (void)store_->TouchComponent(row->id, config_.server.name);
  }
  (void)store_->DeactivateComponent(row->id, config_.server.name);
  spdlog::info("{} inactive id={} hostname={} (keepalive stream ended)", c.type, row->id,
               c.hostname);
  return grpc::Status::OK;
}

void ManagerService::RecordPeer(const mgr::ListSchedulersRequest& request, int64_t cluster_id) {
  StatusOr<std::string> peer_ip = net::CanonicalIp(request.ip());
  if (request.rpc_port() == 0 || request.rpc_port() > 65535 || !peer_ip.ok() ||
      request.hostname().empty() || request.hostname().size() > 191 || request.idc().size() > 191 ||
      request.location().size() > 191 || request.piece_port() > 65535 ||
      request.version().size() > 64 || request.git_commit().size() > 64) {
    return;  // a seed peer or scheduler asking (no RPC port), or not a peer we can record
  }
  ComponentRow peer;
  peer.type = "peer";
  peer.hostname = request.hostname();
  peer.ip = *peer_ip;
  peer.port = static_cast<int>(request.rpc_port());
  peer.piece_port = static_cast<int>(request.piece_port());
  peer.idc = request.idc();
  peer.location = request.location();
  peer.cluster_id = cluster_id;
  peer.version = request.version();
  peer.git_commit = request.git_commit();
  if (auto row = store_->UpsertComponent(peer, config_.server.name); !row.ok()) {
    spdlog::warn("recording peer {} failed error=\"{}\"", peer.hostname, row.status().ToString());
  }
}

grpc::Status ManagerService::ListSchedulers(grpc::ServerContext* context,
                                            const mgr::ListSchedulersRequest* request,
                                            mgr::ListSchedulersResponse* response) {
  security::Identity caller;
  if (grpc::Status s = Authorize(
          context, {security::Role::kDaemon, security::Role::kSeedPeer, security::Role::kScheduler},
          &caller);
      !s.ok()) {
    return s;
  }
  if (secure_ && !request->hostname().empty() && request->hostname() != caller.name) {
    return {grpc::StatusCode::PERMISSION_DENIED,
            caller.SpiffeId() + " cannot ask as host " + request->hostname()};
  }
  response->set_refresh_interval_ms(30000);
  auto clusters = store_->ListClusters();
  auto schedulers = store_->ListComponents("scheduler", "active");
  if (!clusters.ok() || !schedulers.ok()) {
    return {grpc::StatusCode::UNAVAILABLE, "database unavailable"};
  }
  // Best-scoring cluster that has an active scheduler.
  std::vector<std::pair<int, const ClusterRow*>> ranked;
  for (const auto& c : *clusters) {
    int score =
        ScoreCluster(c, request->ip(), request->hostname(), request->idc(), request->location());
    if (score > 0) {
      ranked.emplace_back(score, &c);
    }
  }
  // Best score first; equal scores by cluster ID (deterministic for every daemon).
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second->id < b.second->id;
  });
  for (const auto& [score, cluster] : ranked) {
    for (const auto& s : *schedulers) {
      if (s.cluster_id == cluster->id) {
        AddScheduler(s, response);
      }
    }
    if (response->schedulers_size() > 0) {
      FillConfig(*cluster, response->mutable_config());
      RecordPeer(*request, cluster->id);
      return grpc::Status::OK;
    }
  }
  // No matching cluster has a live scheduler: any live scheduler beats none (the daemon would
  // otherwise go back to source for everything).
  for (const auto& s : *schedulers) {
    AddScheduler(s, response);
  }
  RecordPeer(*request, 0);
  return grpc::Status::OK;
}

}  // namespace df::manager
