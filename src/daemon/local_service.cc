#include "daemon/local_service.h"

#include <spdlog/spdlog.h>

#include "backend/url_util.h"
#include "daemon/back_to_source.h"
#include "daemon/metrics.h"
#include "daemon/scheduler_api.h"
#include "dragonfly/backend/origin.h"
#include "dragonfly/common/digest.h"
#include "dragonfly/common/ids.h"
#include "dragonfly/common/piece.h"
#include "dragonfly/common/task_id.h"
#include "dragonfly/rpc/status.h"
#include "dragonfly/rpc/task_spec.h"
#include "dragonfly/rpc/tls.h"
#include "dragonfly/tracing/grpc.h"

namespace df::daemon {

using rpc::ToGrpc;

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

Status ValidateAndBuildSpec(const dfd::DownloadRequest& req, sched::TaskSpec* spec) {
  if (req.url().empty()) {
    return InvalidArgument("missing URL");
  }
  if (IsPersistentCacheUrl(req.url())) {  // dfcache export: the task has no origin
    const std::string id = req.url().substr(std::string_view(kPersistentCacheScheme).size());
    DF_RETURN_IF_ERROR(TaskId::Parse(id).status());
    if (req.has_object_storage() || !req.task_id().empty()) {
      return InvalidArgument("a persistent cache task is named by its URL only");
    }
    spec->set_url(req.url());
    spec->set_task_id(id);
    spec->set_tag(req.tag());
    spec->set_application(req.application());
    return rpc::VerifyTaskSpec(*spec);
  }
  auto scheme_end = req.url().find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : req.url().substr(0, scheme_end);
  if (!backend::IsOriginScheme(scheme)) {
    return InvalidArgument("unsupported URL '" + backend::RedactUrl(req.url()) +
                           "': want http://, https://, s3://, abs:// or hf:// (docs/backends.md)");
  }
  if (!req.digest().empty()) {
    DF_RETURN_IF_ERROR(ParseDigest(req.digest()).status());
  }
  spec->set_url(req.url());
  spec->set_tag(req.tag());
  spec->set_application(req.application());
  spec->set_piece_length(req.piece_length());
  *spec->mutable_headers() = req.headers();
  if (req.has_object_storage()) {
    *spec->mutable_object_storage() = req.object_storage();
  }
  *spec->mutable_filtered_query_params() = req.filtered_query_params();
  if (!req.task_id().empty()) {
    // A blob named by its digest, as the registry mirror names it (the manager's preheat).
    if (req.digest() != "sha256:" + req.task_id() ||
        ContentDigestOf(req.task_id(), req.url()).empty()) {
      return InvalidArgument(
          "task_id is only accepted for the blob URL of that digest, with the matching sha256 "
          "digest");
    }
    spec->set_task_id(req.task_id());
  } else {
    DF_ASSIGN_OR_RETURN(std::string id, rpc::UrlTaskIdOf(*spec));
    spec->set_task_id(id);
  }
  return rpc::VerifyTaskSpec(*spec);  // piece length and headers
}

void FillInfo(const storage::TaskStat& s, dfd::TaskInfo* out) {
  out->set_task_id(s.task_id);
  out->set_url(s.url);
  out->set_content_length(s.content_length);
  out->set_piece_length(s.piece_length);
  out->set_finished_pieces(s.finished_pieces);
  out->set_total_pieces(s.total_pieces);
  out->set_done(s.done);
  out->set_content_path(s.data_path);
  out->set_created_at_ms(s.created_at_ms);
  out->set_accessed_at_ms(s.accessed_at_ms);
  out->set_in_use(s.users > 0);
}

}  // namespace

// The call (dfget's, a preheat job's, a seed trigger's) as a server span of the caller's trace;
// the download it starts or joins is its child.
grpc::Status TaskRpcs::Download(grpc::ServerContext* context, const dfd::DownloadRequest* request,
                                grpc::ServerWriter<dfd::DownloadResponse>* writer) const {
  tracing::Span span;
  if (ctx_->tracer != nullptr) {
    span = ctx_->tracer->StartSpan("dfdaemon.Download", tracing::SpanKind::kServer,
                                   tracing::Extract(*context));
    span.SetAttribute("http.url", backend::RedactUrl(request->url()));
  }
  tracing::ScopedContext scope(span.context());
  Outcome outcome;
  grpc::Status st = DownloadTraced(context, request, writer, &outcome);
  if (span.recording()) {
    span.SetAttribute("dragonfly.task_id", outcome.task_id);
    span.SetAttribute("dragonfly.content_length", outcome.content_length);
    span.SetAttribute("dragonfly.cache_hit", outcome.cache_hit);
    if (outcome.cache_hit) {
      span.SetAttribute("dragonfly.source", std::string("local_cache"));
    }
    span.SetAttribute("rpc.grpc.status_code", static_cast<int64_t>(st.error_code()));
    if (!st.ok()) {
      span.SetError(st.error_message());
    }
  }
  return st;
}

