// Structured logging on spdlog: one line per event. Call sites write "message key=value ..."
// (values with spaces quoted); the configured format renders it as text
//   2026-12-07T08:00:00.123456Z info dfdaemon download finished task_id=… ms=12 trace_id=…
//   span_id=…
// or as one JSON object per line
//   {"time":"…","level":"info","component":"dfdaemon","msg":"download finished","task_id":"…",
//    "ms":"12","trace_id":"…","span_id":"…"}
// A line written while a traced request is being served names its trace and span. Every line
// passes RedactSecrets first: a credential that reached a message is not written.
#pragma once

#include <string>
#include <string_view>

#include "dragonfly/common/status.h"

namespace df {

struct LogOptions {
  std::string level = "info";   // trace, debug, info, warn, error, off
  std::string file;             // empty: stderr
  std::string format = "text";  // text or json
};

Status InitLogging(const std::string& component, const LogOptions& options);
// Checks a format name ("text" or "json") for config validation.
Status ValidateLogFormat(const std::string& format);

// Where log lines learn the current trace: set by the tracing library (its thread-local current
// span). Returns false when the thread serves no trace.
using LogContextProvider = bool (*)(std::string* trace_id, std::string* span_id);
void SetLogContextProvider(LogContextProvider provider);

// The line for `payload` (a call site's "message key=value ..."), as InitLogging's formats write
// it, without the trailing newline. `time` is ISO 8601 UTC.
std::string FormatLogLine(bool json, std::string_view time, std::string_view level,
                          std::string_view component, std::string_view payload);

// `text` with credentials replaced by "***": values of credential query parameters (signatures,
// tokens, keys: see IsSecretParamName) after '?' or '&', the user-info of URLs
// ("scheme://user:pass@"), and the token after "Bearer " or "Basic ".
std::string RedactSecrets(std::string_view text);
// Whether a query parameter's value is a credential (S3, GCS, OSS, OBS and COS presigned URLs,
// Azure SAS, access tokens).
bool IsSecretParamName(std::string_view key);

}  // namespace df
