// The manager binary: flags, config, logging; everything else is in df_manager.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>

#include "dragonfly/cli/cli.h"
#include "dragonfly/common/logging.h"
#include "dragonfly/common/service_notify.h"
#include "dragonfly/manager/config.h"
#include "dragonfly/security/tls_settings.h"
#include "manager/manager.h"

int main(int argc, char** argv) {
  // A client closing early must cost its write an EPIPE, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  CLI::App app{"Dragonfly manager"};
  std::string config_path = df::manager::kDefaultConfigPath;
  std::string log_level;
  CLI::Option* config_opt = app.add_option("--config", config_path, "YAML config file");
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error");
  df::cli::Setup(
      app, "manager",
      "  manager                                 # /etc/dragonfly/manager.yaml if it exists\n"
      "  manager --config manager.yaml --log-level debug\n"
      "  manager config defaults > manager.yaml  # every key, with its default\n"
      "  manager config validate manager.yaml\n");
  df::cli::ConfigCommands config_commands(
      app, "manager", df::manager::DefaultConfigYaml(), [](const std::string& path) -> df::Status {
        auto c = df::manager::LoadManagerConfig(path, false);
        if (!c.ok()) {
          return c.status();
        }
        return df::security::CheckExposure(c->tls,  // as at start
                                           {{"server.grpc.addr", c->server.grpc_listen}});
      });
  if (auto code = df::cli::Parse(app, argc, argv)) {
    return *code;
  }
  if (auto code = config_commands.Run()) {
    return *code;
  }

  auto config = df::manager::LoadManagerConfig(config_path, config_opt->count() == 0);
  if (!config.ok()) {
    std::cerr << "manager: " << config.status().message() << "\n";
    return df::cli::kExitFailed;
  }
  if (!log_level.empty()) {
    config->log_level = log_level;
  }
  df::Status s = df::InitLogging("manager", {config->log_level, "", config->log_format});
  if (!s.ok()) {
    std::cerr << "manager: " << s.message() << "\n";
    return df::cli::kExitFailed;
  }
  auto manager = df::manager::StartManager(*config);
  if (!manager.ok()) {
    std::cerr << "manager: " << manager.status().message() << "\n";
    return df::cli::kExitFailed;
  }
  std::printf("manager started rest_port=%u grpc_port=%u\n", (*manager)->rest_port(),
              (*manager)->grpc_port());
  std::fflush(stdout);
  df::NotifyReady("serving REST on port " + std::to_string((*manager)->rest_port()) +
                  ", gRPC on port " + std::to_string((*manager)->grpc_port()));
  int sig = 0;
  sigwait(&set, &sig);
  df::NotifyStopping();
  (*manager)->Stop();
  return 0;
}