grpc::Status TaskRpcs::DownloadTraced(grpc::ServerContext* context,
                                      const dfd::DownloadRequest* request,
                                      grpc::ServerWriter<dfd::DownloadResponse>* writer,
                                      Outcome* outcome) const {
  sched::TaskSpec spec;
  if (Status s = ValidateAndBuildSpec(*request, &spec); !s.ok()) {
    return ToGrpc(s);
  }
  const std::string task_id = spec.task_id();
  outcome->task_id = task_id;
  const auto asked = Clock::now();
  const auto deadline = request->timeout_ms() == 0
                            ? Clock::time_point::max()
                            : Clock::now() + milliseconds(request->timeout_ms());
  dfd::DownloadResponse msg;

  DownloadOptions options;
  options.spec = spec;
  options.disable_back_to_source = request->disable_back_to_source();
  options.trace_parent = tracing::CurrentContext();  // the call's span
  std::string digest = request->digest();
  std::optional<sched::StatPersistentCacheTaskResponse> cache_task;
  if (IsPersistentCacheUrl(spec.url())) {
    auto held = ctx_->store->Stat(task_id);
    if (held.ok() && held->url != spec.url()) {
      return ToGrpc(PermissionDenied("task " + task_id +
                                     " is a URL's task here, not a "
                                     "persistent cache task"));
    }
    if (!held.ok() || !held->done) {
      // From its holders, checked against the digest taken at its import.
      auto known = ctx_->scheduler->StatPersistentCacheTask(task_id);
      if (!known.ok()) {
        return ToGrpc(known.status());
      }
      if (!known->known()) {
        return ToGrpc(NotFound("persistent cache task " + task_id +
                               " is not in the cluster (expired, deleted, or never imported)"));
      }
      cache_task = std::move(known).value();
      if (digest.empty()) {
        digest = cache_task->task().digest();
      }
    }
    options.disable_back_to_source = true;
  }
  auto opened = downloads_->Open(options);
  if (!opened.ok()) {
    return ToGrpc(opened.status());
  }
  DownloadHandle download = std::move(opened).value();
  storage::Task& task = download.task();
  auto* started = msg.mutable_started();
  started->set_task_id(task_id);
  if (download.session() != nullptr) {
    started->set_peer_id(download.session()->options().peer_id);
  }
  started->set_content_path(task.data_path());
  writer->Write(msg);

  // Progress as pieces land (the task's notifications wake us), until the download ends.
  uint64_t version = 0;
  uint64_t sent_ready = UINT64_MAX;
  while (true) {
    if (context->IsCancelled()) {
      return {grpc::StatusCode::CANCELLED, "client went away"};
    }
    const bool ended = download.ended() || task.done();
    uint64_t ready = task.ReadyBytes();
    if (ready != sent_ready || ended) {
      storage::TaskStat st = task.Stat();
      auto* p = msg.mutable_progress();
      p->set_content_length(st.content_length);
      p->set_ready_bytes(ready);
      p->set_finished_pieces(st.finished_pieces);
      p->set_total_pieces(st.total_pieces);
      if (download.session() != nullptr) {
        SourceBytes b = download.session()->bytes();
        p->set_bytes_back_to_source(b.back_to_source);
        p->set_bytes_remote_peer(b.remote_peer);
        p->set_bytes_seed_peer(b.seed_peer);
      } else {
        p->set_bytes_local(static_cast<uint64_t>(st.content_length));
      }
      if (!writer->Write(msg)) {
        return {grpc::StatusCode::CANCELLED, "client went away"};
      }
      sent_ready = ready;
    }
    if (download.ended()) {
      break;
    }
    Status s = download.Wait(&version, std::min(deadline, Clock::now() + milliseconds(1000)));
    if (!s.ok() && s.code() == StatusCode::kDeadlineExceeded && Clock::now() >= deadline) {
      return {grpc::StatusCode::DEADLINE_EXCEEDED,
              "download timed out after " + std::to_string(request->timeout_ms()) + " ms"};
    }
  }
  if (Status f = download.failure(); !f.ok()) {
    return ToGrpc(f);
  }
  const int64_t length = task.Stat().content_length;
  if (!digest.empty()) {
    if (Status s = downloads_->Verify(download, digest); !s.ok()) {
      return ToGrpc(s);
    }
  }
  if (cache_task && !task.Stat().persistence.persistent()) {
    // An exported copy: not a replica, but gone with the task at its expiry.
    const sched::PersistentCacheTask& t = cache_task->task();
    (void)task.SetPersistence(
        {t.expires_at_ms(), /*replicas=*/0, t.tag(), t.application(), t.digest()});
  }
  if (download.cached()) {
    ctx_->metrics->bytes_local_peer.Increment(static_cast<double>(length));
    ctx_->metrics->cache_hits.Increment();
    ctx_->metrics->ObserveDownload("local_cache", length,
                                   std::chrono::duration<double>(Clock::now() - asked).count());
    spdlog::info("local cache hit task_id={} bytes={}", task_id, length);
  }
  outcome->cache_hit = download.cached();
  outcome->content_length = length;
  auto* f = msg.mutable_finished();
  f->set_content_length(length);
  f->set_cache_hit(download.cached());
  if (download.session() != nullptr) {
    f->set_warning(download.session()->warning());
  }
  writer->Write(msg);
  return grpc::Status::OK;
}

