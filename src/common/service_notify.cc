#include "dragonfly/common/service_notify.h"

#include <systemd/sd-daemon.h>

#include <string>

namespace df {

void NotifyReady(std::string_view status) {
  std::string text = "READY=1\nSTATUS=" + std::string(status);
  (void)sd_notify(0, text.c_str());
}

void NotifyStopping() { (void)sd_notify(0, "STOPPING=1"); }

}  // namespace df
