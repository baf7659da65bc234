// What every binary shares on its command line: --version, "Examples:" in --help, one table of
// exit codes, and `config validate FILE` / `config defaults` for the binaries that read a YAML
// config file (docs/deploy.md, "Operating the binaries").
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "dragonfly/common/status.h"

namespace df::cli {

// The exit codes of every binary.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailed = 1,       // what was asked failed: a download, a request, a start, a bad config
  kExitUsage = 2,        // bad flags or arguments (the message names them)
  kExitUnreachable = 3,  // the dfdaemon or the service asked could not be reached
};

// kExitUnreachable for an Unavailable status, kExitFailed for any other error, kExitOk for OK.
int ExitCodeOf(const Status& s);

// "dfget 0.9.0 (commit 1a2b3c4d5e6f, built 2026-12-07)".
std::string VersionLine(std::string_view binary);

// Adds --version (prints VersionLine, exits 0) and `examples` under "Examples:" in --help, and
// lets the app's options follow its subcommands (`dfctl health -e SOCK`). Call it after the
// subcommands are added.
void Setup(CLI::App& app, std::string_view binary, std::string_view examples);

// Parses argv. nullopt: go on; otherwise the code to exit with: 0 after --help or --version,
// kExitUsage after a parse error (whose message is printed, with a pointer to --help).
std::optional<int> Parse(CLI::App& app, int argc, char** argv);

// `config validate FILE` and `config defaults` for a binary that reads a YAML config file.
// `defaults` is the full default config with comments (what the packages install in
// /etc/dragonfly/); `validate` loads a file as the binary would at start.
class ConfigCommands {
 public:
  ConfigCommands(CLI::App& app, std::string binary, std::string_view defaults,
                 std::function<Status(const std::string& path)> validate);

  // After Parse: the exit code when `config ...` was given, nullopt otherwise.
  std::optional<int> Run() const;

 private:
  std::string binary_;
  std::string_view defaults_;
  std::function<Status(const std::string&)> validate_;
  CLI::App* validate_cmd_ = nullptr;
  CLI::App* defaults_cmd_ = nullptr;
  std::string file_;
};

}  // namespace df::cli
