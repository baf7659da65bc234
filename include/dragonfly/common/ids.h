// The domain's identifiers, each a type of its own: a task ID (the SHA-256, in hex, of what names
// a content: task_id.h), a peer ID (one download of a task on one host) and a host ID (a
// dfdaemon: its IP and host name, MakeHostId). Each wraps its string, so the compiler refuses a
// peer ID where a task ID is wanted and a map keyed by one cannot be searched with another.
// Strings become IDs at the edges -- RPC messages, the store, configs -- with Parse, which
// checks what every component accepts, or with the explicit constructor for values this process
// made itself; str() gives the string back for the wire and the logs.
#pragma once

#include <fmt/format.h>

#include <compare>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "dragonfly/common/status.h"

namespace df {

namespace id_rules {
// Lowercase hex, 1..128 characters (a SHA-256 or SHA-512 digest in hex).
Status CheckTaskId(std::string_view s);
// 1..256 bytes of printable ASCII without spaces.
Status CheckName(std::string_view what, std::string_view s);
}  // namespace id_rules

template <typename Tag>
class Id {
 public:
  Id() = default;
  explicit Id(std::string value) : value_(std::move(value)) {}

  // The ID `s` names, or InvalidArgument saying what is wrong with it.
  static StatusOr<Id> Parse(std::string_view s) {
    DF_RETURN_IF_ERROR(Tag::Check(s));
    return Id(std::string(s));
  }

  const std::string& str() const { return value_; }
  bool empty() const { return value_.empty(); }
  void clear() { value_.clear(); }

  friend bool operator==(const Id&, const Id&) = default;
  friend std::strong_ordering operator<=>(const Id& a, const Id& b) {
    return a.value_.compare(b.value_) <=> 0;
  }

 private:
  std::string value_;
};

struct TaskIdTag {
  static Status Check(std::string_view s) { return id_rules::CheckTaskId(s); }
};
struct PeerIdTag {
  static Status Check(std::string_view s) { return id_rules::CheckName("peer ID", s); }
};
struct HostIdTag {
  static Status Check(std::string_view s) { return id_rules::CheckName("host ID", s); }
};

using TaskId = Id<TaskIdTag>;
using PeerId = Id<PeerIdTag>;
using HostId = Id<HostIdTag>;

}  // namespace df

template <typename Tag>
struct std::hash<df::Id<Tag>> {
  size_t operator()(const df::Id<Tag>& id) const noexcept {
    return std::hash<std::string>{}(id.str());
  }
};

template <typename Tag>
struct fmt::formatter<df::Id<Tag>> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const df::Id<Tag>& id, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(id.str(), ctx);
  }
};
