#include "manager/jobs.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <regex>

#include "api/dfdaemon.grpc.pb.h"
#include "dragonfly/common/net.h"
#include "dragonfly/common/task_id.h"
#include "dragonfly/common/url.h"
#include "dragonfly/manager/auth.h"
#include "dragonfly/manager/registry.h"

namespace df::manager {
namespace {

namespace dfd = dragonfly::api::dfdaemon;

// A job whose manager died this many times (claimed, never finished) is failed, not retried.
constexpr int64_t kMaxAttempts = 3;

// One target of a job: a seed peer (or peer) and its cluster.
struct Target {
  std::string hostname;
  std::string ip;
  int port = 0;
  int64_t cluster_id = 0;
  std::string host_type = "super";
};

struct TaskOutcome {
  bool ok = false;
  std::string description;
};

std::string GrpcError(const grpc::Status& s) {
  return s.error_message().empty() ? "rpc failed (code " + std::to_string(s.error_code()) + ")"
                                   : s.error_message();
}

// A daemon's upload RPC; with TLS its certificate must be a seed peer's or a daemon's.
std::unique_ptr<dfd::DfdaemonUpload::Stub> StubFor(const rpc::Credentials& creds, const Target& t) {
  return dfd::DfdaemonUpload::NewStub(
      creds.Dial(net::JoinHostPort(t.ip, static_cast<uint16_t>(t.port)),
                 {security::Role::kSeedPeer, security::Role::kDaemon}));
}

// Downloads `req` on `target` and waits for it to finish.
TaskOutcome DownloadOn(const rpc::Credentials& creds, const Target& target,
                       const dfd::DownloadRequest& req, std::chrono::milliseconds timeout,
                       const std::function<bool()>& cancelled) {
  auto stub = StubFor(creds, target);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  auto reader = stub->Download(&ctx, req);
  dfd::DownloadResponse resp;
  bool finished = false;
  while (reader->Read(&resp)) {
    if (resp.has_finished()) {
      finished = true;
    }
    if (cancelled()) {
      ctx.TryCancel();
    }
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) {
    return {false, GrpcError(s)};
  }
  return {finished, finished ? "" : "download ended without finishing"};
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> SplitParams(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t amp = std::min(s.find('&', pos), s.size());
    if (amp > pos) {
      out.push_back(s.substr(pos, amp - pos));
    }
    pos = amp + 1;
  }
  return out;
}

bool ValidHttpUrl(const std::string& u) {
  return (u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0) && u.size() < 4096 &&
         u.find_first_of(" \r\n\t") == std::string::npos && u.find("://") + 3 < u.size();
}

Status Field(bool ok, const std::string& message) {
  return ok ? Status::Ok() : InvalidArgument(message);
}

}  // namespace

json ScrubbedJobArgs(json args) {
  if (args.contains("password") && args["password"].is_string() &&
      !args["password"].get<std::string>().empty()) {
    args["password"] = "******";
  }
  if (args.contains("headers") && args["headers"].is_object()) {
    // Any header may carry a credential (Authorization, X-Registry-Auth, API keys, ...).
    for (auto& [k, v] : args["headers"].items()) {
      v = "******";
    }
  }
  return args;
}

std::vector<std::string> PreheatUrls(const json& args) {
  std::vector<std::string> out;
  if (Str(args, "type") != "file") {
    out.push_back(Str(args, "url"));
    return out;
  }
  for (const json& u : args.value("urls", json::array())) {
    out.push_back(u.is_string() ? u.get<std::string>() : "");
  }
  return out;
}

Status CheckPreheatDestination(const ManagerConfig::Job& policy, const std::string& url) {
  auto u = ParseUrl(url);
  if (!u.ok()) {
    return u.status();
  }
  std::vector<std::string> ips = {u->host};
  if (!net::IsIpLiteral(u->host)) {
    auto resolved = net::ResolveHost(u->host);
    if (!resolved.ok()) {
      return Status::Ok();
    }
    ips = *resolved;
  }
  auto in = [](const std::string& ip, const std::vector<std::string>& nets) {
    return std::any_of(nets.begin(), nets.end(),
                       [&](const std::string& n) { return net::InCidr(ip, n); });
  };
  for (const auto& ip : ips) {
    if (in(ip, policy.denied_networks) && !in(ip, policy.allowed_networks)) {
      return PermissionDenied("preheat URL host " + u->host + " is " + ip +
                              ", in a network preheat may not reach (job.deniedNetworks; "
                              "job.allowedNetworks allows it)");
    }
  }
  return Status::Ok();
}

StatusOr<json> ValidateJobArgs(const std::string& type, const json& in) {
  if (!in.is_object()) {
    return InvalidArgument("args must be an object");
  }
  json a = in;
  // null means "not given" (the defaults apply).
  for (auto it = a.begin(); it != a.end();) {
    it = it->is_null() ? a.erase(it) : std::next(it);
  }
  auto check_headers = [&]() -> Status {
    if (!a.contains("headers") || a["headers"].is_null()) {
      a["headers"] = json::object();
      return Status::Ok();
    }
    DF_RETURN_IF_ERROR(Field(a["headers"].is_object(), "args.headers must be an object"));
    for (const auto& [k, v] : a["headers"].items()) {
      DF_RETURN_IF_ERROR(Field(v.is_string() && !k.empty() &&
                                   k.find_first_of(" :\r\n") == std::string::npos &&
                                   v.get<std::string>().find_first_of("\r\n") == std::string::npos,
                               "args.headers: bad header " + k));
    }
    return Status::Ok();
  };
  for (const char* key : {"tag", "application", "filtered_query_params", "username", "password",
                          "platform", "scope", "task_id", "url", "type"}) {
    if (a.contains(key) && !a[key].is_null() && !a[key].is_string()) {
      return InvalidArgument(std::string("args.") + key + " must be a string");
    }
  }
  for (const char* key : {"piece_length", "count", "percentage", "timeout", "concurrent_task_count",
                          "concurrent_peer_count", "concurrent_count"}) {
    if (a.contains(key) && !a[key].is_null() && !a[key].is_number_unsigned() &&
        !(a[key].is_number_integer() && a[key].get<int64_t>() >= 0)) {
      return InvalidArgument(std::string("args.") + key + " must be a non-negative integer");
    }
  }
  if (type == "preheat") {
    std::string t = Str(a, "type");
    DF_RETURN_IF_ERROR(Field(t == "image" || t == "file", "args.type must be image or file"));
    DF_RETURN_IF_ERROR(check_headers());
    if (t == "image") {
      DF_RETURN_IF_ERROR(
          Field(ValidHttpUrl(Str(a, "url")), "args.url must be an http(s) image manifest URL"));
      std::string platform = Str(a, "platform");
      if (platform.empty()) {
        a["platform"] = "linux/amd64";
      }
    } else {
      json urls = a.contains("urls") && a["urls"].is_array() ? a["urls"] : json::array();
      if (!Str(a, "url").empty()) {
        urls.push_back(Str(a, "url"));
      }
      DF_RETURN_IF_ERROR(Field(!urls.empty() && urls.size() <= 10000,
                               "args.url or args.urls (1 to 10000) is required"));
      for (const auto& u : urls) {
        DF_RETURN_IF_ERROR(Field(u.is_string() && ValidHttpUrl(u.get<std::string>()),
                                 "args.urls: each must be an http(s) URL"));
      }
      a["urls"] = urls;
    }
    std::string scope = Str(a, "scope");
    if (scope.empty()) {
      a["scope"] = scope = "single_seed_peer";
    }
    DF_RETURN_IF_ERROR(
        Field(scope == "single_seed_peer" || scope == "all_seed_peers" || scope == "all_peers",
              "args.scope must be single_seed_peer, all_seed_peers or all_peers"));
    if (a.contains("piece_length") && !a["piece_length"].is_null() &&
        a["piece_length"].get<uint64_t>() != 0) {
      uint64_t p = a["piece_length"].get<uint64_t>();
      DF_RETURN_IF_ERROR(Field(p >= (4u << 20) && p <= (1024u << 20),
                               "args.piece_length must be between 4 MiB and 1 GiB"));
    }
    if (a.contains("ips") && !a["ips"].is_null()) {
      DF_RETURN_IF_ERROR(Field(a["ips"].is_array() && a["ips"].size() <= 1000 &&
                                   std::all_of(a["ips"].begin(), a["ips"].end(),
                                               [](const json& ip) {
                                                 return ip.is_string() && !ip.empty() &&
                                                        ip.get<std::string>().size() <= 64;
                                               }),
                               "args.ips must be a list of IP addresses"));
    }
    if (a.contains("count") && !a["count"].is_null()) {
      DF_RETURN_IF_ERROR(
          Field(a["count"].get<uint64_t>() <= 100000, "args.count must be at most 100000"));
    }
    if (a.contains("percentage") && !a["percentage"].is_null()) {
      DF_RETURN_IF_ERROR(
          Field(a["percentage"].get<uint64_t>() <= 100, "args.percentage must be 1 to 100"));
    }
    return a;
  }
  if (type == "get_task" || type == "delete_task") {
    DF_RETURN_IF_ERROR(Field(!Str(a, "task_id").empty() || ValidHttpUrl(Str(a, "url")),
                             "args.task_id or args.url is required"));
    std::string id = Str(a, "task_id");
    DF_RETURN_IF_ERROR(
        Field(id.size() <= 128 && id.find_first_not_of("0123456789abcdef") == std::string::npos,
              "args.task_id must be a hex task ID"));
    return a;
  }
  return InvalidArgument("unknown job type '" + type + "': want preheat, get_task or delete_task");
}

JobRunner::JobRunner(Store* store, const ManagerConfig& config, prometheus::Registry& registry,
                     std::shared_ptr<const rpc::Credentials> credentials)
    : store_(store),
      config_(config),
      credentials_(std::move(credentials)),
      finished_(prometheus::BuildCounter()
                    .Name("dragonfly_manager_jobs_total")
                    .Help("Jobs finished by this manager, by type and final state")
                    .Register(registry)) {}

JobRunner::~JobRunner() { Stop(); }

void JobRunner::Start() {
  for (uint32_t i = 0; i < config_.job.workers; ++i) {
    threads_.emplace_back([this] { Worker(); });
  }
}

void JobRunner::Stop() {
  halt_ = true;  // running jobs stop early; their lease lets another replica redo them
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    t.join();
  }
}

