#include "manager/console.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <vector>

#include "dragonfly/common/file.h"

namespace df::manager {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxFileBytes = 16 << 20;

const char* ContentType(const fs::path& p) {
  const std::string ext = p.extension().string();
  if (ext == ".html") {
    return "text/html; charset=utf-8";
  }
  if (ext == ".js" || ext == ".mjs") {
    return "text/javascript; charset=utf-8";
  }
  if (ext == ".css") {
    return "text/css; charset=utf-8";
  }
  if (ext == ".svg") {
    return "image/svg+xml";
  }
  if (ext == ".png") {
    return "image/png";
  }
  if (ext == ".ico") {
    return "image/x-icon";
  }
  if (ext == ".json") {
    return "application/json";
  }
  if (ext == ".woff2") {
    return "font/woff2";
  }
  return "application/octet-stream";
}

bool HasIndex(const fs::path& dir) {
  std::error_code ec;
  return !dir.empty() && fs::is_regular_file(dir / "index.html", ec);
}

// `rel` resolved under `root`, or "" when it leaves it or is not a regular file.
fs::path Resolve(const fs::path& root, const std::string& rel) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(root / fs::path(rel).relative_path(), ec);
  if (ec) {
    return {};
  }
  auto [r, _] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
  if (r != root.end() || !fs::is_regular_file(p, ec)) {
    return {};
  }
  return p;
}

HttpResponse File(const fs::path& p, bool immutable) {
  StatusOr<std::string> body = ReadSmallFile(p.string(), kMaxFileBytes);
  if (!body.ok()) {
    return HttpResponse::Error(404, "no such file");
  }
  HttpResponse resp;
  resp.body = std::move(body).value();
  resp.content_type = ContentType(p);
  resp.headers.emplace_back("Cache-Control",
                            immutable ? "public, max-age=31536000, immutable" : "no-cache");
  resp.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (!immutable) {
    resp.headers.emplace_back("Content-Security-Policy",
                              "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    resp.headers.emplace_back("X-Frame-Options", "DENY");
  }
  return resp;
}

}  // namespace

std::string FindConsoleDir(const std::string& configured) {
  if (!configured.empty()) {
    return HasIndex(configured) ? configured : "";
  }
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
  if (!ec) {
    candidates.push_back(exe.parent_path().parent_path() / "console");
  }
  candidates.emplace_back("/usr/share/dragonfly/console");
  for (const fs::path& c : candidates) {
    if (HasIndex(c)) {
      return fs::weakly_canonical(c, ec).string();
    }
  }
  return "";
}

void RegisterConsole(HttpRouter& router, const std::string& dir) {
  if (dir.empty()) {
    router.Add("GET", "/", [](HttpRequest&) {
      return HttpResponse::Error(404,
                                 "the web console is not installed here (build it with the "
                                 "project, or set console.dir)");
    });
    return;
  }
  std::error_code ec;
  const fs::path root = fs::weakly_canonical(dir, ec);
  router.Add("GET", "/assets/*", [root](HttpRequest& req) {
    fs::path p = Resolve(root, req.path);
    return p.empty() ? HttpResponse::Error(404, "no such file: " + req.path) : File(p, true);
  });
  // Everything else that is not the API is the app (it routes in the browser).
  router.Add("GET", "/*", [root](HttpRequest& req) {
    if (req.path.rfind("/api/", 0) == 0 || req.path.rfind("/oapi/", 0) == 0) {
      return HttpResponse::Error(404, "no such endpoint: " + req.path);
    }
    fs::path p = req.path == "/" ? fs::path() : Resolve(root, req.path);
    return File(p.empty() ? root / "index.html" : p, false);
  });
}

}  // namespace df::manager
