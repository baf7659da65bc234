#include "dragonfly/common/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace df {

Status InitLogging(const std::string& component, const std::string& level,
                   const std::string& file) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return InvalidArgument("bad log level '" + level +
                           "': want trace, debug, info, warn, error or off");
  }
  std::shared_ptr<spdlog::logger> logger;
  try {
    if (file.empty()) {
      logger = spdlog::stderr_logger_mt(component);
    } else {
      logger = spdlog::basic_logger_mt(component, file);
    }
  } catch (const spdlog::spdlog_ex& e) {
    return Internal(std::string("logging: ") + e.what());
  }
  // ISO time, level, component, then "message key=value ..." from the call site.
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %l %n %v", spdlog::pattern_time_type::utc);
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(1));
  return Status::Ok();
}

}  // namespace df
