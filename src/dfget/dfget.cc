#include "dragonfly/dfget/dfget.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "api/dfdaemon.grpc.pb.h"
#include "dfget/object_storage.h"
#include "dragonfly/backend/hub.h"
#include "dragonfly/common/net.h"
#include "dragonfly/rpc/status.h"
#include "dragonfly/tracing/context.h"

namespace df::dfget {
namespace {

namespace dfd = ::dragonfly::api::dfdaemon;
using Clock = std::chrono::steady_clock;

// Copies [*copied, upto) from src to dst at the same offsets, in the kernel where possible
// (copy_file_range); where the kernel cannot, through a 1 MiB buffer (remembered, so each chunk
// costs two syscalls, not three). A stream (stdout: a pipe or a socket) gets the bytes in order
// through sendfile, or write(2) where sendfile cannot.
Status CopyRange(int src, int dst, uint64_t* copied, uint64_t upto, bool stream) {
  static bool in_kernel = true;
  static std::vector<char> buf;
  while (*copied < upto) {
    auto in = static_cast<loff_t>(*copied);
    auto out = static_cast<loff_t>(*copied);
    size_t want = upto - *copied;
    ssize_t n = -1;
    if (in_kernel) {
      n = stream ? ::sendfile(dst, src, &in, want)
                 : ::copy_file_range(src, &in, dst, &out, want, 0);
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
        in_kernel = false;
      }
    }
    if (!in_kernel) {
      buf.resize(1 << 20);
      ssize_t r = ::pread(src, buf.data(), std::min<uint64_t>(buf.size(), want),
                          static_cast<off_t>(*copied));
      if (r <= 0) {
        return r == 0 ? DataLoss("task file is shorter than reported")
                      : ErrnoError("read task file", errno);
      }
      n = stream ? ::write(dst, buf.data(), static_cast<size_t>(r))
                 : ::pwrite(dst, buf.data(), static_cast<size_t>(r), static_cast<off_t>(*copied));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return ErrnoError("write output", n < 0 ? errno : EIO);
      }
    } else if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoError("copy to output", errno);
    } else if (n == 0) {
      return DataLoss("task file is shorter than reported");
    }
    *copied += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

std::string Human(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    u++;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f %s", bytes, units[u]);
  return buf;
}

void DrawProgress(uint64_t done, int64_t total, Clock::time_point start) {
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
  if (total > 0) {
    int pct = static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total));
    int bars = pct * 30 / 100;
    std::fprintf(stderr, "\r[%-30s] %3d%% %s / %s  %s/s ", std::string(bars, '#').c_str(), pct,
                 Human(static_cast<double>(done)).c_str(),
                 Human(static_cast<double>(total)).c_str(), Human(rate).c_str());
  } else {
    std::fprintf(stderr, "\r%s  %s/s ", Human(static_cast<double>(done)).c_str(),
                 Human(rate).c_str());
  }
}

// Where the bytes go: a temporary file beside the output, removed unless Commit() renamed it into
// place; or, for "-", standard output, written in order as the download grows.
class Output {
 public:
  ~Output() {
    if (fd_ >= 0 && !stream_) {
      ::close(fd_);
    }
    if (!path_.empty()) {
      ::unlink(path_.c_str());
    }
  }
  Status Open(const std::string& output) {
    output_ = output;
    if (output == "-") {
      if (::isatty(STDOUT_FILENO)) {
        return InvalidArgument(
            "refusing to write the download to a terminal (-O -): "
            "redirect standard output or give a file path");
      }
      stream_ = true;
      fd_ = STDOUT_FILENO;
      return Status::Ok();
    }
    std::filesystem::path p(output);
    std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
    std::error_code ec;
    if (std::filesystem::is_directory(output, ec)) {
      return InvalidArgument("output " + output + " is a directory");
    }
    std::string tmpl = dir + "/." + p.filename().string() + ".dfget-XXXXXX";
    fd_ = ::mkstemp(tmpl.data());
    if (fd_ < 0) {
      return ErrnoError("cannot write output in " + dir, errno);
    }
    path_ = tmpl;
    return Status::Ok();
  }
  Status Copy(int src, uint64_t* copied, uint64_t upto) {
    return CopyRange(src, fd_, copied, upto, stream_);
  }
  Status Commit(uint64_t size) {
    if (stream_) {
      return Status::Ok();
    }
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return ErrnoError("truncate output", errno);
    }
    ::fchmod(fd_, 0644);
    if (::close(fd_) != 0) {
      fd_ = -1;
      return ErrnoError("close output", errno);
    }
    fd_ = -1;
    if (::rename(path_.c_str(), output_.c_str()) != 0) {
      return ErrnoError("rename to " + output_, errno);
    }
    path_.clear();
    return Status::Ok();
  }

 private:
  int fd_ = -1;
  bool stream_ = false;
  std::string path_;
  std::string output_;
};

}  // namespace

StatusOr<std::pair<std::string, std::string>> ParseHeader(const std::string& h) {
  auto colon = h.find(':');
  if (colon == std::string::npos || colon == 0) {
    return InvalidArgument("bad header '" + h + "': want 'Key: Value'");
  }
  std::string key = h.substr(0, colon);
  std::string value = h.substr(colon + 1);
  value.erase(0, value.find_first_not_of(" \t"));
  if (key.find_first_of(" \t\r\n") != std::string::npos ||
      value.find_first_of("\r\n") != std::string::npos) {
    return InvalidArgument("bad header '" + h + "'");
  }
  return std::make_pair(key, value);
}

void SetStorage(const Options::Storage& s, ::dragonfly::api::scheduler::ObjectStorage* out) {
  out->set_access_key_id(s.access_key_id);
  out->set_access_key_secret(s.access_key_secret);
  out->set_session_token(s.session_token);
  out->set_region(s.region);
}

