// Checks of a task spec received from another component (a peer registering with the scheduler,
// a scheduler triggering a seed): the spec must name the task its ID says.
#pragma once

#include "api/scheduler.pb.h"
#include "dragonfly/common/status.h"

namespace df::rpc {

// Ok when the spec's ID is the task its URL, tag, application, piece length and filters name
// (Dragonfly's rule), or the digest of the blob its URL names; its piece length, if any, is in
// [4 MiB, 64 MiB] and its headers are well-formed. InvalidArgument / PermissionDenied otherwise.
Status VerifyTaskSpec(const ::dragonfly::api::scheduler::TaskSpec& spec);

// The ID Dragonfly's URL rule gives the spec's URL, tag, application, piece length and filters.
StatusOr<std::string> UrlTaskIdOf(const ::dragonfly::api::scheduler::TaskSpec& spec);

}  // namespace df::rpc
