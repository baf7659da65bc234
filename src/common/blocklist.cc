#include "dragonfly/common/blocklist.h"

#include <re2/re2.h>

#include <algorithm>

namespace df {
namespace {

RE2::Options RuleOptions() {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(1 << 20);  // a rule's program stays small
  return o;
}

Status CheckList(const std::vector<std::string>& list, const std::string& what) {
  if (list.size() > kMaxBlockRules) {
    return InvalidArgument(what + ": at most " + std::to_string(kMaxBlockRules) + " entries");
  }
  for (const std::string& e : list) {
    if (e.empty() || e.size() > kMaxBlockRuleLength) {
      return InvalidArgument(what + ": entries must be 1 to " +
                             std::to_string(kMaxBlockRuleLength) + " characters");
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateBlockRules(const BlockRules& rules, const std::string& what) {
  DF_RETURN_IF_ERROR(CheckList(rules.applications, what + ".applications"));
  DF_RETURN_IF_ERROR(CheckList(rules.tags, what + ".tags"));
  DF_RETURN_IF_ERROR(CheckList(rules.urls, what + ".urls"));
  for (const std::string& u : rules.urls) {
    RE2 re(u, RuleOptions());
    if (!re.ok()) {
      return InvalidArgument(what + ".urls: bad regex \"" + u + "\": " + re.error());
    }
  }
  return Status::Ok();
}

TaskBlocklist::TaskBlocklist() = default;
TaskBlocklist::~TaskBlocklist() = default;
TaskBlocklist::TaskBlocklist(TaskBlocklist&&) noexcept = default;
TaskBlocklist& TaskBlocklist::operator=(TaskBlocklist&&) noexcept = default;

StatusOr<TaskBlocklist::Compiled> TaskBlocklist::CompileOne(const BlockRules& rules,
                                                            const std::string& what) {
  DF_RETURN_IF_ERROR(ValidateBlockRules(rules, what));
  Compiled c;
  c.rules = rules;
  for (const std::string& u : rules.urls) {
    c.urls.push_back(std::make_unique<RE2>(u, RuleOptions()));
  }
  return c;
}

StatusOr<TaskBlocklist> TaskBlocklist::Compile(const BlockRules& client,
                                               const BlockRules& seed_client) {
  TaskBlocklist b;
  DF_ASSIGN_OR_RETURN(b.client_, CompileOne(client, "blocklist.client"));
  DF_ASSIGN_OR_RETURN(b.seed_client_, CompileOne(seed_client, "blocklist.seed_client"));
  return b;
}

std::optional<std::string> TaskBlocklist::Match(const Compiled& c, std::string_view url,
                                                std::string_view application,
                                                std::string_view tag) {
  const auto& apps = c.rules.applications;
  if (!application.empty() && std::find(apps.begin(), apps.end(), application) != apps.end()) {
    return "application \"" + std::string(application) + "\"";
  }
  const auto& tags = c.rules.tags;
  if (!tag.empty() && std::find(tags.begin(), tags.end(), tag) != tags.end()) {
    return "tag \"" + std::string(tag) + "\"";
  }
  for (size_t i = 0; i < c.urls.size(); ++i) {
    if (RE2::PartialMatch(re2::StringPiece(url.data(), url.size()), *c.urls[i])) {
      return "url matches \"" + c.rules.urls[i] + "\"";
    }
  }
  return std::nullopt;
}

std::optional<std::string> TaskBlocklist::Blocks(bool seed, std::string_view url,
                                                 std::string_view application,
                                                 std::string_view tag) const {
  return Match(seed ? seed_client_ : client_, url, application, tag);
}

}  // namespace df
