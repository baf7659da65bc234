// The scheduler binary: flags, config, logging; everything else is in df_scheduler.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "dragonfly/cli/cli.h"
#include "dragonfly/common/logging.h"
#include "dragonfly/scheduler/config.h"
#include "dragonfly/scheduler/run.h"
#include "dragonfly/security/tls_settings.h"

int main(int argc, char** argv) {
  df::scheduler::BlockTerminationSignals();
  CLI::App app{"Dragonfly scheduler"};
  std::string config_path = df::scheduler::kDefaultConfigPath;
  std::string listen;
  std::string metrics_listen;
  std::string log_level;
  CLI::Option* config_opt = app.add_option("--config", config_path, "YAML config file");
  app.add_option("--listen", listen, "gRPC address ADDR:PORT (overrides server.listen)");
  app.add_option("--metrics-listen", metrics_listen,
                 "/metrics and /healthy address ADDR:PORT (overrides metrics.listen)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error");
  df::cli::Setup(
      app, "scheduler",
      "  scheduler                                   # /etc/dragonfly/scheduler.yaml if it exists\n"
      "  scheduler --config scheduler.yaml --listen 0.0.0.0:8002\n"
      "  scheduler config defaults > scheduler.yaml  # every key, with its default\n"
      "  scheduler config validate scheduler.yaml\n");
  df::cli::ConfigCommands config_commands(
      app, "scheduler", df::scheduler::DefaultConfigYaml(),
      [](const std::string& path) -> df::Status {
        auto c = df::scheduler::LoadSchedulerConfig(path);
        if (!c.ok()) {
          return c.status();
        }
        return df::security::CheckExposure(c->tls, {{"server.listen", c->listen}});  // as at start
      });
  if (auto code = df::cli::Parse(app, argc, argv)) {
    return *code;
  }
  if (auto code = config_commands.Run()) {
    return *code;
  }

  bool allow_missing = config_opt->count() == 0;
  auto config = df::scheduler::LoadSchedulerConfig(config_path, allow_missing);
  if (!config.ok()) {
    std::cerr << "scheduler: " << config.status().message() << "\n";
    return df::cli::kExitFailed;
  }
  if (!listen.empty()) {
    config->listen = listen;
  }
  if (!metrics_listen.empty()) {
    config->metrics_listen = metrics_listen;
  }
  if (!log_level.empty()) {
    config->log_level = log_level;
  }
  df::Status s = df::InitLogging("scheduler", {config->log_level, "", config->log_format});
  if (s.ok()) {
    s = df::scheduler::RunScheduler(*config);
  }
  if (!s.ok()) {
    std::cerr << "scheduler: " << s.message() << "\n";
    return df::cli::kExitFailed;
  }
  return 0;
}
