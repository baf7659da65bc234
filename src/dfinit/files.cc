// dfinit: atomic writes with backups, the state file, and restore.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>

#include "dragonfly/dfinit/dfinit.h"

namespace df::dfinit {
namespace {

namespace fs = std::filesystem;

constexpr fs::perms kDefaultMode =
    fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read;

// What dfinit has done in one directory: <dir>/.dfinit-state.json.
struct Ledger {
  std::vector<std::string> created;
  std::vector<std::pair<std::string, std::string>> replaced;  // path, backup
  std::vector<std::string> directories;                       // created by dfinit

  bool Owns(const std::string& path) const {
    if (std::find(created.begin(), created.end(), path) != created.end()) {
      return true;
    }
    return std::any_of(replaced.begin(), replaced.end(),
                       [&](const auto& r) { return r.first == path; });
  }
};

fs::path Absolute(const std::string& p) {
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  if (ec) {
    a = fs::path(p);
  }
  a = a.lexically_normal();
  if (!a.has_filename() && a != a.root_path()) {
    a = a.parent_path();
  }
  return a;
}

StatusOr<std::optional<std::string>> ReadRegular(const fs::path& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return std::optional<std::string>();
    }
    return ErrnoError("stat " + path.string(), errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return FailedPrecondition(path.string() + " exists and is not a regular file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Unavailable("cannot read " + path.string());
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    return Unavailable("cannot read " + path.string());
  }
  return std::optional<std::string>(ss.str());
}

void SyncDir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Writes `content` to a temporary file beside `path`, fsyncs it and renames it over `path`.
Status AtomicWrite(const fs::path& path, std::string_view content, fs::perms mode) {
  const std::string tmp = path.string() + ".dfinit-tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return ErrnoError("create " + tmp, errno);
  }
  auto fail = [&](const std::string& what) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return ErrnoError(what + " " + tmp, err);
  };
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) {
    return fail("chmod");
  }
  if (::fsync(fd) != 0) {
    return fail("fsync");
  }
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoError("close " + tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoError("rename " + tmp + " to " + path.string(), err);
  }
  SyncDir(path.parent_path());
  return Status::Ok();
}

StatusOr<std::optional<Ledger>> LoadLedger(const fs::path& state_path) {
  DF_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadRegular(state_path));
  if (!text.has_value()) {
    return std::optional<Ledger>();
  }
  auto bad = [&](const std::string& why) {
    return DataLoss("state file " + state_path.string() + " is damaged: " + why);
  };
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return bad("not a JSON object");
  }
  Ledger l;
  auto strings = [&](const char* key, std::vector<std::string>* out) -> Status {
    if (!j.contains(key)) {
      return Status::Ok();
    }
    if (!j[key].is_array()) {
      return bad(std::string(key) + " is not a list");
    }
    for (const auto& v : j[key]) {
      if (!v.is_string() || v.get<std::string>().empty()) {
        return bad(std::string(key) + " holds a non-path");
      }
      out->push_back(v.get<std::string>());
    }
    return Status::Ok();
  };
  DF_RETURN_IF_ERROR(strings("created", &l.created));
  DF_RETURN_IF_ERROR(strings("directories", &l.directories));
  if (j.contains("replaced")) {
    if (!j["replaced"].is_array()) {
      return bad("replaced is not a list");
    }
    for (const auto& v : j["replaced"]) {
      if (!v.is_object() || !v.contains("path") || !v["path"].is_string() ||
          !v.contains("backup") || !v["backup"].is_string()) {
        return bad("replaced holds an entry without path and backup");
      }
      l.replaced.emplace_back(v["path"].get<std::string>(), v["backup"].get<std::string>());
    }
  }
  return std::optional<Ledger>(std::move(l));
}

Status SaveLedger(const fs::path& state_path, const Ledger& l) {
  nlohmann::ordered_json j;
  j["version"] = 1;
  j["created"] = l.created;
  nlohmann::ordered_json replaced = nlohmann::ordered_json::array();
  for (const auto& [path, backup] : l.replaced) {
    replaced.push_back({{"path", path}, {"backup", backup}});
  }
  j["replaced"] = replaced;
  j["directories"] = l.directories;
  return AtomicWrite(state_path, j.dump(2) + "\n", kDefaultMode);
}

// Creates `dir` and its missing parents, recording each one created in the ledger.
Status CreateDirs(const fs::path& dir, Ledger* ledger) {
  std::vector<fs::path> missing;
  std::error_code ec;
  for (fs::path p = dir; !p.empty(); p = p.parent_path()) {
    if (fs::exists(p, ec)) {
      if (!fs::is_directory(p, ec)) {
        return FailedPrecondition(p.string() + " exists and is not a directory");
      }
      break;
    }
    missing.push_back(p);
    if (p == p.root_path()) {
      break;
    }
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoError("mkdir " + it->string(), errno);
    }
    if (std::find(ledger->directories.begin(), ledger->directories.end(), it->string()) ==
        ledger->directories.end()) {
      ledger->directories.push_back(it->string());
    }
  }
  return Status::Ok();
}

