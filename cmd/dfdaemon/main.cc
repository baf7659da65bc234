// dfdaemon: the per-host peer (and, with seedPeer.enable, the seed peer).
#include <CLI/CLI.hpp>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <thread>

#include "dragonfly/cli/cli.h"
#include "dragonfly/common/logging.h"
#include "dragonfly/common/service_notify.h"
#include "dragonfly/daemon/daemon.h"
#include "dragonfly/security/tls_settings.h"

int main(int argc, char** argv) {
  // Before any thread exists, so that every thread inherits the mask and only the signal
  // thread below receives SIGINT/SIGTERM.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"dfdaemon: Dragonfly P2P daemon"};
  std::string config_path = "/etc/dragonfly/dfdaemon.yaml";
  std::string log_level;
  auto* config_opt = app.add_option("-c,--config", config_path, "YAML config file");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  df::cli::Setup(
      app, "dfdaemon",
      "  dfdaemon                                  # /etc/dragonfly/dfdaemon.yaml if it exists\n"
      "  dfdaemon -c /etc/dragonfly/seed-peer.yaml --log-level debug\n"
      "  dfdaemon config defaults > dfdaemon.yaml  # every key, with its default\n"
      "  dfdaemon config validate dfdaemon.yaml\n");
  df::cli::ConfigCommands config_commands(
      app, "dfdaemon", df::daemon::DefaultConfigYaml(), [](const std::string& path) -> df::Status {
        auto c = df::daemon::LoadDaemonConfig(path);
        if (!c.ok()) {
          return c.status();
        }
        // As the start checks: no plaintext port off loopback unless `security.insecure`.
        return df::security::CheckExposure(c->tls, {{"upload.listen", c->upload.listen},
                                                    {"upload.rpcListen", c->upload.rpc_listen}});
      });
  if (auto code = df::cli::Parse(app, argc, argv)) {
    return *code;
  }
  if (auto code = config_commands.Run()) {
    return *code;
  }

  df::StatusOr<df::daemon::DaemonConfig> config = df::daemon::DaemonConfig{};
  if (config_opt->count() > 0 || std::filesystem::exists(config_path)) {
    config = df::daemon::LoadDaemonConfig(config_path);
  } else {
    config = df::daemon::ParseDaemonConfig("");
  }
  if (!config.ok()) {
    std::cerr << "dfdaemon: " << config.status().message() << std::endl;
    return df::cli::kExitFailed;
  }
  if (!log_level.empty()) {
    config->log.level = log_level;
  }
  if (auto s =
          df::InitLogging("dfdaemon", {config->log.level, config->log.file, config->log.format});
      !s.ok()) {
    std::cerr << "dfdaemon: " << s.message() << std::endl;
    return df::cli::kExitFailed;
  }

  auto daemon = df::daemon::StartDaemon(*config);
  if (!daemon.ok()) {
    std::cerr << "dfdaemon: " << daemon.status().message() << std::endl;
    return df::cli::kExitFailed;
  }
  df::NotifyReady("serving on " + config->server.socket_path);
  std::thread([&signals, d = daemon->get()] {
    int sig = 0;
    sigwait(&signals, &sig);
    df::NotifyStopping();
    d->Shutdown();
  }).detach();
  (*daemon)->Wait();
  daemon->reset();
  return 0;
}
