#include "dragonfly/common/logging.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace df {
namespace {

bool FakeContext(std::string* trace_id, std::string* span_id) {
  *trace_id = "0af7651916cd43dd8448eb211c80319c";
  *span_id = "b7ad6b7169203331";
  return true;
}

TEST(LoggingTest, TextLinesKeepTheCallSitesForm) {
  EXPECT_EQ(FormatLogLine(false, "2026-12-07T08:00:00.000001Z", "info", "dfdaemon",
                          "download finished task_id=abc ms=12"),
            "2026-12-07T08:00:00.000001Z info dfdaemon download finished task_id=abc ms=12");
}

TEST(LoggingTest, JsonLinesSplitTheMessageFromItsFields) {
  auto j = nlohmann::json::parse(
      FormatLogLine(true, "T", "warn", "scheduler",
                    R"(download failed task_id=abc error="piece 3: \"corrupt\" from peer" ms=12)"));
  EXPECT_EQ(j["time"], "T");
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["component"], "scheduler");
  EXPECT_EQ(j["msg"], "download failed");
  EXPECT_EQ(j["task_id"], "abc");
  EXPECT_EQ(j["error"], "piece 3: \"corrupt\" from peer");
  EXPECT_EQ(j["ms"], "12");
  EXPECT_FALSE(j.contains("trace_id"));
  // A message that is not "words key=value ..." stays whole; nothing is lost.
  auto k = nlohmann::json::parse(FormatLogLine(true, "T", "info", "c", "a=1 then words"));
  EXPECT_EQ(k["msg"], "a=1 then words");
  auto u = nlohmann::json::parse(FormatLogLine(true, "T", "info", "c", "bad \xff utf8 k=\xfe"));
  EXPECT_EQ(u["msg"], "bad \xef\xbf\xbd utf8");
  // A field cannot overwrite the line's own keys.
  auto o = nlohmann::json::parse(FormatLogLine(true, "T", "info", "c", "m level=forged"));
  EXPECT_EQ(o["level"], "info");
}

TEST(LoggingTest, LinesInsideATraceNameItsTraceAndSpan) {
  SetLogContextProvider(&FakeContext);
  const std::string text = FormatLogLine(false, "T", "info", "dfdaemon", "proxy request k=v");
  auto j = nlohmann::json::parse(FormatLogLine(true, "T", "info", "dfdaemon", "proxy request"));
  SetLogContextProvider(nullptr);
  EXPECT_EQ(text,
            "T info dfdaemon proxy request k=v trace_id=0af7651916cd43dd8448eb211c80319c "
            "span_id=b7ad6b7169203331");
  EXPECT_EQ(j["trace_id"], "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(j["span_id"], "b7ad6b7169203331");
}

TEST(LoggingTest, CredentialsNeverReachALine) {
  const std::string line = FormatLogLine(
      false, "T", "warn", "dfdaemon",
      "fetch failed url=\"https://s3.example/b/k?X-Amz-Credential=AKIAEXAMPLE%2F20261207&"
      "X-Amz-Signature=deadbeef&part=1\" sas=\"https://a.blob/c/b?sv=2024&sig=c2lnbmF0dXJl\" "
      "origin=http://alice:hunter2@registry.local/v2/ header=\"Authorization: Bearer eyJhbGc.x.y\" "
      "basic=\"Basic YWxpY2U6aHVudGVyMg==\"");
  for (const char* secret : {"AKIAEXAMPLE", "deadbeef", "c2lnbmF0dXJl", "hunter2",
                             "alice:", "eyJhbGc", "YWxpY2U6aHVudGVyMg"}) {
    EXPECT_EQ(line.find(secret), std::string::npos) << secret << " in " << line;
  }
  for (const char* kept : {"X-Amz-Signature=***", "&part=1", "sv=2024", "sig=***",
                           "http://***@registry.local/v2/", "Bearer ***", "Basic ***"}) {
    EXPECT_NE(line.find(kept), std::string::npos) << kept << " not in " << line;
  }
  // Ordinary text is left alone.
  EXPECT_EQ(RedactSecrets("piece 3 from 10.0.0.1:4000 ms=12 url=http://h/p?a=1&b=2"),
            "piece 3 from 10.0.0.1:4000 ms=12 url=http://h/p?a=1&b=2");
}

TEST(LoggingTest, InitLoggingWritesJsonLinesToTheFile) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("df-logging-test-" + std::to_string(::getpid()) + ".log");
  ASSERT_TRUE(InitLogging("logging-test", {"info", path.string(), "json"}).ok());
  spdlog::info("task stored task_id={} token=\"Bearer abc\"", "t1");
  spdlog::debug("not at info");
  spdlog::default_logger()->flush();
  spdlog::set_default_logger(nullptr);
  spdlog::drop("logging-test");
  std::ifstream in(path);
  std::string first;
  ASSERT_TRUE(std::getline(in, first));
  std::string rest;
  EXPECT_FALSE(std::getline(in, rest)) << rest;
  std::filesystem::remove(path);
  auto j = nlohmann::json::parse(first);
  EXPECT_EQ(j["msg"], "task stored");
  EXPECT_EQ(j["task_id"], "t1");
  EXPECT_EQ(j["token"], "Bearer ***");
  EXPECT_EQ(j["component"], "logging-test");
  EXPECT_EQ(std::string(j["time"]).size(), std::string("2026-12-07T08:00:00.000000Z").size());
  EXPECT_FALSE(InitLogging("logging-test-2", {"info", "", "yaml"}).ok());
}

}  // namespace
}  // namespace df