// The first existing ancestor of `p` must be a directory.
Status CheckParents(const fs::path& p) {
  std::error_code ec;
  for (fs::path d = p.parent_path(); !d.empty(); d = d.parent_path()) {
    if (fs::exists(d, ec)) {
      if (!fs::is_directory(d, ec)) {
        return FailedPrecondition(d.string() + " exists and is not a directory");
      }
      return Status::Ok();
    }
    if (d == d.root_path()) {
      break;
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<Change>> WriteFiles(const std::string& state_dir,
                                         const std::vector<PlannedFile>& files, bool dry_run) {
  const fs::path dir = Absolute(state_dir);
  const fs::path state_path = dir / kStateFileName;
  DF_ASSIGN_OR_RETURN(std::optional<Ledger> loaded, LoadLedger(state_path));
  Ledger ledger = loaded.value_or(Ledger{});

  // Check everything before the first write.
  struct Step {
    fs::path path;
    const std::string* content;
    std::optional<std::string> existing;
    std::string action;
  };
  std::vector<Step> steps;
  for (const PlannedFile& f : files) {
    Step s{Absolute(f.path), &f.content, std::nullopt, ""};
    if (s.path == state_path || s.path.filename().string().ends_with(kBackupSuffix)) {
      return InvalidArgument("refusing to write " + s.path.string() + ": dfinit's own file");
    }
    for (const Step& other : steps) {
      if (other.path == s.path) {
        return InvalidArgument(s.path.string() + " would be written twice");
      }
    }
    DF_RETURN_IF_ERROR(CheckParents(s.path));
    DF_ASSIGN_OR_RETURN(s.existing, ReadRegular(s.path));
    if (!s.existing.has_value()) {
      s.action = "created";
    } else if (*s.existing == f.content) {
      s.action = "unchanged";
    } else {
      s.action = "replaced";
    }
    if (s.action == "replaced" && !ledger.Owns(s.path.string())) {
      DF_RETURN_IF_ERROR(ReadRegular(s.path.string() + kBackupSuffix).status());
    }
    steps.push_back(std::move(s));
  }

  std::vector<Change> changes;
  for (const Step& s : steps) {
    changes.push_back({s.action, s.path.string()});
  }
  if (dry_run) {
    return changes;
  }

  for (const Step& s : steps) {
    const std::string path = s.path.string();
    fs::perms mode = kDefaultMode;
    if (s.action == "unchanged") {
      continue;
    }
    if (s.action == "created") {
      DF_RETURN_IF_ERROR(CreateDirs(s.path.parent_path(), &ledger));
      if (!ledger.Owns(path)) {
        ledger.created.push_back(path);
      }
    } else {
      std::error_code ec;
      mode = fs::status(s.path, ec).permissions() & fs::perms::mask;
      if (ec) {
        mode = kDefaultMode;
      }
      if (!ledger.Owns(path)) {
        const fs::path backup = path + kBackupSuffix;
        if (!fs::exists(backup, ec)) {  // keep the first backup: it holds the original
          DF_RETURN_IF_ERROR(AtomicWrite(backup, *s.existing, mode));
        }
        ledger.replaced.emplace_back(path, backup.string());
      }
    }
    // Record the file before writing it, so that an interrupted run can still be restored.
    DF_RETURN_IF_ERROR(CreateDirs(dir, &ledger));
    DF_RETURN_IF_ERROR(SaveLedger(state_path, ledger));
    DF_RETURN_IF_ERROR(AtomicWrite(s.path, *s.content, mode));
  }
  return changes;
}

StatusOr<std::vector<Change>> Restore(const std::string& state_dir) {
  const fs::path dir = Absolute(state_dir);
  const fs::path state_path = dir / kStateFileName;
  DF_ASSIGN_OR_RETURN(std::optional<Ledger> loaded, LoadLedger(state_path));
  std::vector<Change> changes;
  if (!loaded.has_value()) {
    return changes;
  }
  const Ledger& ledger = *loaded;
  std::error_code ec;
  for (const auto& [path, backup] : ledger.replaced) {
    if (fs::is_regular_file(backup, ec)) {
      if (::rename(backup.c_str(), path.c_str()) != 0) {
        return ErrnoError("rename " + backup + " to " + path, errno);
      }
      SyncDir(fs::path(path).parent_path());
      changes.push_back({"restored", path});
    } else {
      changes.push_back({"kept", path});
    }
  }
  for (const std::string& path : ledger.created) {
    if (fs::is_regular_file(path, ec)) {
      if (::unlink(path.c_str()) != 0) {
        return ErrnoError("remove " + path, errno);
      }
      changes.push_back({"removed", path});
    }
  }
  if (::unlink(state_path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError("remove " + state_path.string(), errno);
  }
  changes.push_back({"removed", state_path.string()});
  std::vector<std::string> dirs = ledger.directories;
  // Deepest first (longer paths), ties in name order.
  std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  for (const std::string& d : dirs) {
    if (fs::is_directory(d, ec) && fs::is_empty(d, ec) && !ec) {
      if (::rmdir(d.c_str()) == 0) {
        changes.push_back({"removed", d});
      }
    }
  }
  return changes;
}

}  // namespace df::dfinit
