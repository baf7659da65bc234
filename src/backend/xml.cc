#include "backend/xml.h"

#include <utility>

namespace df::backend {

std::vector<std::string_view> XmlElements(std::string_view body, std::string_view tag) {
  std::vector<std::string_view> out;
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  size_t pos = 0;
  while ((pos = body.find(open, pos)) != std::string_view::npos) {
    pos += open.size();
    size_t end = body.find(close, pos);
    if (end == std::string_view::npos) {
      break;
    }
    out.push_back(body.substr(pos, end - pos));
    pos = end + close.size();
  }
  return out;
}

std::string XmlText(std::string_view body, std::string_view tag) {
  auto all = XmlElements(body, tag);
  std::string out;
  if (all.empty()) {
    return out;
  }
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string_view s = all.front();
  for (size_t i = 0; i < s.size(); ++i) {
    bool decoded = false;
    if (s[i] == '&') {
      for (const auto& [entity, c] : kEntities) {
        if (s.substr(i, entity.size()) == entity) {
          out += c;
          i += entity.size() - 1;
          decoded = true;
          break;
        }
      }
    }
    if (!decoded) {
      out += s[i];
    }
  }
  return out;
}

}  // namespace df::backend
