#include "dragonfly/cli/cli.h"

#include <iostream>

#include "dragonfly/common/version.h"

namespace df::cli {

int ExitCodeOf(const Status& s) {
  if (s.ok()) {
    return kExitOk;
  }
  return s.code() == StatusCode::kUnavailable ? kExitUnreachable : kExitFailed;
}

std::string VersionLine(std::string_view binary) {
  return std::string(binary) + " " + kVersion + " (commit " + kGitCommit + ", built " + kBuildDate +
         ")";
}

namespace {

// A parent's options after a subcommand (`dfctl health -e SOCK`) are the parent's.
void FallThrough(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    sub->fallthrough();
    FallThrough(*sub);
  }
}

}  // namespace

void Setup(CLI::App& app, std::string_view binary, std::string_view examples) {
  FallThrough(app);
  app.set_version_flag("--version", VersionLine(binary),
                       "Print the version, git commit and build date");
  if (!examples.empty()) {
    app.footer("\nExamples:\n" + std::string(examples));
  }
}

std::optional<int> Parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Prints the help, the version, or the error with "Run with --help for more information.".
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  return std::nullopt;
}

ConfigCommands::ConfigCommands(CLI::App& app, std::string binary, std::string_view defaults,
                               std::function<Status(const std::string&)> validate)
    : binary_(std::move(binary)), defaults_(defaults), validate_(std::move(validate)) {
  CLI::App* config = app.add_subcommand("config", "Check a config file, or print the defaults");
  config->require_subcommand(1);
  validate_cmd_ = config->add_subcommand(
      "validate",
      "Load FILE as a start would (unknown keys, bad values, unreadable certificate "
      "files); exit 0 when it is valid");
  validate_cmd_->add_option("file", file_, "The YAML config file")->required();
  defaults_cmd_ = config->add_subcommand(
      "defaults", "Print the full default config, every key with its default and a comment");
}

std::optional<int> ConfigCommands::Run() const {
  if (defaults_cmd_->parsed()) {
    std::cout << defaults_;
    return kExitOk;
  }
  if (!validate_cmd_->parsed()) {
    return std::nullopt;
  }
  if (Status s = validate_(file_); !s.ok()) {
    // (The loaders name the file in most of their messages.)
    const bool named = s.message().find(file_) != std::string::npos;
    std::cerr << binary_ << ": " << (named ? "" : file_ + ": ") << s.message() << "\n";
    return kExitFailed;
  }
  std::cout << file_ << ": valid\n";
  return kExitOk;
}

}  // namespace df::cli