Status ApplyHubFlags(std::string token, const std::string& revision, Options* o) {
  if (o->url.rfind("hf://", 0) != 0) {
    if (!token.empty() || !revision.empty()) {
      return InvalidArgument("--hf-token and --hf-revision are for hf:// URLs");
    }
    return Status::Ok();
  }
  for (const char* env : {"DFGET_HF_TOKEN", "HF_TOKEN"}) {
    const char* v = std::getenv(env);
    if (token.empty() && v != nullptr) {
      token = v;
    }
  }
  if (!revision.empty()) {
    DF_ASSIGN_OR_RETURN(backend::HubLocation l, backend::ParseHubUrl(o->url));
    if (o->url.find("revision=") != std::string::npos && l.revision != revision) {
      return InvalidArgument("--hf-revision " + revision + " and the URL's revision " + l.revision +
                             " differ");
    }
    l.revision = revision;
    o->url = backend::HubUrl(l);
  }
  if (!token.empty()) {
    if (token.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return InvalidArgument("--hf-token: contains a line break");
    }
    o->headers["Authorization"] = "Bearer " + token;
  }
  return Status::Ok();
}

StatusOr<Result> Download(const Options& o) {
  auto start = Clock::now();
  if (o.output.empty()) {
    return InvalidArgument("missing output path (-O PATH)");
  }
  struct stat st{};
  const bool found = ::stat(o.endpoint.c_str(), &st) == 0;
  if (!found && errno == EACCES) {
    return Unavailable("dfdaemon's socket " + o.endpoint +
                       ": permission denied (the daemon's group may use it: with the packages, "
                       "`usermod -aG dragonfly $USER`)");
  }
  if (!found || !S_ISSOCK(st.st_mode)) {
    return Unavailable("dfdaemon is not running: no socket at " + o.endpoint +
                       " (start dfdaemon, or point --endpoint at its socket)");
  }
  Output out;
  DF_RETURN_IF_ERROR(out.Open(o.output));

  auto channel = grpc::CreateChannel("unix:" + o.endpoint, grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(3))) {
    return Unavailable("dfdaemon is not running: cannot connect to " + o.endpoint);
  }
  auto stub = dfd::Dfdaemon::NewStub(channel);
  dfd::DownloadRequest req;
  req.set_url(o.url);
  req.set_tag(o.tag);
  req.set_application(o.application);
  req.set_piece_length(o.piece_length);
  for (const auto& f : o.filtered_query_params) {
    req.add_filtered_query_params(f);
  }
  for (const auto& [k, v] : o.headers) {
    (*req.mutable_headers())[k] = v;
  }
  req.set_digest(o.digest);
  req.set_timeout_ms(o.timeout_ms);
  req.set_disable_back_to_source(o.disable_back_to_source);
  if (!o.storage.empty()) {
    SetStorage(o.storage, req.mutable_object_storage());
  }

  grpc::ClientContext ctx;
  // A caller's trace (the OpenTelemetry convention for processes: TRACEPARENT in the
  // environment): the daemon's spans of this download join it.
  if (const char* tp = std::getenv("TRACEPARENT");
      tp != nullptr && tracing::SpanContext::FromTraceparent(tp).has_value()) {
    ctx.AddMetadata("traceparent", tp);
  }
  if (o.timeout_ms > 0) {
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(o.timeout_ms + 2000));
  }
  auto reader = stub->Download(&ctx, req);
  dfd::DownloadResponse msg;
  net::Fd src;
  uint64_t copied = 0;
  int64_t total = -1;
  Result result;
  bool finished = false;
  Status local;
  auto last_draw = Clock::now() - std::chrono::seconds(1);
  while (local.ok() && reader->Read(&msg)) {
    if (msg.has_started()) {
      src.Reset(::open(msg.started().content_path().c_str(), O_RDONLY | O_CLOEXEC));
      if (!src.valid()) {
        local = ErrnoError("open task file " + msg.started().content_path(), errno);
      }
    } else if (msg.has_progress()) {
      const auto& p = msg.progress();
      total = p.content_length();
      result.back_to_source = p.bytes_back_to_source();
      result.remote_peer = p.bytes_remote_peer();
      result.seed_peer = p.bytes_seed_peer();
      result.local = p.bytes_local();
      if (src.valid()) {
        local = out.Copy(src.get(), &copied, p.ready_bytes());
      }
      if (o.progress && Clock::now() - last_draw > std::chrono::milliseconds(100)) {
        last_draw = Clock::now();
        DrawProgress(copied, total, start);
      }
    } else if (msg.has_finished()) {
      finished = true;
      total = msg.finished().content_length();
      result.cache_hit = msg.finished().cache_hit();
      result.warning = msg.finished().warning();
    }
  }
  if (!local.ok()) {
    ctx.TryCancel();
    reader->Finish();
    return local;
  }
  grpc::Status gs = reader->Finish();
  if (o.progress) {
    if (gs.ok()) {
      DrawProgress(copied, total, start);
    }
    std::fprintf(stderr, "\n");
  }
  if (!gs.ok()) {
    if (gs.error_code() == grpc::StatusCode::UNAVAILABLE && !finished && !src.valid()) {
      return Unavailable("dfdaemon unavailable: " + gs.error_message());
    }
    return rpc::FromServerAnswer(gs);
  }
  if (!finished || !src.valid() || total < 0) {
    return Internal("dfdaemon ended the download without finishing it");
  }
  DF_RETURN_IF_ERROR(out.Copy(src.get(), &copied, static_cast<uint64_t>(total)));
  DF_RETURN_IF_ERROR(out.Commit(static_cast<uint64_t>(total)));
  result.bytes = static_cast<uint64_t>(total);
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace df::dfget
