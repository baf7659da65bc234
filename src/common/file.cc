#include "dragonfly/common/file.h"

#include <fstream>

namespace df {

StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return NotFound("cannot read " + path);
  }
  std::string out;
  char buf[8192];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    out.append(buf, static_cast<size_t>(in.gcount()));
    if (out.size() > max_bytes) {
      return InvalidArgument(path + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  return out;
}

bool SafeRelativePath(std::string_view path) {
  if (path.empty() || path.front() == '/' || path.size() > 4096 ||
      path.find_first_of(std::string_view("\0\\", 2)) != std::string_view::npos) {
    return false;
  }
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) {
      slash = path.size();
    }
    std::string_view seg = path.substr(pos, slash - pos);
    if (seg.empty() || seg == "." || seg == ".." || seg.size() > 255) {
      return false;
    }
    pos = slash + 1;
  }
  return true;
}

}  // namespace df
