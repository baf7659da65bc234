#include "daemon/local_service.h"

#include <spdlog/spdlog.h>

#include "daemon/metrics.h"
#include "dragonfly/common/digest.h"
#include "dragonfly/common/piece.h"
#include "dragonfly/common/task_id.h"
#include "dragonfly/rpc/status.h"

namespace df::daemon {

using rpc::ToGrpc;

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

Status ValidateAndBuildSpec(const dfd::DownloadRequest& req, sched::TaskSpec* spec) {
  if (req.url().empty()) {
    return InvalidArgument("missing URL");
  }
  auto scheme_end = req.url().find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : req.url().substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    return InvalidArgument("unsupported URL '" + req.url() +
                           "': only http and https are supported");
  }
  if (req.piece_length() != 0 &&
      (req.piece_length() < kMinPieceLength || req.piece_length() > kMaxPieceLength)) {
    return InvalidArgument("piece length must be between 4 MiB and 64 MiB");
  }
  if (!req.digest().empty()) {
    DF_RETURN_IF_ERROR(ParseDigest(req.digest()).status());
  }
  for (const auto& [k, v] : req.headers()) {
    if (k.empty() || k.find_first_of(":\r\n ") != std::string::npos ||
        v.find_first_of("\r\n") != std::string::npos) {
      return InvalidArgument("bad request header '" + k + "'");
    }
  }
  TaskIdInput in;
  in.url = req.url();
  in.tag = req.tag();
  in.application = req.application();
  if (req.piece_length() != 0) {
    in.piece_length = req.piece_length();
  }
  in.filtered_query_params.assign(req.filtered_query_params().begin(),
                                  req.filtered_query_params().end());
  std::string task_id = req.task_id();
  if (!task_id.empty()) {
    // A blob named by its digest, as the registry mirror names it (the manager's preheat).
    if (task_id.size() != 64 ||
        task_id.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return InvalidArgument("task_id must be 64 lowercase hex digits");
    }
    if (req.digest().size() != 71 || req.digest().compare(0, 7, "sha256:") != 0 ||
        req.digest().compare(7, 64, task_id) != 0) {
      return InvalidArgument("task_id is only accepted with the matching sha256 digest");
    }
  } else {
    DF_ASSIGN_OR_RETURN(task_id, MakeTaskId(in));
  }
  spec->set_task_id(task_id);
  spec->set_url(req.url());
  spec->set_tag(req.tag());
  spec->set_application(req.application());
  spec->set_piece_length(req.piece_length());
  *spec->mutable_headers() = req.headers();
  *spec->mutable_filtered_query_params() = req.filtered_query_params();
  return Status::Ok();
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

grpc::Status TaskRpcs::Download(grpc::ServerContext* context, const dfd::DownloadRequest* request,
                                grpc::ServerWriter<dfd::DownloadResponse>* writer) const {
  sched::TaskSpec spec;
  if (Status s = ValidateAndBuildSpec(*request, &spec); !s.ok()) {
    return ToGrpc(s);
  }
  const std::string task_id = spec.task_id();
  const auto deadline = request->timeout_ms() == 0
                            ? Clock::time_point::max()
                            : Clock::now() + milliseconds(request->timeout_ms());
  dfd::DownloadResponse msg;

  // A finished task is a local cache hit: no scheduler, origin or peer traffic.
  if (auto lease = ctx_->store->AcquireExisting(task_id); lease.ok() && (*lease)->done()) {
    storage::TaskStat st = (*lease)->Stat();
    auto* started = msg.mutable_started();
    started->set_task_id(task_id);
    started->set_content_path(st.data_path);
    writer->Write(msg);
    if (!request->digest().empty()) {
      if (Status s = VerifyFileDigest(st.data_path, request->digest()); !s.ok()) {
        return ToGrpc(s);
      }
    }
    auto* p = msg.mutable_progress();
    p->set_content_length(st.content_length);
    p->set_ready_bytes(static_cast<uint64_t>(st.content_length));
    p->set_finished_pieces(st.finished_pieces);
    p->set_total_pieces(st.total_pieces);
    p->set_bytes_local(static_cast<uint64_t>(st.content_length));
    writer->Write(msg);
    msg.mutable_finished()->set_content_length(st.content_length);
    msg.mutable_finished()->set_cache_hit(true);
    writer->Write(msg);
    ctx_->metrics->bytes_local_peer.Increment(static_cast<double>(st.content_length));
    ctx_->metrics->cache_hits.Increment();
    spdlog::info("local cache hit task_id={} bytes={}", task_id, st.content_length);
    return grpc::Status::OK;
  }

  DownloadOptions options;
  options.spec = spec;
  options.disable_back_to_source = request->disable_back_to_source();
  auto started_task = tasks_->StartOrAttach(options);
  if (!started_task.ok()) {
    return ToGrpc(started_task.status());
  }
  std::shared_ptr<PeerTask> task = std::move(started_task).value();
  auto* started = msg.mutable_started();
  started->set_task_id(task_id);
  started->set_peer_id(task->options().peer_id);
  started->set_content_path(task->task().data_path());
  writer->Write(msg);

  uint64_t version = 0;
  uint64_t sent_ready = UINT64_MAX;
  while (true) {
    if (context->IsCancelled()) {
      return {grpc::StatusCode::CANCELLED, "client went away"};
    }
    auto now = Clock::now();
    if (now >= deadline) {
      return {grpc::StatusCode::DEADLINE_EXCEEDED,
              "download timed out after " + std::to_string(request->timeout_ms()) + " ms"};
    }
    bool finished = task->finished();
    uint64_t ready = task->task().ReadyBytes();
    if (ready != sent_ready || finished) {
      storage::TaskStat st = task->task().Stat();
      SourceBytes b = task->bytes();
      auto* p = msg.mutable_progress();
      p->set_content_length(st.content_length);
      p->set_ready_bytes(ready);
      p->set_finished_pieces(st.finished_pieces);
      p->set_total_pieces(st.total_pieces);
      p->set_bytes_back_to_source(b.back_to_source);
      p->set_bytes_remote_peer(b.remote_peer);
      p->set_bytes_seed_peer(b.seed_peer);
      if (!writer->Write(msg)) {
        return {grpc::StatusCode::CANCELLED, "client went away"};
      }
      sent_ready = ready;
    }
    if (finished) {
      break;
    }
    auto wait = std::min<Clock::duration>(milliseconds(200), deadline - now);
    version = task->task().WaitForChange(version, std::chrono::duration_cast<milliseconds>(wait));
  }
  Status result = task->result();
  if (!result.ok()) {
    return ToGrpc(result);
  }
  if (!request->digest().empty()) {
    if (Status s = VerifyFileDigest(task->task().data_path(), request->digest()); !s.ok()) {
      // What we stored does not match what the user expects: drop it so a retry refetches.
      std::string path = task->task().data_path();
      task.reset();
      (void)ctx_->store->Discard(task_id);
      spdlog::warn("digest mismatch, task deleted task_id={} error=\"{}\"", task_id, s.ToString());
      return ToGrpc(s);
    }
  }
  auto* f = msg.mutable_finished();
  f->set_content_length(task->task().Stat().content_length);
  f->set_warning(task->warning());
  writer->Write(msg);
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
  return ToGrpc(ctx_->store->Delete(request->task_id()));
}

grpc::Status UploadService::TriggerSeed(grpc::ServerContext*,
                                        const dfd::TriggerSeedRequest* request,
                                        dfd::TriggerSeedResponse*) {
  if (!ctx_->config->seed_peer.enable) {
    return {grpc::StatusCode::FAILED_PRECONDITION, "this dfdaemon is not a seed peer"};
  }
  const auto& spec = request->task();
  TaskIdInput in;
  in.url = spec.url();
  if (spec.task_id().empty() || !MakeTaskId(in).ok() || request->peer_id().empty()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "bad seed trigger: task id, URL and peer id"};
  }
  DownloadOptions options;
  options.spec = spec;
  options.peer_id = request->peer_id();
  options.seed = true;
  auto task = tasks_->StartOrAttach(options);
  if (!task.ok()) {
    return ToGrpc(task.status());
  }
  spdlog::info("seed peer triggered task_id={} peer_id={}", spec.task_id(), request->peer_id());
  return grpc::Status::OK;
}

}  // namespace df::daemon
