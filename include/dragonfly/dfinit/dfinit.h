// dfinit: writes container-runtime configuration that sends image pulls through the local
// dfdaemon's registry mirror (default http://127.0.0.1:65001).
//
//  * containerd: one <certs-dir>/<registry>/hosts.toml per registry (mirror host first, with an
//    X-Dragonfly-Registry header naming the upstream, then the registry itself as fallback), plus
//    a catch-all <certs-dir>/_default/hosts.toml whose mirror routes by containerd's ns= query.
//  * CRI-O / podman / skopeo: a containers-registries.conf v2 with [[registry.mirror]] entries.
//  * Docker: daemon.json "registry-mirrors" (Docker uses mirrors for Docker Hub only).
//
// Every file is written atomically (temporary file + rename). A file that dfinit did not write is
// copied to <file>.dfinit-backup before it is replaced (the first backup is kept), and a state
// file <dir>/.dfinit-state.json lists what was created and replaced, so Restore() can undo it.
// All inputs are validated before anything is written.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dragonfly/common/status.h"

namespace df::dfinit {

inline constexpr char kDefaultCertsDir[] = "/etc/containerd/certs.d";
inline constexpr char kDefaultMirror[] = "http://127.0.0.1:65001";
inline constexpr char kStateFileName[] = ".dfinit-state.json";
inline constexpr char kBackupSuffix[] = ".dfinit-backup";
inline constexpr char kDefaultHostDir[] = "_default";

// ---- Validation -------------------------------------------------------------------------------

// Checks a registry host as containerd names its certs.d directory: a DNS name, an IPv4 address
// or a bracketed IPv6 address, optionally followed by :port (1-65535).
Status ValidateHost(std::string_view host);

// Validates an http or https URL (scheme://host[:port][/path], no user info, query or fragment)
// and returns it with trailing slashes removed. `what` names the value in error messages.
StatusOr<std::string> NormalizeUrl(std::string_view url, std::string_view what = "URL");

// "host[:port][/path]" of a URL that NormalizeUrl accepted.
std::string UrlLocation(std::string_view url);

// The upstream URL containerd uses for a registry host: https://<host>, except docker.io which
// is served by https://registry-1.docker.io.
std::string DefaultServer(std::string_view host);

// ---- Registries -------------------------------------------------------------------------------

struct Registry {
  std::string host;              // certs.d directory name / registries.conf prefix
  std::string server;            // upstream URL, e.g. https://registry-1.docker.io
  bool explicit_server = false;  // server came from HOST=SERVER_URL
  std::string ca;                // absolute path of a CA bundle for the server, or empty
  bool skip_verify = false;
};

// Parses "HOST[=SERVER_URL]".
StatusOr<Registry> ParseRegistry(std::string_view arg);

// Parses every --registry argument and applies --ca HOST=PATH (the file must exist; the path is
// made absolute) and --skip-verify HOST (HOST must be one of the registries). Duplicates are
// rejected.
StatusOr<std::vector<Registry>> ResolveRegistries(const std::vector<std::string>& registries,
                                                  const std::vector<std::string>& cas,
                                                  const std::vector<std::string>& skip_verify);

// ---- Rendering --------------------------------------------------------------------------------

// A TOML basic string: "..." with \ " and control characters escaped.
std::string TomlString(std::string_view s);

// <certs-dir>/<host>/hosts.toml for one registry. `mirror` must be normalized.
std::string RenderHostsToml(const Registry& registry, const std::string& mirror);

// <certs-dir>/_default/hosts.toml: the mirror host only (no server, no header).
std::string RenderDefaultHostsToml(const std::string& mirror);

// containers-registries.conf v2 for CRI-O, podman and skopeo.
std::string RenderRegistriesConf(const std::vector<Registry>& registries,
                                 const std::string& mirror);

// daemon.json with `mirror` first in "registry-mirrors". `existing` is the current file's
// content (other keys and mirrors are kept); it must be a JSON object.
StatusOr<std::string> RenderDaemonJson(const std::string& mirror,
                                       const std::optional<std::string>& existing);

// ---- Writing and restoring --------------------------------------------------------------------

struct Change {
  // created | replaced | unchanged (writes); restored | removed | kept (restore; "kept" means
  // the backup of a replaced file was missing, so the file was left as it is).
  std::string action;
  std::string path;
  std::string ToString() const { return action + " " + path; }
};

struct PlannedFile {
  std::string path;
  std::string content;
};

// Writes `files` (absolute or relative paths) with backups and atomic renames, recording them in
// <state_dir>/.dfinit-state.json. Identical content is left alone ("unchanged"). With dry_run
// nothing is touched and the changes that would happen are returned. Every file is checked
// (and the state file parsed) before the first write.
StatusOr<std::vector<Change>> WriteFiles(const std::string& state_dir,
                                         const std::vector<PlannedFile>& files, bool dry_run);

// Undoes WriteFiles for `state_dir`: puts every backup back, removes created files and the
// directories dfinit created (if empty), then the state file. No state file: no changes.
StatusOr<std::vector<Change>> Restore(const std::string& state_dir);

// ---- Commands ---------------------------------------------------------------------------------

struct ContainerdOptions {
  std::string certs_dir = kDefaultCertsDir;
  std::string mirror = kDefaultMirror;
  std::vector<std::string> registries;   // HOST[=SERVER_URL]
  std::vector<std::string> cas;          // HOST=PATH
  std::vector<std::string> skip_verify;  // HOST
  bool no_default = false;
  bool dry_run = false;
};

// Validates the options and returns the hosts.toml files to write (nothing is touched).
StatusOr<std::vector<PlannedFile>> PlanContainerd(const ContainerdOptions& options);

struct CrioOptions {
  std::string mirror = kDefaultMirror;
  std::vector<std::string> registries;  // HOST[=SERVER_URL]
  std::string output;                   // empty: return the text only
};

struct DockerOptions {
  std::string mirror = kDefaultMirror;
  std::string output;  // empty: return the text only
};

struct Output {
  std::string text;                // the rendered file (containerd: only with dry_run, all files)
  std::vector<Change> changes;     // empty when no output file was given
  std::vector<std::string> notes;  // advice for the operator (printed on stderr)
};

StatusOr<Output> ConfigureContainerd(const ContainerdOptions& options);
StatusOr<Output> ConfigureCrio(const CrioOptions& options);
StatusOr<Output> ConfigureDocker(const DockerOptions& options);

}  // namespace df::dfinit
