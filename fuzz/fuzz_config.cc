// YAML configs of dfdaemon, scheduler and manager: any text gives a config or a clear error,
// never a crash or an exception.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>

#include "dragonfly/daemon/config.h"
#include "dragonfly/manager/config.h"
#include "dragonfly/scheduler/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  (void)df::daemon::ParseDaemonConfig(yaml);
  (void)df::manager::ParseManagerConfig(yaml);
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception&) {
    return 0;  // LoadSchedulerConfig reports these as a parse error
  }
  (void)df::scheduler::ParseSchedulerConfig(root);
  return 0;
}
