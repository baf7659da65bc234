#include "dragonfly/common/logging.h"

#include <fmt/chrono.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cctype>
#include <ctime>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

namespace df {
namespace {

std::atomic<LogContextProvider> g_context{nullptr};

bool KeyChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

// Splits "message k=v k2=\"v 2\"" into the message and its fields; false when the tail is not
// all key=value tokens (then the payload is the message as a whole).
bool SplitFields(std::string_view payload, std::string* msg,
                 std::vector<std::pair<std::string, std::string>>* fields) {
  size_t i = 0;
  size_t msg_end = std::string_view::npos;
  while (i < payload.size()) {
    size_t start = i;
    size_t k = i;
    while (k < payload.size() && KeyChar(payload[k])) {
      ++k;
    }
    if (k > start && k < payload.size() && payload[k] == '=') {
      if (msg_end == std::string_view::npos) {
        msg_end = start;
      }
      std::string key(payload.substr(start, k - start));
      std::string value;
      size_t v = k + 1;
      if (v < payload.size() && payload[v] == '"') {
        ++v;
        while (v < payload.size() && payload[v] != '"') {
          if (payload[v] == '\\' && v + 1 < payload.size()) {
            ++v;
          }
          value += payload[v++];
        }
        if (v >= payload.size()) {
          return false;  // unterminated quote
        }
        ++v;
      } else {
        while (v < payload.size() && payload[v] != ' ') {
          value += payload[v++];
        }
      }
      fields->emplace_back(std::move(key), std::move(value));
      i = v;
    } else {
      if (msg_end != std::string_view::npos) {
        return false;  // words after the fields began
      }
      while (i < payload.size() && payload[i] != ' ') {
        ++i;
      }
    }
    while (i < payload.size() && payload[i] == ' ') {
      ++i;
    }
  }
  std::string_view m = payload.substr(0, std::min(msg_end, payload.size()));
  while (!m.empty() && m.back() == ' ') {
    m.remove_suffix(1);
  }
  *msg = std::string(m);
  return true;
}

class LineFormatter : public spdlog::formatter {
 public:
  LineFormatter(std::string component, bool json) : component_(std::move(component)), json_(json) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto t = msg.time;
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() %
        1000000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    const std::string time = fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06d}Z", tm, micros);
    const auto level = spdlog::level::to_string_view(msg.level);
    std::string line =
        FormatLogLine(json_, time, std::string_view(level.data(), level.size()), component_,
                      std::string_view(msg.payload.data(), msg.payload.size()));
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(component_, json_);
  }

 private:
  std::string component_;
  bool json_;
};

}  // namespace

Status ValidateLogFormat(const std::string& format) {
  if (format != "text" && format != "json") {
    return InvalidArgument("bad log format '" + format + "': want text or json");
  }
  return Status::Ok();
}

void SetLogContextProvider(LogContextProvider provider) { g_context = provider; }

std::string FormatLogLine(bool json, std::string_view time, std::string_view level,
                          std::string_view component, std::string_view payload) {
  const std::string text = RedactSecrets(payload);
  std::string trace_id;
  std::string span_id;
  const LogContextProvider context = g_context.load();
  const bool traced = context != nullptr && context(&trace_id, &span_id);
  if (!json) {
    std::string line = fmt::format("{} {} {} {}", time, level, component, text);
    if (traced) {
      line += " trace_id=" + trace_id + " span_id=" + span_id;
    }
    return line;
  }
  nlohmann::ordered_json j;
  j["time"] = time;
  j["level"] = level;
  j["component"] = component;
  std::string msg;
  std::vector<std::pair<std::string, std::string>> fields;
  if (SplitFields(text, &msg, &fields)) {
    j["msg"] = msg;
    for (auto& [k, v] : fields) {
      if (k != "time" && k != "level" && k != "component" && k != "msg") {
        j[k] = std::move(v);
      }
    }
  } else {
    j["msg"] = text;
  }
  if (traced) {
    j["trace_id"] = trace_id;
    j["span_id"] = span_id;
  }
  // Invalid UTF-8 from a peer's error message is replaced, never a reason to lose the line.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

bool IsSecretParamName(std::string_view key) {
  std::string k;
  for (char c : key) {
    k += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  for (std::string_view word : {"signature", "credential", "token", "secret", "password",
                                "accesskey", "access_key", "keyid", "auth"}) {
    if (k.find(word) != std::string::npos) {
      return true;
    }
  }
  return k == "sig";  // Azure SAS
}

std::string RedactSecrets(std::string_view text) {
  auto lower_at = [&](size_t i, std::string_view word) {
    if (i + word.size() > text.size()) {
      return false;
    }
    for (size_t j = 0; j < word.size(); ++j) {
      if (std::tolower(static_cast<unsigned char>(text[i + j])) != word[j]) {
        return false;
      }
    }
    return true;
  };
  auto value_end = [&](size_t i, std::string_view stops) {
    while (i < text.size() && stops.find(text[i]) == std::string_view::npos &&
           !std::isspace(static_cast<unsigned char>(text[i]))) {
      ++i;
    }
    return i;
  };
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '?' || c == '&') {  // a query parameter: key=value
      size_t k = i + 1;
      while (k < text.size() && KeyChar(text[k])) {
        ++k;
      }
      if (k > i + 1 && k < text.size() && text[k] == '=' &&
          IsSecretParamName(text.substr(i + 1, k - i - 1))) {
        out.append(text.substr(i, k + 1 - i));
        out += "***";
        i = value_end(k + 1, "&#\"'");
        continue;
      }
    } else if (c == ':' && text.substr(i, 3) == "://") {  // user-info of a URL
      size_t a = i + 3;
      size_t end = value_end(a, "/?#\"'");
      size_t at = text.substr(a, end - a).rfind('@');
      if (at != std::string_view::npos) {
        out += "://***@";
        i = a + at + 1;
        continue;
      }
    } else if ((lower_at(i, "bearer ") || lower_at(i, "basic ")) &&
               (i == 0 || !std::isalnum(static_cast<unsigned char>(text[i - 1])))) {
      size_t sp = text.find(' ', i);
      out.append(text.substr(i, sp + 1 - i));
      out += "***";
      i = value_end(sp + 1, "\"'");
      continue;
    }
    out += c;
    ++i;
  }
  return out;
}

Status InitLogging(const std::string& component, const LogOptions& options) {
  auto lvl = spdlog::level::from_str(options.level);
  if (lvl == spdlog::level::off && options.level != "off") {
    return InvalidArgument("bad log level '" + options.level +
                           "': want trace, debug, info, warn, error or off");
  }
  DF_RETURN_IF_ERROR(ValidateLogFormat(options.format));
  std::shared_ptr<spdlog::logger> logger;
  try {
    if (options.file.empty()) {
      logger = spdlog::stderr_logger_mt(component);
    } else {
      logger = spdlog::basic_logger_mt(component, options.file);
    }
  } catch (const spdlog::spdlog_ex& e) {
    return Internal(std::string("logging: ") + e.what());
  }
  logger->set_formatter(std::make_unique<LineFormatter>(component, options.format == "json"));
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(1));
  return Status::Ok();
}

}  // namespace df
