#include "dragonfly/rpc/status.h"

#include <array>
#include <utility>

namespace df::rpc {
namespace {

constexpr std::array<std::pair<StatusCode, grpc::StatusCode>, 14> kCodes = {{
    {StatusCode::kOk, grpc::StatusCode::OK},
    {StatusCode::kCancelled, grpc::StatusCode::CANCELLED},
    {StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
    {StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
    {StatusCode::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
    {StatusCode::kPermissionDenied, grpc::StatusCode::PERMISSION_DENIED},
    {StatusCode::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED},
    {StatusCode::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED},
    {StatusCode::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION},
    {StatusCode::kAborted, grpc::StatusCode::ABORTED},
    {StatusCode::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
    {StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
    {StatusCode::kDataLoss, grpc::StatusCode::DATA_LOSS},
    {StatusCode::kInternal, grpc::StatusCode::INTERNAL},
}};

}  // namespace

grpc::Status ToGrpc(const Status& status) {
  if (status.ok()) {
    return grpc::Status::OK;
  }
  for (const auto& [ours, theirs] : kCodes) {
    if (ours == status.code()) {
      return {theirs, status.message()};
    }
  }
  return {grpc::StatusCode::UNKNOWN, status.message()};
}

Status FromServerAnswer(const grpc::Status& status) {
  Status s = FromGrpc(status);
  return s.code() == StatusCode::kUnavailable ? Status(StatusCode::kAborted, s.message()) : s;
}

Status FromGrpc(const grpc::Status& status, const std::string& context) {
  if (status.ok()) {
    return Status::Ok();
  }
  StatusCode code = StatusCode::kInternal;
  for (const auto& [ours, theirs] : kCodes) {
    if (theirs == status.error_code()) {
      code = ours;
    }
  }
  return {code, context.empty() ? status.error_message() : context + ": " + status.error_message()};
}

}  // namespace df::rpc
