#include "manager/jobs.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <random>
#include <regex>

#include "api/dfdaemon.grpc.pb.h"
#include "dragonfly/common/net.h"
#include "dragonfly/common/task_id.h"
#include "dragonfly/common/url.h"
#include "dragonfly/manager/auth.h"
#include "dragonfly/manager/registry.h"
#include "dragonfly/tracing/grpc.h"
#include "manager/job_image.h"
#include "manager/job_util.h"

namespace df::manager {
namespace {

namespace dfd = dragonfly::api::dfdaemon;

// A job whose manager died this many times (claimed, never finished) is failed, not retried.
constexpr int64_t kMaxAttempts = 3;

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
  tracing::InjectCurrent(&ctx);
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

}  // namespace

JobRunner::JobRunner(Store* store, const ManagerConfig& config, prometheus::Registry& registry,
                     std::shared_ptr<const rpc::Credentials> credentials)
    : store_(store),
      config_(config),
      credentials_(std::move(credentials)),
      finished_(prometheus::BuildCounter()
                    .Name("dragonfly_manager_jobs_total")
                    .Help("Jobs finished by this manager, by type and final state")
                    .Register(registry)),
      durations_(prometheus::BuildHistogram()
                     .Name("dragonfly_manager_job_duration_seconds")
                     .Help("Time jobs ran on this manager, by type and final state")
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
  const auto started = std::chrono::steady_clock::now();
  tracing::Span span;
  if (tracer_ != nullptr) {
    span = tracer_->StartSpan("manager.job", tracing::SpanKind::kInternal);
    span.SetAttribute("dragonfly.job.id", job.id);
    span.SetAttribute("dragonfly.job.type", job.type);
    span.SetAttribute("dragonfly.job.group", job.task_id);
  }
  tracing::ScopedContext scope(span.context());
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
  span.SetAttribute("dragonfly.job.state", state);
  if (state != "SUCCESS") {
    span.SetError("job " + state);
  }
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
  durations_
      .Add({{"type", job.type}, {"state", state}},
           prometheus::Histogram::BucketBoundaries{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
                                                   1800, 3600})
      .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
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
  registry::ResolveResult image;  // image preheat and get_image_distribution
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
      auto resolved = ResolveImageOf(a, config_.job);
      if (!resolved.ok()) {
        return fail(resolved.status().message());
      }
      image = std::move(resolved).value();
      for (const auto& blob : image.blobs) {
        dfd::DownloadRequest r = base;
        r.set_url(blob.url);
        r.set_digest(blob.digest);
        // The registry mirror names blobs by their digest: the same task.
        r.set_task_id(blob.digest.substr(blob.digest.find(':') + 1));
        for (const auto& [k, v] : image.headers) {
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
  } else if (job.type == "get_image_distribution") {
    if (Status s = CheckPreheatDestination(config_.job, Str(a, "url")); !s.ok()) {
      return fail(s.message());
    }
    auto resolved = ResolveImageOf(a, config_.job);
    if (!resolved.ok()) {
      return fail(resolved.status().message());
    }
    image = std::move(resolved).value();
    for (const auto& blob : image.blobs) {
      dfd::DownloadRequest r;
      r.set_url(blob.url);
      r.set_digest(blob.digest);
      r.set_task_id(blob.digest.substr(blob.digest.find(':') + 1));  // as the mirror names it
      for (const auto& t : targets) {
        work.emplace_back(r, t);
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
  const tracing::SpanContext job_context = tracing::CurrentContext();
  auto worker = [&] {
    auto cancelled = [&] { return lost.load() || halt_.load(); };
    for (size_t i = next++; i < work.size() && !cancelled(); i = next++) {
      const auto& [req, target] = work[i];
      // Each call to a daemon as a span of the job; the daemon's download is its child.
      tracing::Span call;
      if (tracer_ != nullptr) {
        call =
            tracer_->StartSpan("manager.job." + job.type, tracing::SpanKind::kClient, job_context);
        call.SetAttribute("net.peer.name", target.hostname);
        call.SetAttribute("http.url", req.url());
        call.SetAttribute("dragonfly.task_id", req.task_id());
      }
      tracing::ScopedContext call_scope(call.context());
      if (job.type == "preheat") {
        outcomes[i] = DownloadOn(*credentials_, target, req, timeout, cancelled);
        if (!outcomes[i].ok) {
          call.SetError(outcomes[i].description);
        }
        continue;
      }
      auto stub = StubFor(*credentials_, target);
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      tracing::InjectCurrent(&ctx);
      if (job.type == "get_task" || job.type == "get_image_distribution") {
        dfd::StatTaskRequest sreq;
        sreq.set_task_id(req.task_id());
        dfd::TaskInfo info;
        grpc::Status s = stub->StatTask(&ctx, sreq, &info);
        const bool absent = s.error_code() == grpc::StatusCode::NOT_FOUND;
        outcomes[i] = {s.ok(), s.ok() ? "" : absent ? kAbsent : GrpcError(s)};
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
  if (job.type == "get_image_distribution") {
    result["job_states"] =
        json::array({{{"task_uuid", job.task_id + "_0"},
                      {"task_name", job.type},
                      {"state", "SUCCESS"},
                      {"results", {ImageDistribution(a, image, work, peers, outcomes)}},
                      {"error", ""},
                      {"created_at", Rfc3339(job.created_at)},
                      {"ttl", 0}}});
    result["state"] = "SUCCESS";
    result["updated_at"] = Rfc3339(NowMs());
    return result;
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
