#include "dragonfly/dfcache/dfcache.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <vector>

#include "api/dfdaemon.grpc.pb.h"
#include "dragonfly/rpc/status.h"

namespace df::dfcache {
namespace {

namespace dfd = ::dragonfly::api::dfdaemon;
namespace sched = ::dragonfly::api::scheduler;

constexpr size_t kChunk = 1 << 20;  // bytes per message

StatusOr<std::unique_ptr<dfd::Dfdaemon::Stub>> Connect(const std::string& endpoint) {
  auto channel = grpc::CreateChannel("unix:" + endpoint, grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(3))) {
    return Unavailable("dfdaemon is not running: cannot connect to " + endpoint);
  }
  return dfd::Dfdaemon::NewStub(channel);
}

std::string Bytes(int64_t n) {
  char buf[64];
  if (n >= (1 << 30)) {
    std::snprintf(buf, sizeof(buf), "%.2f GiB", static_cast<double>(n) / (1 << 30));
  } else if (n >= (1 << 20)) {
    std::snprintf(buf, sizeof(buf), "%.2f MiB", static_cast<double>(n) / (1 << 20));
  } else {
    std::snprintf(buf, sizeof(buf), "%lld bytes", static_cast<long long>(n));
  }
  return buf;
}

std::string Duration(int64_t ms) {
  char buf[64];
  if (ms < 0) {
    return "expired";
  }
  const int64_t s = ms / 1000;
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof(buf), "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%.1fs", static_cast<double>(ms) / 1000);
  }
  return buf;
}

}  // namespace

StatusOr<ImportResult> Import(const ImportOptions& o,
                              const std::function<void(uint64_t, uint64_t)>& progress) {
  const auto start = std::chrono::steady_clock::now();
  int fd = ::open(o.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoError("open " + o.path, errno);
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st{};
  if (::fstat(fd, &st) != 0) {
    return ErrnoError("stat " + o.path, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgument(o.path + " is not a regular file");
  }
  DF_ASSIGN_OR_RETURN(auto stub, Connect(o.endpoint));
  grpc::ClientContext ctx;
  dfd::ImportCacheResponse resp;
  auto writer = stub->ImportCache(&ctx, &resp);
  dfd::ImportCacheRequest msg;
  dfd::ImportCacheHeader* h = msg.mutable_header();
  h->set_id(o.id);
  h->set_tag(o.tag);
  h->set_application(o.application);
  h->set_replicas(o.replicas);
  h->set_ttl_ms(o.ttl_ms);
  h->set_piece_length(o.piece_length);
  h->set_content_length(st.st_size);
  bool open = writer->Write(msg);
  msg.Clear();
  std::string buf(kChunk, '\0');
  uint64_t sent = 0;
  while (open) {
    ssize_t r = ::read(fd, buf.data(), buf.size());
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r < 0) {
      ctx.TryCancel();
      return ErrnoError("read " + o.path, errno);
    }
    if (r == 0) {
      break;
    }
    msg.set_data(buf.data(), static_cast<size_t>(r));
    open = writer->Write(msg);
    sent += static_cast<uint64_t>(r);
    if (progress) {
      progress(sent, static_cast<uint64_t>(st.st_size));
    }
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) {
    return rpc::FromServerAnswer(s);
  }
  ImportResult out;
  out.task_id = resp.task_id();
  out.content_length = resp.content_length();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

StatusOr<sched::StatPersistentCacheTaskResponse> Stat(const std::string& endpoint,
                                                      const std::string& task_id) {
  DF_ASSIGN_OR_RETURN(auto stub, Connect(endpoint));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  dfd::CacheTaskRequest req;
  req.set_task_id(task_id);
  sched::StatPersistentCacheTaskResponse resp;
  if (grpc::Status s = stub->StatCache(&ctx, req, &resp); !s.ok()) {
    return rpc::FromServerAnswer(s);
  }
  if (!resp.known()) {
    return NotFound("persistent cache task " + task_id +
                    " is not in the cluster (expired, deleted, or never imported)");
  }
  return resp;
}

StatusOr<uint32_t> Delete(const std::string& endpoint, const std::string& task_id) {
  DF_ASSIGN_OR_RETURN(auto stub, Connect(endpoint));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  dfd::CacheTaskRequest req;
  req.set_task_id(task_id);
  sched::DeletePersistentCacheTaskResponse resp;
  if (grpc::Status s = stub->DeleteCache(&ctx, req, &resp); !s.ok()) {
    return rpc::FromServerAnswer(s);
  }
  return resp.hosts();
}

std::string Describe(const sched::StatPersistentCacheTaskResponse& s, int64_t now_ms) {
  const sched::PersistentCacheTask& t = s.task();
  std::string out;
  auto line = [&](const std::string& k, const std::string& v) { out += k + ": " + v + "\n"; };
  line("ID", t.task_id());
  line("State",
       s.state() + " (" + std::to_string(s.holders_size()) + " of " + std::to_string(t.replicas()) +
           " replicas" +
           (s.replicating() > 0 ? ", " + std::to_string(s.replicating()) + " replicating" : "") +
           ")");
  line("Size", Bytes(t.content_length()) + " (" + std::to_string(t.content_length()) + " bytes, " +
                   std::to_string(t.total_pieces()) + " pieces of " + Bytes(t.piece_length()) +
                   ")");
  line("Digest", t.digest());
  if (!t.tag().empty()) {
    line("Tag", t.tag());
  }
  if (!t.application().empty()) {
    line("Application", t.application());
  }
  line("Expires in", Duration(t.expires_at_ms() - now_ms));
  out += "Holders:\n";
  for (const auto& h : s.holders()) {
    out += "  " + h.hostname() + "  " + h.ip() + "  " + (h.seed() ? "seed peer" : "peer") +
           "  seen " + Duration(h.last_seen_ms_ago()) + " ago  " + h.host_id() + "\n";
  }
  return out;
}

}  // namespace df::dfcache
