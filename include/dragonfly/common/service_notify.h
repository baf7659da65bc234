// Tells systemd (a `Type=notify` unit) where the service is: ready once it serves, stopping when
// it shuts down. No-ops when not started by systemd (no $NOTIFY_SOCKET).
#pragma once

#include <string_view>

namespace df {

// "READY=1" with a one-line status for `systemctl status` (e.g. "serving on 0.0.0.0:8002").
void NotifyReady(std::string_view status);
// "STOPPING=1".
void NotifyStopping();

}  // namespace df
