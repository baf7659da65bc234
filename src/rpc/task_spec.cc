#include "dragonfly/rpc/task_spec.h"

#include <string_view>

#include "dragonfly/common/ids.h"
#include "dragonfly/common/piece.h"
#include "dragonfly/common/task_id.h"

namespace df::rpc {
namespace {
constexpr size_t kMaxUrlBytes = 8192;
}  // namespace

Status VerifyTaskSpec(const ::dragonfly::api::scheduler::TaskSpec& spec) {
  if (spec.task_id().empty() || spec.url().empty()) {
    return InvalidArgument("task spec without a task id or URL");
  }
  size_t header_bytes = 0;
  for (const auto& [k, v] : spec.headers()) {
    header_bytes += k.size() + v.size();
  }
  if (spec.task_id().size() > 128 || spec.url().size() > kMaxUrlBytes || spec.tag().size() > 1024 ||
      spec.application().size() > 1024 || spec.headers_size() > 64 || header_bytes > 16384 ||
      spec.filtered_query_params_size() > 64) {
    return InvalidArgument(
        "task spec too large: URL <= 8 KiB, tag and application <= 1 KiB, <= 64 headers of "
        "<= 16 KiB in all, <= 64 filtered query parameters");
  }
  if (spec.piece_length() != 0 &&
      (spec.piece_length() < kMinPieceLength || spec.piece_length() > kMaxPieceLength)) {
    return InvalidArgument("task spec piece length " + std::to_string(spec.piece_length()) +
                           " is not in [4 MiB, 64 MiB]");
  }
  if (spec.has_object_storage()) {
    const auto& o = spec.object_storage();
    for (const std::string* f :
         {&o.access_key_id(), &o.access_key_secret(), &o.session_token(), &o.region()}) {
      if (f->size() > 4096 ||
          f->find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
        return InvalidArgument("task spec has bad object storage credentials");
      }
    }
    const std::string scheme = spec.url().substr(0, spec.url().find("://"));
    if (scheme != "s3" && scheme != "abs") {
      return InvalidArgument("object storage credentials are for s3:// and abs:// URLs");
    }
  }
  for (const auto& [k, v] : spec.headers()) {
    if (k.empty() || k.find_first_of(":\r\n ") != std::string::npos ||
        v.find_first_of("\r\n") != std::string::npos) {
      return InvalidArgument("task spec has a bad header '" + k + "'");
    }
  }
  if (!ContentDigestOf(spec.task_id(), spec.url()).empty()) {
    return Status::Ok();
  }
  if (IsPersistentCacheUrl(spec.url())) {
    // Named by its content at the import (or by its importer's --id); its holders check the
    // content against the digest taken then.
    DF_RETURN_IF_ERROR(TaskId::Parse(spec.task_id()).status());
    if (spec.url() != PersistentCacheUrl(spec.task_id())) {
      return PermissionDenied("task id " + spec.task_id() + " is not the ID " + spec.url() +
                              " names");
    }
    return Status::Ok();
  }
  DF_ASSIGN_OR_RETURN(std::string want, UrlTaskIdOf(spec));
  if (want != spec.task_id()) {
    return PermissionDenied("task id " + spec.task_id() + " is not the ID of " + spec.url() +
                            " with this tag, application, piece length and filters");
  }
  return Status::Ok();
}

StatusOr<std::string> UrlTaskIdOf(const ::dragonfly::api::scheduler::TaskSpec& spec) {
  TaskIdInput in;
  in.url = spec.url();
  in.tag = spec.tag();
  in.application = spec.application();
  if (spec.piece_length() != 0) {
    in.piece_length = spec.piece_length();
  }
  in.filtered_query_params.assign(spec.filtered_query_params().begin(),
                                  spec.filtered_query_params().end());
  return MakeTaskId(in);
}

}  // namespace df::rpc
