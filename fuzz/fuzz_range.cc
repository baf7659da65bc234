// The proxy's Range header parser against any header and body length.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "daemon/proxy/range.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) {
    return 0;
  }
  uint64_t total = 0;
  std::memcpy(&total, data, 8);
  total %= uint64_t{1} << 50;
  std::string_view header(reinterpret_cast<const char*>(data + 8), size - 8);
  auto r = df::daemon::proxy::ParseRange(header, total);
  if (r.ok() && r->has_value() && ((*r)->start >= (*r)->end || (*r)->end > total)) {
    __builtin_trap();  // a range the proxy would serve must lie inside the body
  }
  return 0;
}
