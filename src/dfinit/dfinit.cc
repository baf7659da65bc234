// dfinit: validation, registries and the commands (rendering: render.cc).
#include "dragonfly/dfinit/dfinit.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <system_error>

namespace df::dfinit {
namespace {

namespace fs = std::filesystem;

bool IsLabelChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-'; }

Status ValidateDnsName(std::string_view name, std::string_view host) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("invalid registry host '" + std::string(host) + "': " + why);
  };
  if (name.empty()) {
    return bad("empty host name");
  }
  if (name.size() > 253) {
    return bad("host name longer than 253 characters");
  }
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) {
      return bad("empty label");
    }
    if (label.size() > 63) {
      return bad("label longer than 63 characters");
    }
    for (char c : label) {
      if (!IsLabelChar(c)) {
        return bad(std::string("character '") + c + "' is not allowed");
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return bad("a label may not start or end with '-'");
    }
    if (dot == std::string_view::npos) {
      return Status::Ok();
    }
    start = dot + 1;
  }
}

Status ValidatePort(std::string_view port, std::string_view host) {
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
      })) {
    return InvalidArgument("invalid registry host '" + std::string(host) + "': bad port");
  }
  int p = std::stoi(std::string(port));
  if (p < 1 || p > 65535) {
    return InvalidArgument("invalid registry host '" + std::string(host) +
                           "': port out of range 1-65535");
  }
  return Status::Ok();
}

// Splits "A=B" at the first '='.
bool SplitAssign(std::string_view arg, std::string* key, std::string* value) {
  size_t eq = arg.find('=');
  if (eq == std::string_view::npos) {
    return false;
  }
  *key = std::string(arg.substr(0, eq));
  *value = std::string(arg.substr(eq + 1));
  return true;
}

fs::path AbsolutePath(const std::string& p) {
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  if (ec) {
    a = fs::path(p);
  }
  a = a.lexically_normal();
  if (a.has_filename() || a == a.root_path()) {
    return a;
  }
  return a.parent_path();  // drop the trailing separator of "dir/"
}

StatusOr<std::optional<std::string>> ReadIfExists(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return std::optional<std::string>();
  }
  if (!fs::is_regular_file(path, ec)) {
    return FailedPrecondition(path + " exists and is not a regular file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Unavailable("cannot read " + path);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return std::optional<std::string>(ss.str());
}

void AddTlsNotes(const std::vector<Registry>& regs, std::vector<std::string>* notes) {
  for (const Registry& r : regs) {
    if (!r.ca.empty() || r.skip_verify) {
      notes->push_back("the dfdaemon fetches " + r.server +
                       " itself: give it the same trust in its config (proxy.registries: [{host: " +
                       UrlLocation(r.server) +
                       (r.ca.empty() ? ", insecure: true" : ", caCert: " + r.ca) + "}])");
    }
  }
}

}  // namespace

// ---- Validation -------------------------------------------------------------------------------

Status ValidateHost(std::string_view host) {
  if (host.empty()) {
    return InvalidArgument("registry host is empty");
  }
  if (host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgument("invalid registry host '" + std::string(host) + "': missing ']'");
    }
    std::string addr(host.substr(1, close - 1));
    in6_addr a6{};
    if (inet_pton(AF_INET6, addr.c_str(), &a6) != 1) {
      return InvalidArgument("invalid registry host '" + std::string(host) + "': bad IPv6 address");
    }
    std::string_view rest = host.substr(close + 1);
    if (rest.empty()) {
      return Status::Ok();
    }
    if (rest.front() != ':') {
      return InvalidArgument("invalid registry host '" + std::string(host) + "'");
    }
    return ValidatePort(rest.substr(1), host);
  }
  size_t colon = host.find(':');
  DF_RETURN_IF_ERROR(ValidateDnsName(host.substr(0, colon), host));
  if (colon != std::string_view::npos) {
    return ValidatePort(host.substr(colon + 1), host);
  }
  return Status::Ok();
}