void JobRunner::Poke() {
  {
    std::lock_guard lock(mu_);
    ++pokes_;
  }
  cv_.notify_one();
}

void JobRunner::Worker() {
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        return;
      }
    }
    int64_t now = NowMs();
    // A fresh owner token per claim: renewals and the result only count for this very run,
    // never for another worker or a replica with the same server.name.
    std::string owner = config_.server.name + "/" + auth::RandomToken(9);
    auto job = store_->ClaimJob(owner, now, now + config_.job.lease.count(), kMaxAttempts);
    if (!job.ok()) {
      spdlog::warn("job claim failed error=\"{}\"", job.status().ToString());
    } else if (job->has_value()) {
      Run(**job, owner);
      continue;
    }
    std::unique_lock lock(mu_);
    uint64_t seen = pokes_;
    cv_.wait_for(lock, config_.job.poll_interval, [&] { return stopping_ || pokes_ != seen; });
  }
}

void JobRunner::Run(const JobRow& job, const std::string& owner) {
  spdlog::info("job started id={} type={} group={} attempt={}", job.id, job.type, job.task_id,
               job.attempts);
  std::atomic<bool> lost{false};
  std::atomic<bool> done{false};
  std::mutex m;
  std::condition_variable cv;
  // Keeps the lease while the job runs; notices when another manager took it over.
  std::thread renew([&] {
    std::unique_lock lock(m);
    while (!cv.wait_for(lock, config_.job.lease / 3, [&] { return done.load(); })) {
      auto ok = store_->RenewJob(job.id, owner, NowMs() + config_.job.lease.count());
      if (ok.ok() && !*ok) {
        lost = true;
        return;
      }
    }
  });
  json result;
  try {
    result = Execute(job, lost);
  } catch (const std::exception& e) {
    // A job must never take the manager down (nor, retried, every replica in turn).
    spdlog::error("job failed id={} error=\"{}\"", job.id, e.what());
    result = FailedJobResult(job.task_id, job.type, std::string("internal error: ") + e.what());
  }
  {
    std::lock_guard lock(m);
    done = true;
  }
  cv.notify_all();
  renew.join();
  if (halt_) {
    // Shutting down: hand the job back (another replica, or this one restarted, redoes it).
    (void)store_->ReleaseJob(job.id, owner);
    spdlog::info("job released id={}: manager stopping", job.id);
    return;
  }
  std::string state = result.value("state", "FAILURE");
  auto ok = store_->FinishJob(job.id, owner, state, result, ScrubbedJobArgs(job.args));
  if (ok.ok() && !*ok) {
    spdlog::warn("job result dropped id={}: another manager took it over", job.id);
    return;
  }
  if (!ok.ok()) {
    // Recording the result failed (a result too large for the column, the database gone):
    // record a short failure instead, or leave it to the next attempt (bounded by kMaxAttempts).
    spdlog::error("job result not stored id={} error=\"{}\"", job.id, ok.status().ToString());
    (void)store_->FinishJob(
        job.id, owner, "FAILURE",
        FailedJobResult(job.task_id, job.type, "the job's result could not be stored"),
        ScrubbedJobArgs(job.args));
    return;
  }
  finished_.Add({{"type", job.type}, {"state", state}}).Increment();
  spdlog::info("job finished id={} type={} state={}", job.id, job.type, state);
}