grpc::Status TaskRpcs::ListEntries(const dfd::ListEntriesRequest* request,
                                   dfd::ListEntriesResponse* response) const {
  std::map<std::string, std::string> headers(request->headers().begin(), request->headers().end());
  size_t header_bytes = 0;
  for (const auto& [k, v] : headers) {
    header_bytes += k.size() + v.size();
  }
  if (request->url().size() > 8192 || headers.size() > 64 || header_bytes > 16384) {
    return ToGrpc(
        InvalidArgument("listing request too large: URL <= 8 KiB, <= 64 headers of "
                        "<= 16 KiB in all"));
  }
  backend::FetchRequest where;
  where.url = request->url();
  where.headers = std::move(headers);
  where.storage = StorageOf(request->has_object_storage() ? &request->object_storage() : nullptr);
  auto listed = ctx_->backend->List(where, kMaxEntries);
  if (!listed.ok()) {
    return ToGrpc(listed.status());
  }
  for (const auto& o : *listed) {
    auto* e = response->add_entries();
    e->set_url(o.url);
    e->set_path(o.path);
    e->set_content_length(o.size);
  }
  return grpc::Status::OK;
}

grpc::Status TaskRpcs::StatTask(const dfd::StatTaskRequest* request,
                                dfd::TaskInfo* response) const {
  auto st = ctx_->store->Stat(request->task_id());
  if (!st.ok()) {
    return ToGrpc(st.status());
  }
  FillInfo(*st, response);
  return grpc::Status::OK;
}

grpc::Status TaskRpcs::ListTasks(dfd::ListTasksResponse* response) const {
  for (const auto& st : ctx_->store->List()) {
    FillInfo(st, response->add_tasks());
  }
  return grpc::Status::OK;
}

grpc::Status TaskRpcs::DeleteTask(const dfd::DeleteTaskRequest* request) const {
  return ToGrpc(downloads_->Delete(request->task_id()));
}

grpc::Status UploadService::FromManager(const grpc::ServerContext& context,
                                        bool or_scheduler) const {
  if (or_scheduler) {
    return ToGrpc(
        rpc::RequireRole(context, secure_, {security::Role::kManager, security::Role::kScheduler})
            .status());
  }
  return ToGrpc(rpc::RequireRole(context, secure_, {security::Role::kManager}).status());
}

grpc::Status UploadService::ReplicateCache(grpc::ServerContext* context,
                                           const dfd::ReplicateCacheRequest* request,
                                           dfd::ReplicateCacheResponse*) {
  if (Status s = rpc::RequireRole(*context, secure_, {security::Role::kScheduler}).status();
      !s.ok()) {
    return ToGrpc(s);
  }
  return cache_->Replicate(*request);
}

grpc::Status UploadService::TriggerSeed(grpc::ServerContext* context,
                                        const dfd::TriggerSeedRequest* request,
                                        dfd::TriggerSeedResponse*) {
  if (Status s = rpc::RequireRole(*context, secure_, {security::Role::kScheduler}).status();
      !s.ok()) {
    return ToGrpc(s);
  }
  if (!ctx_->config->seed_peer.enable) {
    return {grpc::StatusCode::FAILED_PRECONDITION, "this dfdaemon is not a seed peer"};
  }
  const auto& spec = request->task();
  if (request->peer_id().empty()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "bad seed trigger: no peer id"};
  }
  // Whoever sent it, the seed fetches only what the task ID names.
  if (Status s = rpc::VerifyTaskSpec(spec); !s.ok()) {
    spdlog::warn("refused seed trigger task_id={} error=\"{}\"", spec.task_id(), s.ToString());
    return ToGrpc(s);
  }
  DownloadOptions options;
  options.spec = spec;
  options.peer_id = request->peer_id();
  options.seed = true;
  options.trace_parent = tracing::Extract(*context);  // the scheduler's decision
  auto session = downloads_->StartOrAttach(options);
  if (!session.ok()) {
    return ToGrpc(session.status());
  }
  spdlog::info("seed peer triggered task_id={} peer_id={}", spec.task_id(), request->peer_id());
  if ((*session)->options().peer_id != request->peer_id() && (*session)->options().seed) {
    // Already seeding under another ID: the scheduler asking is not the one the session
    // registered with (that one died), so tell this one about it.
    (void)(*session)->Register();
  }
  return grpc::Status::OK;
}

}  // namespace df::daemon