StatusOr<std::string> NormalizeUrl(std::string_view url, std::string_view what) {
  const std::string w(what);
  auto bad = [&](const std::string& why) {
    return InvalidArgument("invalid " + w + " '" + std::string(url) + "': " + why);
  };
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return bad("missing scheme: expected http://HOST[:PORT] or https://HOST[:PORT]");
  }
  std::string scheme(url.substr(0, sep));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (scheme != "http" && scheme != "https") {
    return bad("scheme must be http or https");
  }
  std::string_view rest = url.substr(sep + 3);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string path(slash == std::string_view::npos ? std::string_view() : rest.substr(slash));
  if (authority.find('@') != std::string_view::npos) {
    return bad("user info is not supported");
  }
  Status hs = ValidateHost(authority);
  if (!hs.ok()) {
    return bad(hs.message());
  }
  for (char c : path) {
    if (c == '?' || c == '#') {
      return bad("query and fragment are not supported");
    }
    if (std::iscntrl(static_cast<unsigned char>(c)) != 0 || c == ' ' || c == '"' || c == '\\') {
      return bad("the path contains a character that is not allowed");
    }
  }
  while (!path.empty() && path.back() == '/') {
    path.pop_back();
  }
  return scheme + "://" + std::string(authority) + path;
}

std::string UrlLocation(std::string_view url) {
  size_t sep = url.find("://");
  return std::string(sep == std::string_view::npos ? url : url.substr(sep + 3));
}

std::string DefaultServer(std::string_view host) {
  if (host == "docker.io") {
    return "https://registry-1.docker.io";
  }
  return "https://" + std::string(host);
}

// ---- Registries -------------------------------------------------------------------------------

StatusOr<Registry> ParseRegistry(std::string_view arg) {
  Registry r;
  std::string server;
  if (SplitAssign(arg, &r.host, &server)) {
    if (server.empty()) {
      return InvalidArgument("--registry '" + std::string(arg) + "': empty server URL after '='");
    }
    DF_ASSIGN_OR_RETURN(r.server, NormalizeUrl(server, "server URL for " + r.host));
    r.explicit_server = true;
  } else {
    r.host = std::string(arg);
  }
  DF_RETURN_IF_ERROR(ValidateHost(r.host));
  if (!r.explicit_server) {
    r.server = DefaultServer(r.host);
  }
  return r;
}

StatusOr<std::vector<Registry>> ResolveRegistries(const std::vector<std::string>& registries,
                                                  const std::vector<std::string>& cas,
                                                  const std::vector<std::string>& skip_verify) {
  std::vector<Registry> out;
  auto find = [&out](const std::string& host) -> Registry* {
    for (Registry& r : out) {
      if (r.host == host) {
        return &r;
      }
    }
    return nullptr;
  };
  for (const std::string& arg : registries) {
    DF_ASSIGN_OR_RETURN(Registry r, ParseRegistry(arg));
    if (find(r.host) != nullptr) {
      return InvalidArgument("registry '" + r.host + "' is given more than once");
    }
    out.push_back(std::move(r));
  }
  for (const std::string& arg : cas) {
    std::string host;
    std::string path;
    if (!SplitAssign(arg, &host, &path) || host.empty() || path.empty()) {
      return InvalidArgument("--ca '" + arg + "': expected HOST=PATH");
    }
    Registry* r = find(host);
    if (r == nullptr) {
      return InvalidArgument("--ca '" + arg + "': '" + host +
                             "' is not one of the --registry hosts");
    }
    if (!r->ca.empty()) {
      return InvalidArgument("--ca: more than one CA file for '" + host + "'");
    }
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      return InvalidArgument("--ca '" + arg + "': CA file " + path + " does not exist");
    }
    if (!fs::is_regular_file(path, ec)) {
      return InvalidArgument("--ca '" + arg + "': " + path + " is not a regular file");
    }
    r->ca = AbsolutePath(path).string();
  }
  for (const std::string& host : skip_verify) {
    Registry* r = find(host);
    if (r == nullptr) {
      return InvalidArgument("--skip-verify '" + host + "' is not one of the --registry hosts");
    }
    r->skip_verify = true;
  }
  return out;
}

// ---- Commands ---------------------------------------------------------------------------------