json JobRunner::Execute(const JobRow& job, const std::atomic<bool>& lost) {
  const json& a = job.args;
  json result = {{"group_uuid", job.task_id},
                 {"state", "FAILURE"},
                 {"created_at", Rfc3339(job.created_at)},
                 {"job_states", json::array()}};
  auto fail = [&](const std::string& error) {
    json failed = FailedJobResult(job.task_id, job.type, error);
    failed["created_at"] = result["created_at"];
    return failed;
  };

  // Targets: active seed peers of the job's clusters (all clusters when none given), plus the
  // active peers for scope all_peers and for get_task / delete_task.
  std::string scope = job.type == "preheat" ? Str(a, "scope") : "all_peers";
  auto seeds = store_->ListComponents("seed_peer", "active");
  auto peer_rows = scope == "all_peers"
                       ? store_->ListComponents("peer", "active")
                       : StatusOr<std::vector<ComponentRow>>(std::vector<ComponentRow>{});
  if (!seeds.ok() || !peer_rows.ok()) {
    return fail((seeds.ok() ? peer_rows.status() : seeds.status()).ToString());
  }
  std::vector<Target> targets;
  for (const auto& s : *seeds) {
    bool in = job.scheduler_cluster_ids.empty() ||
              std::find(job.scheduler_cluster_ids.begin(), job.scheduler_cluster_ids.end(),
                        s.cluster_id) != job.scheduler_cluster_ids.end();
    if (in) {
      targets.push_back({s.hostname, s.ip, s.port, s.cluster_id, "super"});
    }
  }
  if (targets.empty() && scope != "all_peers") {
    return fail("no active seed peer in the job's scheduler clusters");
  }
  std::vector<Target> normal;
  for (const auto& p : *peer_rows) {
    normal.push_back({p.hostname, p.ip, p.port, p.cluster_id, "normal"});
  }
  if (job.type == "preheat" && a.contains("ips") && a["ips"].is_array() && !a["ips"].empty()) {
    std::vector<Target> chosen;
    for (const auto& t : normal) {
      StatusOr<std::string> target_ip = net::CanonicalIp(t.ip);
      for (const auto& ip : a["ips"]) {
        StatusOr<std::string> wanted = net::CanonicalIp(ip.get<std::string>());
        if (ip == t.ip || (wanted.ok() && target_ip.ok() && *wanted == *target_ip)) {
          chosen.push_back(t);
          break;
        }
      }
    }
    normal = chosen;
  } else if (job.type == "preheat" &&
             (a.value("count", uint64_t{0}) > 0 || a.value("percentage", uint64_t{0}) > 0)) {
    std::shuffle(normal.begin(), normal.end(), std::mt19937(std::random_device{}()));
    size_t keep = a.value("count", uint64_t{0}) > 0
                      ? a.value("count", uint64_t{0})
                      : (normal.size() * a.value("percentage", uint64_t{0}) + 99) / 100;
    normal.resize(std::min(normal.size(), keep));
  }
  targets.insert(targets.end(), normal.begin(), normal.end());
  if (targets.empty()) {
    return fail("no active seed peer or peer to run the job on");
  }
  auto timeout = config_.job.default_timeout;
  if (a.contains("timeout") && a["timeout"].is_number() && a["timeout"].get<int64_t>() > 0) {
    // Go's time.Duration: nanoseconds.
    timeout =
        std::chrono::milliseconds(std::max<int64_t>(a["timeout"].get<int64_t>() / 1000000, 1000));
  }

  // The work: (request, target) pairs.
  std::vector<std::pair<dfd::DownloadRequest, Target>> work;
  std::vector<std::string> urls;
  if (job.type == "preheat") {
    // Again at run time: the name may resolve elsewhere now.
    for (const std::string& url : PreheatUrls(a)) {
      if (Status s = CheckPreheatDestination(config_.job, url); !s.ok()) {
        return fail(s.message());
      }
    }
    dfd::DownloadRequest base;
    base.set_tag(Str(a, "tag"));
    base.set_application(Str(a, "application"));
    base.set_piece_length(static_cast<uint32_t>(a.value("piece_length", uint64_t{0})));
    for (const auto& p : SplitParams(Str(a, "filtered_query_params"))) {
      base.add_filtered_query_params(p);
    }
    base.set_timeout_ms(static_cast<uint64_t>(timeout.count()));
    std::vector<dfd::DownloadRequest> reqs;
    if (Str(a, "type") == "image") {
      registry::ResolveRequest rr;
      rr.manifest_url = Str(a, "url");
      for (const auto& [k, v] : a["headers"].items()) {
        rr.headers.emplace_back(k, v.get<std::string>());
      }
      rr.username = Str(a, "username");
      rr.password = Str(a, "password");
      rr.platform = Str(a, "platform");
      rr.tls.ca_file = config_.job.registry_ca_cert;
      rr.tls.insecure = config_.job.registry_insecure;
      rr.timeout_s = static_cast<long>(config_.job.registry_timeout.count() / 1000);
      auto image = registry::ResolveImage(rr);
      if (!image.ok()) {
        return fail("resolve image: " + image.status().message());
      }
      for (const auto& blob : image->blobs) {
        dfd::DownloadRequest r = base;
        r.set_url(blob.url);
        r.set_digest(blob.digest);
        // The registry mirror names blobs by their digest: the same task.
        r.set_task_id(blob.digest.substr(blob.digest.find(':') + 1));
        for (const auto& [k, v] : image->headers) {
          (*r.mutable_headers())[k] = v;
        }
        reqs.push_back(r);
      }
    } else {
      for (const auto& u : a["urls"]) {
        dfd::DownloadRequest r = base;
        r.set_url(u.get<std::string>());
        for (const auto& [k, v] : a["headers"].items()) {
          (*r.mutable_headers())[k] = v.get<std::string>();
        }
        reqs.push_back(r);
      }
    }
    for (const auto& r : reqs) {
      if (scope == "single_seed_peer") {
        // Hash-selected per task, stable while the set of seed peers is.
        size_t h = std::hash<std::string>{}(r.task_id().empty() ? r.url() : r.task_id());
        work.emplace_back(r, targets[h % targets.size()]);
      } else {
        for (const auto& t : targets) {
          work.emplace_back(r, t);
        }
      }
    }
  } else {
    std::string task_id = Str(a, "task_id");
    if (task_id.empty()) {
      TaskIdInput in;
      in.url = Str(a, "url");
      in.tag = Str(a, "tag");
      in.application = Str(a, "application");
      in.filtered_query_params = SplitParams(Str(a, "filtered_query_params"));
      auto id = MakeTaskId(in);
      if (!id.ok()) {
        return fail(id.status().message());
      }
      task_id = *id;
    }
    dfd::DownloadRequest r;
    r.set_task_id(task_id);
    r.set_url(Str(a, "url"));
    for (const auto& t : targets) {
      work.emplace_back(r, t);
    }
  }

  // Run with bounded concurrency; collect per-cluster results.
  size_t concurrency = std::clamp<size_t>(a.value("concurrent_task_count", uint64_t{8}), 1, 64);
  std::vector<TaskOutcome> outcomes(work.size());
  std::vector<json> peers(work.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    auto cancelled = [&] { return lost.load() || halt_.load(); };
    for (size_t i = next++; i < work.size() && !cancelled(); i = next++) {
      const auto& [req, target] = work[i];
      if (job.type == "preheat") {
        outcomes[i] = DownloadOn(*credentials_, target, req, timeout, cancelled);
        continue;
      }
      auto stub = StubFor(*credentials_, target);
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      if (job.type == "get_task") {
        dfd::StatTaskRequest sreq;
        sreq.set_task_id(req.task_id());
        dfd::TaskInfo info;
        grpc::Status s = stub->StatTask(&ctx, sreq, &info);
        outcomes[i] = {s.ok(), s.ok() ? "" : GrpcError(s)};
        if (s.ok()) {
          peers[i] = {{"id", info.task_id()},
                      {"hostname", target.hostname},
                      {"ip", target.ip},
                      {"host_type", target.host_type},
                      {"finished_pieces", info.finished_pieces()},
                      {"done", info.done()}};
        }
      } else {
        dfd::DeleteTaskRequest dreq;
        dreq.set_task_id(req.task_id());
        dfd::DeleteTaskResponse dresp;
        grpc::Status s = stub->DeleteTask(&ctx, dreq, &dresp);
        bool absent = s.error_code() == grpc::StatusCode::NOT_FOUND;
        outcomes[i] = {s.ok() || absent, s.ok() || absent ? "" : GrpcError(s)};
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t i = 0; i < std::min(concurrency, work.size()); ++i) {
    pool.emplace_back(worker);
  }
  for (auto& t : pool) {
    t.join();
  }
  if (lost || halt_) {
    return fail(lost ? "job taken over by another manager" : "manager shutting down");
  }

  std::map<int64_t, json> by_cluster;
  bool all_ok = true;
  for (size_t i = 0; i < work.size(); ++i) {
    const auto& [req, target] = work[i];
    json& r = by_cluster[target.cluster_id];
    if (r.is_null()) {
      r = {{"success_tasks", json::array()},
           {"failure_tasks", json::array()},
           {"scheduler_cluster_id", target.cluster_id}};
      if (job.type == "get_task") {
        r["peers"] = json::array();
      }
    }
    if (job.type == "get_task") {
      if (outcomes[i].ok) {
        r["peers"].push_back(peers[i]);
      }
      continue;  // a host without the task is not a failure
    }
    json entry = {{"url", req.url()}, {"hostname", target.hostname}, {"ip", target.ip}};
    if (job.type == "delete_task") {
      entry = {{"hostname", target.hostname}, {"ip", target.ip}, {"host_type", target.host_type}};
    }
    if (outcomes[i].ok) {
      r["success_tasks"].push_back(entry);
    } else {
      entry["description"] = outcomes[i].description;
      r["failure_tasks"].push_back(entry);
      all_ok = false;
    }
  }
  json states = json::array();
  int n = 0;
  for (auto& [cluster, r] : by_cluster) {
    bool ok = r["failure_tasks"].empty();
    std::string error;
    if (!ok) {
      error = r["failure_tasks"][0].value("description", "");
    }
    states.push_back({{"task_uuid", job.task_id + "_" + std::to_string(n++)},
                      {"task_name", job.type},
                      {"state", ok ? "SUCCESS" : "FAILURE"},
                      {"results", json::array({r})},
                      {"error", error},
                      {"created_at", Rfc3339(job.created_at)},
                      {"ttl", 0}});
  }
  result["job_states"] = states;
  result["state"] = all_ok ? "SUCCESS" : "FAILURE";
  result["updated_at"] = Rfc3339(NowMs());
  return result;
}

}  // namespace df::manager
