// dfget's --storage-* as the daemon's request message carries them. Internal to df_dfget.
#pragma once

#include "api/scheduler.pb.h"
#include "dragonfly/dfget/dfget.h"

namespace df::dfget {

void SetStorage(const Options::Storage& s, ::dragonfly::api::scheduler::ObjectStorage* out);

}  // namespace df::dfget
