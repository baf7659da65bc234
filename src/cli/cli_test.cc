#include "dragonfly/cli/cli.h"

#include <gtest/gtest.h>

#include <vector>

#include "dragonfly/common/version.h"

namespace df::cli {
namespace {

// Runs Parse on `args` (after the program name) with an app set up as every binary does.
struct Invocation {
  CLI::App app{"test"};
  std::string value;
  std::optional<int> code;

  explicit Invocation(std::vector<std::string> args) {
    Setup(app, "dftest", "  dftest --value x");
    app.add_option("--value", value)->required();
    std::vector<char*> argv{const_cast<char*>("dftest")};
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    code = Parse(app, static_cast<int>(argv.size()), argv.data());
  }
};

TEST(CliTest, VersionNamesTheBuild) {
  std::string line = VersionLine("dfget");
  EXPECT_EQ(line.rfind(std::string("dfget ") + kVersion + " (commit ", 0), 0u) << line;
  EXPECT_NE(line.find(std::string(", built ") + kBuildDate + ")"), std::string::npos) << line;
  EXPECT_EQ(std::string(kBuildDate).size(), 10u);  // YYYY-MM-DD
}

TEST(CliTest, ExitCodes) {
  testing::internal::CaptureStdout();
  EXPECT_EQ(Invocation({"--version"}).code, std::optional<int>(kExitOk));
  EXPECT_NE(testing::internal::GetCapturedStdout().find("dftest "), std::string::npos);
  testing::internal::CaptureStdout();
  EXPECT_EQ(Invocation({"--help"}).code, std::optional<int>(kExitOk));
  EXPECT_NE(testing::internal::GetCapturedStdout().find("Examples:\n  dftest --value x"),
            std::string::npos);
  testing::internal::CaptureStderr();
  EXPECT_EQ(Invocation({"--no-such-flag"}).code, std::optional<int>(kExitUsage));
  EXPECT_EQ(Invocation({}).code, std::optional<int>(kExitUsage));  // --value is required
  testing::internal::GetCapturedStderr();
  Invocation ok({"--value", "x"});
  EXPECT_EQ(ok.code, std::nullopt);
  EXPECT_EQ(ok.value, "x");

  EXPECT_EQ(ExitCodeOf(Status::Ok()), kExitOk);
  EXPECT_EQ(ExitCodeOf(Unavailable("dfdaemon is not running")), kExitUnreachable);
  EXPECT_EQ(ExitCodeOf(NotFound("no such task")), kExitFailed);
}

TEST(CliTest, ConfigCommands) {
  auto run = [](std::vector<std::string> args) {
    CLI::App app{"test"};
    std::string seen;
    ConfigCommands config(app, "dftest", "# defaults\nkey: 1\n", [&](const std::string& path) {
      seen = path;
      return path == "good.yaml" ? Status::Ok() : InvalidArgument("bad key 'kye'");
    });
    std::vector<char*> argv{const_cast<char*>("dftest")};
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    std::optional<int> code = Parse(app, static_cast<int>(argv.size()), argv.data());
    return std::make_pair(code ? code : config.Run(), seen);
  };
  testing::internal::CaptureStdout();
  EXPECT_EQ(run({"config", "defaults"}).first, std::optional<int>(kExitOk));
  EXPECT_EQ(testing::internal::GetCapturedStdout(), "# defaults\nkey: 1\n");
  testing::internal::CaptureStdout();
  EXPECT_EQ(run({"config", "validate", "good.yaml"}),
            std::make_pair(std::optional<int>(0), std::string("good.yaml")));
  EXPECT_EQ(testing::internal::GetCapturedStdout(), "good.yaml: valid\n");
  testing::internal::CaptureStderr();
  EXPECT_EQ(run({"config", "validate", "bad.yaml"}).first, std::optional<int>(kExitFailed));
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "dftest: bad.yaml: bad key 'kye'\n");
  testing::internal::CaptureStderr();
  EXPECT_EQ(run({"config", "validate"}).first, std::optional<int>(kExitUsage));
  EXPECT_EQ(run({"config"}).first, std::optional<int>(kExitUsage));
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(run({}).first, std::nullopt);  // no `config`: the binary goes on
}

}  // namespace
}  // namespace df::cli