StatusOr<std::vector<PlannedFile>> PlanContainerd(const ContainerdOptions& options) {
  if (options.certs_dir.empty()) {
    return InvalidArgument("--certs-dir is empty");
  }
  DF_ASSIGN_OR_RETURN(std::string mirror, NormalizeUrl(options.mirror, "--mirror URL"));
  DF_ASSIGN_OR_RETURN(std::vector<Registry> regs,
                      ResolveRegistries(options.registries, options.cas, options.skip_verify));
  if (regs.empty() && options.no_default) {
    return InvalidArgument("nothing to do: no --registry given and --no-default set");
  }
  const fs::path dir = AbsolutePath(options.certs_dir);
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    return InvalidArgument("--certs-dir " + dir.string() + " is not a directory");
  }
  std::vector<PlannedFile> files;
  for (const Registry& r : regs) {
    files.push_back({(dir / r.host / "hosts.toml").string(), RenderHostsToml(r, mirror)});
  }
  if (!options.no_default) {
    files.push_back(
        {(dir / kDefaultHostDir / "hosts.toml").string(), RenderDefaultHostsToml(mirror)});
  }
  return files;
}

StatusOr<Output> ConfigureContainerd(const ContainerdOptions& options) {
  DF_ASSIGN_OR_RETURN(std::vector<PlannedFile> files, PlanContainerd(options));
  Output out;
  DF_ASSIGN_OR_RETURN(out.changes,
                      WriteFiles(AbsolutePath(options.certs_dir).string(), files, options.dry_run));
  if (options.dry_run) {
    for (const PlannedFile& f : files) {
      out.text += "# ---- " + f.path + "\n" + f.content + "\n";
    }
  }
  auto regs = ResolveRegistries(options.registries, options.cas, options.skip_verify);
  if (regs.ok()) {
    AddTlsNotes(*regs, &out.notes);
  }
  out.notes.push_back(
      "containerd reads these files on every pull: the CRI plugin needs config_path = \"" +
      AbsolutePath(options.certs_dir).string() +
      "\" in its registry section (restart containerd after adding it); ctr needs --hosts-dir");
  return out;
}

StatusOr<Output> ConfigureCrio(const CrioOptions& options) {
  DF_ASSIGN_OR_RETURN(std::string mirror, NormalizeUrl(options.mirror, "--mirror URL"));
  if (options.registries.empty()) {
    return InvalidArgument("at least one --registry is required");
  }
  DF_ASSIGN_OR_RETURN(std::vector<Registry> regs, ResolveRegistries(options.registries, {}, {}));
  Output out;
  out.text = RenderRegistriesConf(regs, mirror);
  if (regs.size() > 1) {
    out.notes.push_back(
        "CRI-O/podman/skopeo send the mirror no registry name: only the registry that the "
        "dfdaemon's proxy.registryMirror.addr points at is served correctly through it");
  }
  if (!options.output.empty()) {
    const fs::path path = AbsolutePath(options.output);
    DF_ASSIGN_OR_RETURN(
        out.changes, WriteFiles(path.parent_path().string(), {{path.string(), out.text}}, false));
  }
  return out;
}

StatusOr<Output> ConfigureDocker(const DockerOptions& options) {
  DF_ASSIGN_OR_RETURN(std::string mirror, NormalizeUrl(options.mirror, "--mirror URL"));
  Output out;
  out.notes.push_back(
      "Docker uses registry-mirrors only for Docker Hub (docker.io) images; images from other "
      "registries are pulled directly. Reload (SIGHUP) or restart dockerd to apply.");
  if (options.output.empty()) {
    DF_ASSIGN_OR_RETURN(out.text, RenderDaemonJson(mirror, std::nullopt));
    return out;
  }
  const fs::path path = AbsolutePath(options.output);
  DF_ASSIGN_OR_RETURN(std::optional<std::string> existing, ReadIfExists(path.string()));
  auto merged = RenderDaemonJson(mirror, existing);
  if (!merged.ok()) {
    return merged.status().Annotate(path.string());
  }
  out.text = *merged;
  if (existing.has_value() &&
      nlohmann::json::parse(*existing, nullptr, false) == nlohmann::json::parse(out.text)) {
    // Same JSON value in another layout: leave the file as it is.
    out.changes.push_back({"unchanged", path.string()});
    return out;
  }
  DF_ASSIGN_OR_RETURN(out.changes,
                      WriteFiles(path.parent_path().string(), {{path.string(), out.text}}, false));
  return out;
}

}  // namespace df::dfinit
