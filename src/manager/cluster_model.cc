#include "manager/cluster_model.h"

#include <regex>

#include "dragonfly/common/net.h"
#include "manager/api_util.h"

namespace df::manager {
namespace {

StatusOr<std::vector<std::string>> Strings(const json& j, const std::string& what,
                                           size_t max = kMaxBlockRules) {
  if (!j.is_array() || j.size() > max) {
    return InvalidArgument(what + " must be a list of at most " + std::to_string(max) + " strings");
  }
  std::vector<std::string> out;
  for (const json& v : j) {
    if (!v.is_string()) {
      return InvalidArgument(what + " must be a list of strings");
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

StatusOr<std::string> String(const json& j, const std::string& what, size_t max = 1024) {
  if (!j.is_string() || j.get<std::string>().size() > max) {
    return InvalidArgument(what + " must be a string of at most " + std::to_string(max) +
                           " characters");
  }
  return j.get<std::string>();
}

bool ValidCidr(const std::string& c) { return net::InCidr(c.substr(0, c.find('/')), c); }

StatusOr<BlockRules> RulesFromJson(const json& j, const std::string& what) {
  if (!j.is_object()) {
    return InvalidArgument(what + " must be an object");
  }
  const json task = j.value("task", json::object());
  if (!task.is_object()) {
    return InvalidArgument(what + ".task must be an object");
  }
  BlockRules r;
  for (const auto& [k, v] : task.items()) {
    std::vector<std::string>* list = k == "applications" ? &r.applications
                                     : k == "urls"       ? &r.urls
                                     : k == "tags"       ? &r.tags
                                                         : nullptr;
    if (list == nullptr) {
      return InvalidArgument(what + ".task: unknown field " + k + " (applications, urls, tags)");
    }
    DF_ASSIGN_OR_RETURN(*list, Strings(v, what + ".task." + k));
  }
  DF_RETURN_IF_ERROR(ValidateBlockRules(r, what + ".task"));
  return r;
}

json RulesToJson(const BlockRules& r) {
  return {{"task", {{"applications", r.applications}, {"urls", r.urls}, {"tags", r.tags}}}};
}

}  // namespace

json ClusterScopes::ToJson() const {
  return {{"idc", idc}, {"location", location}, {"cidrs", cidrs}, {"hostnames", hostnames}};
}

StatusOr<ClusterScopes> ClusterScopes::FromJson(const json& j) {
  if (!j.is_object()) {
    return InvalidArgument("scopes must be an object");
  }
  ClusterScopes s;
  for (const auto& [k, v] : j.items()) {
    if (k == "idc" || k == "location") {
      DF_ASSIGN_OR_RETURN((k == "idc" ? s.idc : s.location), String(v, "scopes." + k));
    } else if (k == "cidrs") {
      DF_ASSIGN_OR_RETURN(s.cidrs, Strings(v, "scopes.cidrs"));
      for (const std::string& c : s.cidrs) {
        if (!ValidCidr(c)) {
          return InvalidArgument("scopes.cidrs: bad CIDR " + c);
        }
      }
    } else if (k == "hostnames") {
      DF_ASSIGN_OR_RETURN(s.hostnames, Strings(v, "scopes.hostnames"));
      for (const std::string& h : s.hostnames) {
        try {
          std::regex re(h);
        } catch (const std::regex_error&) {
          return InvalidArgument("scopes.hostnames: bad regex " + h);
        }
      }
    } else {
      return InvalidArgument("scopes: unknown field " + k + " (idc, location, cidrs, hostnames)");
    }
  }
  return s;
}

json ClusterBlocklist::ToJson() const {
  return {{"client", RulesToJson(client)}, {"seed_client", RulesToJson(seed_client)}};
}

StatusOr<ClusterBlocklist> ClusterBlocklist::FromJson(const json& j) {
  if (!j.is_object()) {
    return InvalidArgument("blocklist must be an object");
  }
  ClusterBlocklist b;
  for (const auto& [k, v] : j.items()) {
    if (k != "client" && k != "seed_client") {
      return InvalidArgument("blocklist: unknown field " + k + " (client, seed_client)");
    }
    DF_ASSIGN_OR_RETURN((k == "client" ? b.client : b.seed_client),
                        RulesFromJson(v, "blocklist." + k));
  }
  return b;
}

json ClusterConfig::ToJson() const {
  json j = json::object();
  auto put = [&](const char* k, const std::optional<uint32_t>& v) {
    if (v) {
      j[k] = *v;
    }
  };
  put("candidate_parent_limit", candidate_parent_limit);
  put("filter_parent_limit", filter_parent_limit);
  put("back_to_source_count", back_to_source_count);
  put("upload_slots", upload_slots);
  put("job_rate_limit", job_rate_limit);
  if (blocked_hosts) {
    j["blocked_hosts"] = *blocked_hosts;
  }
  if (blocklist) {
    j["blocklist"] = blocklist->ToJson();
  }
  return j;
}

StatusOr<ClusterConfig> ClusterConfig::FromJson(const json& j, const std::string& what) {
  if (!j.is_object()) {
    return InvalidArgument(what + " must be an object");
  }
  ClusterConfig c;
  for (const auto& [k, v] : j.items()) {
    if (k == "blocked_hosts") {
      DF_ASSIGN_OR_RETURN(c.blocked_hosts, Strings(v, what + ".blocked_hosts", 1000));
      continue;
    }
    if (k == "blocklist") {
      DF_ASSIGN_OR_RETURN(c.blocklist, ClusterBlocklist::FromJson(v));
      continue;
    }
    std::optional<uint32_t>* field = k == "candidate_parent_limit" ? &c.candidate_parent_limit
                                     : k == "filter_parent_limit"  ? &c.filter_parent_limit
                                     : k == "back_to_source_count" ? &c.back_to_source_count
                                     : k == "upload_slots"         ? &c.upload_slots
                                     : k == "job_rate_limit"       ? &c.job_rate_limit
                                                                   : nullptr;
    if (field == nullptr) {
      return InvalidArgument(what + ": unknown setting " + k);
    }
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 1000) {
      return InvalidArgument(what + "." + k + " must be an integer 0 to 1000");
    }
    *field = v.get<uint32_t>();
  }
  if (c.candidate_parent_limit &&
      (*c.candidate_parent_limit < 1 || *c.candidate_parent_limit > 20)) {
    return InvalidArgument("candidate_parent_limit must be 1 to 20");
  }
  return c;
}

void ClusterConfig::Merge(const ClusterConfig& p) {
  auto take = [](auto& mine, const auto& theirs) {
    if (theirs) {
      mine = theirs;
    }
  };
  take(candidate_parent_limit, p.candidate_parent_limit);
  take(filter_parent_limit, p.filter_parent_limit);
  take(back_to_source_count, p.back_to_source_count);
  take(upload_slots, p.upload_slots);
  take(job_rate_limit, p.job_rate_limit);
  take(blocked_hosts, p.blocked_hosts);
  take(blocklist, p.blocklist);
}

StatusOr<ClusterSpec> ClusterSpec::FromJson(const json& body) {
  if (!body.is_object()) {
    return InvalidArgument("the body must be a JSON object");
  }
  ClusterSpec s;
  if (body.contains("name")) {
    DF_ASSIGN_OR_RETURN(s.name, String(body["name"], "name", 191));
    if (!ValidName(*s.name)) {
      return InvalidArgument("name must be 1 to 191 characters of [A-Za-z0-9_.-]");
    }
  }
  if (body.contains("bio")) {
    DF_ASSIGN_OR_RETURN(s.bio, String(body["bio"], "bio"));
  }
  if (body.contains("is_default")) {
    if (!body["is_default"].is_boolean()) {
      return InvalidArgument("is_default must be true or false");
    }
    s.is_default = body["is_default"].get<bool>();
  }
  if (body.contains("scopes")) {
    DF_ASSIGN_OR_RETURN(s.scopes, ClusterScopes::FromJson(body["scopes"]));
  }
  for (const char* key : {"config", "scheduler_cluster_config"}) {
    if (body.contains(key)) {
      DF_ASSIGN_OR_RETURN(s.config, ClusterConfig::FromJson(body[key], key));
    }
  }
  return s;
}

}  // namespace df::manager
