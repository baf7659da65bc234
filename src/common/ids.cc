#include "dragonfly/common/ids.h"

namespace df::id_rules {

Status CheckTaskId(std::string_view s) {
  if (s.empty() || s.size() > 128 || s.find_first_not_of("0123456789abcdef") != s.npos) {
    return InvalidArgument("task ID \"" + std::string(s.substr(0, 140)) +
                           "\" is not 1 to 128 lowercase hex digits");
  }
  return Status::Ok();
}

Status CheckName(std::string_view what, std::string_view s) {
  if (s.empty() || s.size() > 256) {
    return InvalidArgument(std::string(what) + " must be 1 to 256 bytes long");
  }
  for (char c : s) {
    if (c <= ' ' || c > '~') {
      return InvalidArgument(std::string(what) + " \"" + std::string(s.substr(0, 64)) +
                             "\" has a character other than printable ASCII");
    }
  }
  return Status::Ok();
}

}  // namespace df::id_rules
