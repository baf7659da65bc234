#include "manager/swarm.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <vector>

#include "api/scheduler.grpc.pb.h"
#include "dragonfly/common/net.h"

namespace df::manager {
namespace {

namespace sched = dragonfly::api::scheduler;
using nlohmann::json;

constexpr auto kCallTimeout = std::chrono::seconds(5);

std::unique_ptr<sched::Scheduler::Stub> StubOf(const rpc::Credentials& creds,
                                               const ComponentRow& s) {
  return sched::Scheduler::NewStub(creds.Dial(
      net::JoinHostPort(s.ip, static_cast<uint16_t>(s.port)), {security::Role::kScheduler}));
}

// Calls `call` on every scheduler at once; the answers of those that answered, in order.
template <typename Resp, typename Call>
std::vector<std::pair<const ComponentRow*, Resp>> AskAll(const std::vector<ComponentRow>& all,
                                                         const rpc::Credentials& creds, Call call) {
  std::vector<std::future<std::optional<Resp>>> pending;
  for (const ComponentRow& s : all) {
    pending.push_back(std::async(std::launch::async, [&creds, &s, &call]() -> std::optional<Resp> {
      auto stub = StubOf(creds, s);
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
      Resp resp;
      grpc::Status st = call(*stub, &ctx, &resp);
      if (!st.ok()) {
        return std::nullopt;
      }
      return resp;
    }));
  }
  std::vector<std::pair<const ComponentRow*, Resp>> out;
  for (size_t i = 0; i < all.size(); ++i) {
    if (std::optional<Resp> r = pending[i].get()) {
      out.emplace_back(&all[i], std::move(*r));
    }
  }
  return out;
}

}  // namespace

StatusOr<std::vector<ComponentRow>> SwarmInspector::ActiveSchedulers(
    std::optional<int64_t> cluster_id) const {
  DF_ASSIGN_OR_RETURN(std::vector<ComponentRow> schedulers,
                      store_->ListComponents("scheduler", "active"));
  if (cluster_id) {
    std::erase_if(schedulers, [&](const ComponentRow& s) { return s.cluster_id != *cluster_id; });
  }
  return schedulers;
}

StatusOr<json> SwarmInspector::ListTasks(std::optional<int64_t> cluster_id, uint32_t limit) {
  DF_ASSIGN_OR_RETURN(std::vector<ComponentRow> schedulers, ActiveSchedulers(cluster_id));
  sched::ListTasksRequest req;
  req.set_limit(limit);
  auto answers = AskAll<sched::ListTasksResponse>(
      schedulers, *credentials_, [&](auto& stub, grpc::ClientContext* ctx, auto* resp) {
        return stub.ListTasks(ctx, req, resp);
      });
  // A task known to several schedulers (a failover in progress): the one with the most peers.
  std::map<std::string, json> by_id;
  for (const auto& [s, resp] : answers) {
    for (const sched::TaskSummary& t : resp.tasks()) {
      json& slot = by_id[t.task_id()];
      if (!slot.is_null() && slot["peers"].get<uint32_t>() >= t.peers()) {
        continue;
      }
      slot = {{"task_id", t.task_id()},
              {"url", t.url()},
              {"content_length", t.content_length()},
              {"peers", t.peers()},
              {"succeeded", t.succeeded()},
              {"running", t.running()},
              {"last_active_ms_ago", t.last_active_ms_ago()},
              {"scheduler", s->hostname},
              {"cluster_id", s->cluster_id}};
    }
  }
  std::vector<json> tasks;
  for (auto& [id, t] : by_id) {
    tasks.push_back(std::move(t));
  }
  std::sort(tasks.begin(), tasks.end(), [](const json& a, const json& b) {
    return a["last_active_ms_ago"].get<int64_t>() < b["last_active_ms_ago"].get<int64_t>();
  });
  if (tasks.size() > limit) {
    tasks.resize(limit);
  }
  return json(tasks);
}

StatusOr<json> SwarmInspector::Inspect(const std::string& task_id) {
  DF_ASSIGN_OR_RETURN(std::vector<ComponentRow> schedulers, ActiveSchedulers(std::nullopt));
  sched::InspectTaskRequest req;
  req.set_task_id(task_id);
  auto answers = AskAll<sched::InspectTaskResponse>(
      schedulers, *credentials_, [&](auto& stub, grpc::ClientContext* ctx, auto* resp) {
        return stub.InspectTask(ctx, req, resp);
      });
  const std::pair<const ComponentRow*, sched::InspectTaskResponse>* owner = nullptr;
  for (const auto& a : answers) {
    if (a.second.known() &&
        (owner == nullptr || a.second.peers_size() > owner->second.peers_size())) {
      owner = &a;
    }
  }
  if (owner == nullptr) {
    return NotFound("no active scheduler knows task " + task_id);
  }
  const sched::InspectTaskResponse& t = owner->second;
  std::map<std::string, std::string> hostname_of;  // peer ID -> host name
  for (const sched::InspectedPeer& p : t.peers()) {
    hostname_of[p.peer().peer_id()] = p.peer().hostname();
  }
  json peers = json::array();
  for (const sched::InspectedPeer& ip : t.peers()) {
    const sched::TaskPeer& p = ip.peer();
    json inbound = json::array();
    uint64_t rate = 0;
    for (const sched::PeerEdge& e : ip.inbound()) {
      auto from = hostname_of.find(e.from_peer_id());
      inbound.push_back({{"from_peer_id", e.from_peer_id()},
                         {"from_hostname", from == hostname_of.end() ? "" : from->second},
                         {"bytes_total", e.bytes_total()},
                         {"rate_bps", e.rate_bps()}});
      rate += e.rate_bps();
    }
    // What it holds that no neighbour sent: from the origin (a seed, or back to source).
    uint64_t held = uint64_t{p.finished_pieces()} * t.piece_length();
    if (t.content_length() >= 0) {
      held = std::min<uint64_t>(held, static_cast<uint64_t>(t.content_length()));
    }
    uint64_t from_origin = (p.seed() || p.back_to_source()) && held > ip.bytes_from_peers()
                               ? held - ip.bytes_from_peers()
                               : 0;
    peers.push_back({{"peer_id", p.peer_id()},
                     {"hostname", p.hostname()},
                     {"ip", p.ip()},
                     {"phase", p.phase()},
                     {"seed", p.seed()},
                     {"back_to_source", p.back_to_source()},
                     {"finished_pieces", p.finished_pieces()},
                     {"total_pieces", p.total_pieces()},
                     {"bytes_from_peers", ip.bytes_from_peers()},
                     {"bytes_from_origin", from_origin},
                     {"rate_bps", rate},
                     {"last_report_ms_ago", ip.last_report_ms_ago()},
                     {"inbound", inbound}});
  }
  return json{{"task_id", t.task_id()},
              {"url", t.url()},
              {"content_length", t.content_length()},
              {"piece_length", t.piece_length()},
              {"total_pieces", t.total_pieces()},
              {"scheduler", owner->first->hostname},
              {"cluster_id", owner->first->cluster_id},
              {"peers", peers}};
}

StatusOr<json> SwarmInspector::ListPersistentCacheTasks(std::optional<int64_t> cluster_id) {
  DF_ASSIGN_OR_RETURN(std::vector<ComponentRow> schedulers, ActiveSchedulers(cluster_id));
  auto answers = AskAll<sched::ListPersistentCacheTasksResponse>(
      schedulers, *credentials_, [&](auto& stub, grpc::ClientContext* ctx, auto* resp) {
        return stub.ListPersistentCacheTasks(ctx, sched::ListPersistentCacheTasksRequest(), resp);
      });
  // A task two schedulers know (a takeover in progress): the answer with the most holders.
  std::map<std::string, json> by_id;
  for (const auto& [s, resp] : answers) {
    for (const sched::StatPersistentCacheTaskResponse& st : resp.tasks()) {
      const sched::PersistentCacheTask& t = st.task();
      json& slot = by_id[t.task_id()];
      if (!slot.is_null() && slot["holders"].size() >= static_cast<size_t>(st.holders_size())) {
        continue;
      }
      json holders = json::array();
      for (const sched::PersistentCacheHolder& h : st.holders()) {
        holders.push_back({{"host_id", h.host_id()},
                           {"hostname", h.hostname()},
                           {"ip", h.ip()},
                           {"seed", h.seed()},
                           {"last_seen_ms_ago", h.last_seen_ms_ago()}});
      }
      slot = {{"task_id", t.task_id()},
              {"tag", t.tag()},
              {"application", t.application()},
              {"content_length", t.content_length()},
              {"piece_length", t.piece_length()},
              {"total_pieces", t.total_pieces()},
              {"digest", t.digest()},
              {"replicas", t.replicas()},
              {"state", st.state()},
              {"replicating", st.replicating()},
              {"created_at_ms", st.created_at_ms()},
              {"expires_at_ms", t.expires_at_ms()},
              {"holders", std::move(holders)},
              {"scheduler", s->hostname},
              {"cluster_id", s->cluster_id}};
    }
  }
  std::vector<json> tasks;
  for (auto& [id, t] : by_id) {
    tasks.push_back(std::move(t));
  }
  std::sort(tasks.begin(), tasks.end(), [](const json& a, const json& b) {
    return a["created_at_ms"].get<int64_t>() > b["created_at_ms"].get<int64_t>();
  });
  return json(tasks);
}

StatusOr<json> SwarmInspector::DeletePersistentCacheTask(const std::string& task_id) {
  DF_ASSIGN_OR_RETURN(std::vector<ComponentRow> schedulers, ActiveSchedulers(std::nullopt));
  sched::DeletePersistentCacheTaskRequest req;
  req.set_task_id(task_id);
  auto answers = AskAll<sched::DeletePersistentCacheTaskResponse>(
      schedulers, *credentials_, [&](auto& stub, grpc::ClientContext* ctx, auto* resp) {
        return stub.DeletePersistentCacheTask(ctx, req, resp);
      });
  if (answers.empty()) {
    return NotFound("no active scheduler keeps persistent cache task " + task_id);
  }
  uint32_t hosts = 0;
  for (const auto& [s, resp] : answers) {
    hosts += resp.hosts();
  }
  return json{{"task_id", task_id}, {"hosts", hosts}};
}

}  // namespace df::manager
