// Strict YAML config helpers: every mapping is checked against the keys its reader knows, so an
// unknown or misspelt key stops the program with a message naming it ("scheduler.adress").
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"

namespace df::config {

// Loads `path`; an empty file gives a null node. NotFound when the file is missing.
StatusOr<YAML::Node> LoadFile(const std::string& path);

// Fails naming `prefix.key` for the first key of `node` not in `allowed`. A null node passes;
// a non-map node fails.
Status CheckKeys(const YAML::Node& node, const std::string& prefix,
                 std::initializer_list<const char*> allowed);

// Readers: leave *out unchanged when the key is absent; fail naming the key on a bad value.
Status Read(const YAML::Node& map, const std::string& prefix, const char* key, std::string* out);
Status Read(const YAML::Node& map, const std::string& prefix, const char* key, bool* out);
Status Read(const YAML::Node& map, const std::string& prefix, const char* key, int64_t* out);
Status Read(const YAML::Node& map, const std::string& prefix, const char* key, uint32_t* out);
Status Read(const YAML::Node& map, const std::string& prefix, const char* key,
            std::vector<std::string>* out);
// Durations: "500ms", "30s", "5m", "24h" or a number of seconds.
Status Read(const YAML::Node& map, const std::string& prefix, const char* key,
            std::chrono::milliseconds* out);
// Byte sizes: "64MiB", "10GB", "512KiB" or a number of bytes.
Status ReadBytes(const YAML::Node& map, const std::string& prefix, const char* key, uint64_t* out);

StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& s);
StatusOr<uint64_t> ParseBytes(const std::string& s);

}  // namespace df::config
