// URLs: the normal form (idempotent), task IDs and blob digests of any text.
#include <cstdint>
#include <string>

#include "dragonfly/common/task_id.h"
#include "dragonfly/common/url.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  if (auto u = df::ParseUrl(text); u.ok()) {
    auto again = df::ParseUrl(u->ToString());
    if (!again.ok() || again->ToString() != u->ToString()) {
      __builtin_trap();  // the normal form must be a fixed point
    }
  }
  df::TaskIdInput in;
  in.url = text;
  (void)df::MakeTaskId(in);
  (void)df::BlobDigest(text);
  (void)df::RemoveDotSegments("/" + text);
  return 0;
}
