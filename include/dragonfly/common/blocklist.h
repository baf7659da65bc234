// A cluster's task blocklist (Dragonfly's blocklist, v2.5): tasks whose application, tag or URL
// a cluster refuses to distribute, with separate rules for normal peers ("client") and seed
// peers ("seed_client"). URL rules are RE2 regexes (linear-time matching: they come from an
// operator through the manager's API and run on every registration), matched anywhere in the
// URL as Dragonfly's `regexp.MatchString` does.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dragonfly/common/status.h"

namespace re2 {
class RE2;
}

namespace df {

// Bounds of one rule list (the manager refuses more).
inline constexpr size_t kMaxBlockRules = 100;
inline constexpr size_t kMaxBlockRuleLength = 1024;

struct BlockRules {
  std::vector<std::string> applications;  // exact names
  std::vector<std::string> urls;          // RE2 regexes
  std::vector<std::string> tags;          // exact tags
  bool empty() const { return applications.empty() && urls.empty() && tags.empty(); }
  bool operator==(const BlockRules&) const = default;
};

// InvalidArgument naming the list (`what`, e.g. "blocklist.client.urls") and the bad entry when
// a list is too long, an entry empty or too long, or a URL rule is not a valid RE2 regex.
Status ValidateBlockRules(const BlockRules& rules, const std::string& what);

class TaskBlocklist {
 public:
  TaskBlocklist();  // blocks nothing
  ~TaskBlocklist();
  TaskBlocklist(TaskBlocklist&&) noexcept;
  TaskBlocklist& operator=(TaskBlocklist&&) noexcept;

  // Fails as ValidateBlockRules does.
  static StatusOr<TaskBlocklist> Compile(const BlockRules& client, const BlockRules& seed_client);

  // Why the task is blocked for a peer of this kind ("url matches \"...\"", "application
  // \"...\"", "tag \"...\""), or nullopt.
  std::optional<std::string> Blocks(bool seed, std::string_view url, std::string_view application,
                                    std::string_view tag) const;
  bool empty() const { return client_.rules.empty() && seed_client_.rules.empty(); }

 private:
  struct Compiled {
    BlockRules rules;
    std::vector<std::unique_ptr<re2::RE2>> urls;
  };
  static StatusOr<Compiled> CompileOne(const BlockRules& rules, const std::string& what);
  static std::optional<std::string> Match(const Compiled& c, std::string_view url,
                                          std::string_view application, std::string_view tag);

  Compiled client_;
  Compiled seed_client_;
};

}  // namespace df
