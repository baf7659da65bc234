#include "dragonfly/dfget/recursive.h"

#include <fnmatch.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "api/dfdaemon.grpc.pb.h"
#include "dfget/object_storage.h"
#include "dragonfly/common/file.h"
#include "dragonfly/rpc/status.h"

namespace df::dfget {
namespace dfd = ::dragonfly::api::dfdaemon;
namespace fs = std::filesystem;

namespace {

StatusOr<std::vector<dfd::Entry>> ListEntries(const Options& o) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);  // 10,000 entries with long names
  auto channel =
      grpc::CreateCustomChannel("unix:" + o.endpoint, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(3))) {
    return Unavailable("dfdaemon is not running: cannot connect to " + o.endpoint);
  }
  auto stub = dfd::Dfdaemon::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
  dfd::ListEntriesRequest req;
  req.set_url(o.url);
  req.mutable_headers()->insert(o.headers.begin(), o.headers.end());
  if (!o.storage.empty()) {
    SetStorage(o.storage, req.mutable_object_storage());
  }
  dfd::ListEntriesResponse resp;
  grpc::Status s = stub->ListEntries(&ctx, req, &resp);
  if (!s.ok()) {
    return rpc::FromServerAnswer(s);
  }
  return std::vector<dfd::Entry>(resp.entries().begin(), resp.entries().end());
}

bool Included(const std::vector<std::string>& globs, const std::string& path) {
  if (globs.empty()) {
    return true;
  }
  for (const auto& g : globs) {
    // Without FNM_PATHNAME, "*.json" matches at any depth.
    if (::fnmatch(g.c_str(), path.c_str(), 0) == 0) {
      return true;
    }
  }
  return false;
}

bool AlreadyThere(const fs::path& p, int64_t size) {
  std::error_code ec;
  auto st = fs::status(p, ec);
  return !ec && fs::is_regular_file(st) && size >= 0 &&
         fs::file_size(p, ec) == static_cast<uintmax_t>(size) && !ec;
}

}  // namespace

StatusOr<DirectoryResult> DownloadDirectory(
    const DirectoryOptions& o,
    const std::function<void(const DirectoryResult&, uint64_t total_bytes)>& progress) {
  const auto start = std::chrono::steady_clock::now();
  if (o.base.output.empty() || o.base.output == "-") {
    return InvalidArgument("-r needs an output directory (-O DIR)");
  }
  DF_ASSIGN_OR_RETURN(std::vector<dfd::Entry> all, ListEntries(o.base));
  std::vector<dfd::Entry> entries;
  uint64_t total = 0;
  for (auto& e : all) {
    // The daemon checked the names; a name is a path here only if it stays under the output.
    if (!SafeRelativePath(e.path())) {
      return InvalidArgument("object '" + e.path() + "' cannot be a file under " + o.base.output);
    }
    if (Included(o.include_files, e.path())) {
      total += e.content_length() > 0 ? static_cast<uint64_t>(e.content_length()) : 0;
      entries.push_back(std::move(e));
    }
  }
  DirectoryResult result;
  result.listed = entries.size();
  std::error_code ec;
  fs::create_directories(o.base.output, ec);
  if (ec) {
    return Internal("create " + o.base.output + ": " + ec.message());
  }

  std::mutex mu;
  Status failure;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    while (true) {
      {
        std::lock_guard lock(mu);
        if (!failure.ok()) {
          return;  // stop taking new objects after the first failure
        }
      }
      const size_t i = next++;
      if (i >= entries.size()) {
        return;
      }
      const dfd::Entry& e = entries[i];
      const fs::path dest = fs::path(o.base.output) / e.path();
      bool skipped = AlreadyThere(dest, e.content_length());
      StatusOr<Result> r = Result{};
      if (!skipped) {
        std::error_code dir_ec;
        fs::create_directories(dest.parent_path(), dir_ec);
        Options one = o.base;
        one.url = e.url();
        one.output = dest.string();
        one.progress = false;
        r = dir_ec ? StatusOr<Result>(Internal("create " + dest.parent_path().string() + ": " +
                                               dir_ec.message()))
                   : Download(one);
      }
      std::lock_guard lock(mu);
      if (!r.ok()) {
        if (failure.ok()) {
          failure = r.status().Annotate(e.path());
        }
        return;
      }
      if (skipped) {
        ++result.skipped;
      } else {
        ++result.downloaded;
        result.bytes += r->bytes;
      }
      if (progress) {
        progress(result, total);
      }
    }
  };
  std::vector<std::thread> threads;
  const uint32_t n = std::max<uint32_t>(1, std::min<uint32_t>(o.concurrency, 16));
  for (uint32_t i = 0; i < n; ++i) {
    threads.emplace_back(worker);
  }
  for (auto& t : threads) {
    t.join();
  }
  DF_RETURN_IF_ERROR(failure);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace df::dfget
