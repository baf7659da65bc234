#include "dragonfly/common/config.h"

#include <algorithm>
#include <cctype>
#include <fstream>

namespace df::config {
namespace {

std::string Join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

StatusOr<std::string> Scalar(const YAML::Node& map, const std::string& prefix, const char* key) {
  const YAML::Node n = map[key];
  if (!n.IsScalar()) {
    return InvalidArgument("config key '" + Join(prefix, key) + "' must be a scalar value");
  }
  return n.Scalar();
}

}  // namespace

StatusOr<YAML::Node> LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return NotFound("config file " + path + " cannot be read");
  }
  try {
    return YAML::Load(in);
  } catch (const YAML::Exception& e) {
    return InvalidArgument("config file " + path + ": " + e.what());
  }
}

Status CheckKeys(const YAML::Node& node, const std::string& prefix,
                 std::initializer_list<const char*> allowed) {
  if (!node || node.IsNull()) {
    return Status::Ok();
  }
  if (!node.IsMap()) {
    return InvalidArgument("config key '" + (prefix.empty() ? std::string("<root>") : prefix) +
                           "' must be a mapping");
  }
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {  // YAML allows a mapping or a list as a key ("? [a]: 1")
      return InvalidArgument("config keys under '" +
                             (prefix.empty() ? std::string("<root>") : prefix) +
                             "' must be plain names");
    }
    std::string key = kv.first.Scalar();
    bool known = false;
    for (const char* a : allowed) {
      known = known || key == a;
    }
    if (!known) {
      return InvalidArgument("unknown config key '" + Join(prefix, key) + "'");
    }
  }
  return Status::Ok();
}

Status Read(const YAML::Node& map, const std::string& prefix, const char* key, std::string* out) {
  if (!map || !map[key]) {
    return Status::Ok();
  }
  DF_ASSIGN_OR_RETURN(*out, Scalar(map, prefix, key));
  return Status::Ok();
}

Status Read(const YAML::Node& map, const std::string& prefix, const char* key, bool* out) {
  if (!map || !map[key]) {
    return Status::Ok();
  }
  DF_ASSIGN_OR_RETURN(std::string s, Scalar(map, prefix, key));
  if (s == "true") {
    *out = true;
  } else if (s == "false") {
    *out = false;
  } else {
    return InvalidArgument("config key '" + Join(prefix, key) + "': want true or false, got '" + s +
                           "'");
  }
  return Status::Ok();
}

Status Read(const YAML::Node& map, const std::string& prefix, const char* key, int64_t* out) {
  if (!map || !map[key]) {
    return Status::Ok();
  }
  DF_ASSIGN_OR_RETURN(std::string s, Scalar(map, prefix, key));
  try {
    size_t used = 0;
    int64_t v = std::stoll(s, &used);
    if (used != s.size()) {
      throw std::invalid_argument(s);
    }
    *out = v;
  } catch (const std::exception&) {
    return InvalidArgument("config key '" + Join(prefix, key) + "': want an integer, got '" + s +
                           "'");
  }
  return Status::Ok();
}

Status Read(const YAML::Node& map, const std::string& prefix, const char* key, uint32_t* out) {
  int64_t v = *out;
  DF_RETURN_IF_ERROR(Read(map, prefix, key, &v));
  if (v < 0 || v > 0xffffffffll) {
    return InvalidArgument("config key '" + Join(prefix, key) + "': out of range");
  }
  *out = static_cast<uint32_t>(v);
  return Status::Ok();
}

StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) {
    ++i;
  }
  if (i == 0) {
    return InvalidArgument("bad duration '" + s + "'");
  }
  double v = 0;
  try {
    v = std::stod(s.substr(0, i));
  } catch (const std::exception&) {
    return InvalidArgument("bad duration '" + s + "'");
  }
  std::string unit = s.substr(i);
  double ms = 0;
  if (unit == "ms") {
    ms = v;
  } else if (unit == "s" || unit.empty()) {
    ms = v * 1000;
  } else if (unit == "m") {
    ms = v * 60000;
  } else if (unit == "h") {
    ms = v * 3600000;
  } else if (unit == "d") {
    ms = v * 86400000;
  } else {
    return InvalidArgument("bad duration '" + s + "': unit must be ms, s, m, h or d");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

StatusOr<uint64_t> ParseBytes(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    ++i;
  }
  if (i == 0 || i > 19) {
    return InvalidArgument("bad size '" + s + "'");
  }
  uint64_t v = std::stoull(s.substr(0, i));
  std::string unit = s.substr(i);
  uint64_t mul = 1;
  if (unit.empty() || unit == "B") {
    mul = 1;
  } else if (unit == "KiB") {
    mul = 1ull << 10;
  } else if (unit == "MiB") {
    mul = 1ull << 20;
  } else if (unit == "GiB") {
    mul = 1ull << 30;
  } else if (unit == "TiB") {
    mul = 1ull << 40;
  } else if (unit == "KB") {
    mul = 1000ull;
  } else if (unit == "MB") {
    mul = 1000ull * 1000;
  } else if (unit == "GB") {
    mul = 1000ull * 1000 * 1000;
  } else if (unit == "TB") {
    mul = 1000ull * 1000 * 1000 * 1000;
  } else {
    return InvalidArgument("bad size '" + s + "': unit must be B, KiB, MiB, GiB, KB, MB or GB");
  }
  return v * mul;
}

Status Read(const YAML::Node& map, const std::string& prefix, const char* key,
            std::chrono::milliseconds* out) {
  if (!map || !map[key]) {
    return Status::Ok();
  }
  DF_ASSIGN_OR_RETURN(std::string s, Scalar(map, prefix, key));
  auto d = ParseDuration(s);
  if (!d.ok()) {
    return d.status().Annotate("config key '" + Join(prefix, key) + "'");
  }
  *out = *d;
  return Status::Ok();
}

Status Read(const YAML::Node& map, const std::string& prefix, const char* key,
            std::vector<std::string>* out) {
  if (!map || !map.IsMap() || !map[key]) {
    return Status::Ok();
  }
  const YAML::Node list = map[key];
  if (!list.IsSequence() ||
      std::any_of(list.begin(), list.end(), [](const YAML::Node& n) { return !n.IsScalar(); })) {
    return InvalidArgument("config key '" + prefix + "." + key + "' must be a list of strings");
  }
  out->clear();
  for (const auto& n : list) {
    out->push_back(n.as<std::string>());
  }
  return Status::Ok();
}

Status ReadBytes(const YAML::Node& map, const std::string& prefix, const char* key, uint64_t* out) {
  if (!map || !map[key]) {
    return Status::Ok();
  }
  DF_ASSIGN_OR_RETURN(std::string s, Scalar(map, prefix, key));
  auto b = ParseBytes(s);
  if (!b.ok()) {
    return b.status().Annotate("config key '" + Join(prefix, key) + "'");
  }
  *out = *b;
  return Status::Ok();
}

}  // namespace df::config
