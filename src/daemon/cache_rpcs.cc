#include "daemon/cache_rpcs.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "daemon/stored_tasks.h"
#include "dragonfly/common/digest.h"
#include "dragonfly/common/piece.h"
#include "dragonfly/common/task_id.h"
#include "dragonfly/rpc/status.h"

namespace df::daemon {
namespace {

using rpc::ToGrpc;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The file an import is written to before its ID is known (removed whatever happens).
class StagingFile {
 public:
  static StatusOr<std::unique_ptr<StagingFile>> Create(const std::string& dir) {
    unsigned char rnd[8];
    RAND_bytes(rnd, sizeof(rnd));
    std::string path = dir + "/.import-" + Sha256Hex(rnd, sizeof(rnd)).substr(0, 16);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      return ErrnoError("create " + path, errno);
    }
    return std::unique_ptr<StagingFile>(new StagingFile(std::move(path), fd));
  }
  ~StagingFile() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  Status Append(const std::string& data) {
    for (size_t off = 0; off < data.size();) {
      ssize_t w = ::write(fd_, data.data() + off, data.size() - off);
      if (w < 0) {
        if (errno == EINTR) {
          continue;
        }
        return ErrnoError("write " + path_, errno);
      }
      off += static_cast<size_t>(w);
    }
    return Status::Ok();
  }
  int fd() const { return fd_; }

 private:
  StagingFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  const std::string path_;
  const int fd_;
};

// Copies the staged content into the task, piece by piece (each with its CRC).
Status StorePieces(int fd, storage::Task& task, int64_t length, uint32_t piece_length) {
  DF_RETURN_IF_ERROR(task.SetGeometry(length, piece_length));
  std::vector<char> buf(piece_length);
  const uint32_t pieces = PieceCount(length, piece_length);
  for (uint32_t n = 0; n < pieces; ++n) {
    const uint32_t size = PieceSize(length, piece_length, n);
    ssize_t r = ::pread(fd, buf.data(), size, static_cast<off_t>(PieceOffset(piece_length, n)));
    if (r != static_cast<ssize_t>(size)) {
      return r < 0 ? ErrnoError("read the staged import", errno)
                   : DataLoss("the staged import is shorter than announced");
    }
    DF_RETURN_IF_ERROR(task.WritePiece(n, buf.data(), size, Crc32c(0, buf.data(), size)));
  }
  return task.Flush();
}

Status CheckHeader(const dfd::ImportCacheHeader& h, const CacheLimits& limits) {
  if (h.content_length() <= 0 || h.content_length() > limits.max_bytes) {
    return InvalidArgument(h.content_length() == 0
                               ? "an empty file cannot be a persistent cache task"
                               : "the file is larger than a persistent cache task may be (1 TiB)");
  }
  if (h.replicas() == 0 || h.replicas() > limits.max_replicas) {
    return InvalidArgument("--replicas must be in [1, " + std::to_string(limits.max_replicas) +
                           "]");
  }
  if (h.ttl_ms() < 1000 || h.ttl_ms() > static_cast<uint64_t>(limits.max_ttl.count())) {
    return InvalidArgument("--ttl must be in [1s, 720h]");
  }
  if (h.piece_length() != 0 &&
      (h.piece_length() < kMinPieceLength || h.piece_length() > kMaxPieceLength)) {
    return InvalidArgument("--piece-length must be in [4 MiB, 64 MiB]");
  }
  if (h.tag().size() > 1024 || h.application().size() > 1024) {
    return InvalidArgument("--tag and --application are at most 1 KiB");
  }
  if (!h.id().empty()) {
    DF_RETURN_IF_ERROR(TaskId::Parse(h.id()).status().Annotate("--id"));
  }
  return Status::Ok();
}

}  // namespace

CacheRpcs::CacheRpcs(DaemonContext* ctx, Downloads* downloads, std::string ip, std::string hostname,
                     bool seed)
    : ctx_(ctx),
      downloads_(downloads),
      ip_(std::move(ip)),
      hostname_(std::move(hostname)),
      seed_(seed) {
  // Imports a crash interrupted left their staging files.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(ctx_->config->storage.dir, ec)) {
    if (e.path().filename().string().rfind(".import-", 0) == 0) {
      std::filesystem::remove(e.path(), ec);
    }
  }
}

std::string CacheRpcs::PeerIdOf(const std::string& task_id) const {
  return StoredPeerId(ip_, hostname_, seed_, task_id);
}

grpc::Status CacheRpcs::Import(grpc::ServerReader<dfd::ImportCacheRequest>* reader,
                               dfd::ImportCacheResponse* response) {
  if (!ctx_->scheduler->enabled()) {
    return ToGrpc(FailedPrecondition("dfcache needs a scheduler (scheduler.addrs or a manager)"));
  }
  dfd::ImportCacheRequest msg;
  if (!reader->Read(&msg) || !msg.has_header()) {
    return ToGrpc(InvalidArgument("an import starts with its header"));
  }
  const dfd::ImportCacheHeader h = msg.header();
  if (Status s = CheckHeader(h, limits_); !s.ok()) {
    return ToGrpc(s);
  }
  auto staged = StagingFile::Create(ctx_->config->storage.dir);
  if (!staged.ok()) {
    return ToGrpc(staged.status());
  }
  PersistentCacheTaskId id_hash;
  Sha256Stream content;
  int64_t received = 0;
  while (reader->Read(&msg)) {
    received += static_cast<int64_t>(msg.data().size());
    if (received > h.content_length()) {
      return ToGrpc(InvalidArgument("the import sent more than its " +
                                    std::to_string(h.content_length()) + " bytes"));
    }
    id_hash.Update(msg.data().data(), msg.data().size());
    content.Update(msg.data().data(), msg.data().size());
    if (Status s = (*staged)->Append(msg.data()); !s.ok()) {
      return ToGrpc(s);
    }
  }
  if (received != h.content_length()) {
    return ToGrpc(InvalidArgument("the import ended after " + std::to_string(received) + " of " +
                                  std::to_string(h.content_length()) + " bytes"));
  }
  std::optional<uint32_t> given_piece_length;
  if (h.piece_length() != 0) {
    given_piece_length = h.piece_length();
  }
  const std::string computed = id_hash.Finish(h.tag(), h.application(), given_piece_length);
  const std::string id = h.id().empty() ? computed : h.id();
  const uint32_t piece_length =
      h.piece_length() != 0 ? h.piece_length() : ComputePieceLength(h.content_length());
  auto lease = ctx_->store->Acquire(id, PersistentCacheUrl(id));
  if (!lease.ok()) {
    return ToGrpc(lease.status());
  }
  const std::string digest = "sha256:" + content.HexDigest();
  storage::TaskStat st = (*lease)->Stat();
  // One ID, one content: never a URL's task (--id could name one), never other bytes.
  if (st.url != PersistentCacheUrl(id) ||
      (st.done && (st.content_length != h.content_length() ||
                   (!st.persistence.digest.empty() && st.persistence.digest != digest)))) {
    return ToGrpc(PermissionDenied("task " + id + " is held here with other content" +
                                   (st.url != PersistentCacheUrl(id) ? " (a URL's task)" : "")));
  }
  if (!st.done) {
    if (Status s = StorePieces((*staged)->fd(), **lease, h.content_length(), piece_length);
        !s.ok()) {
      (void)ctx_->store->Discard(id);
      return ToGrpc(s);
    }
  }
  storage::Persistence p;
  p.expires_at_ms = NowMs() + static_cast<int64_t>(h.ttl_ms());
  p.replicas = h.replicas();
  p.tag = h.tag();
  p.application = h.application();
  // The content's digest rides with the task (its holders are checked against it).
  p.digest = digest;
  p.verified = true;  // hashed as it came in
  if (Status s = (*lease)->SetPersistence(p); !s.ok()) {
    return ToGrpc(s);
  }
  spdlog::info("persistent cache task imported task_id={} bytes={} replicas={} ttl_ms={}", id,
               h.content_length(), h.replicas(), h.ttl_ms());
  response->set_task_id(id);
  response->set_content_length(h.content_length());
  if (Status s = AnnounceOne((*lease)->Stat(), /*imported=*/true); !s.ok()) {
    return ToGrpc(Unavailable("stored here as " + id +
                              ", but its scheduler did not take it yet (it is announced again "
                              "within an announce interval): " +
                              s.message()));
  }
  return grpc::Status::OK;
}

Status CacheRpcs::AnnounceOne(const storage::TaskStat& t, bool imported) {
  sched::AnnouncePersistentCacheTaskRequest req;
  req.set_imported(imported);
  req.set_host_id(ctx_->host_id);
  req.set_peer_id(PeerIdOf(t.task_id));
  sched::PersistentCacheTask* task = req.mutable_task();
  task->set_task_id(t.task_id);
  task->set_tag(t.persistence.tag);
  task->set_application(t.persistence.application);
  task->set_content_length(t.content_length);
  task->set_piece_length(t.piece_length);
  task->set_total_pieces(t.total_pieces);
  task->set_digest(t.persistence.digest);
  task->set_replicas(t.persistence.replicas);
  task->set_expires_at_ms(t.persistence.expires_at_ms);
  DF_ASSIGN_OR_RETURN(sched::AnnouncePersistentCacheTaskResponse resp,
                      ctx_->scheduler->AnnouncePersistentCacheTask(req));
  if (resp.deleted()) {
    spdlog::info("persistent cache task deleted by the cluster task_id={}", t.task_id);
    return downloads_->Delete(t.task_id);
  }
  if (resp.expires_at_ms() > t.persistence.expires_at_ms) {  // imported again elsewhere
    auto lease = ctx_->store->AcquireExisting(t.task_id);
    if (lease.ok()) {
      storage::Persistence p = t.persistence;
      p.expires_at_ms = resp.expires_at_ms();
      return (*lease)->SetPersistence(p);
    }
  }
  return Status::Ok();
}

bool CacheRpcs::Checked(const storage::TaskStat& t) {
  if (t.persistence.verified) {
    return true;
  }
  // A replica came from other hosts: it is announced only once its content is the one imported.
  if (Status s = VerifyFileDigest(t.data_path, t.persistence.digest); !s.ok()) {
    spdlog::warn("persistent cache replica discarded task_id={} error=\"{}\"", t.task_id,
                 s.ToString());
    (void)ctx_->store->Discard(t.task_id);
    return false;
  }
  auto lease = ctx_->store->AcquireExisting(t.task_id);
  if (!lease.ok()) {
    return false;
  }
  storage::Persistence p = t.persistence;
  p.verified = true;
  return (*lease)->SetPersistence(p).ok();
}

void CacheRpcs::AnnounceHoldings() {
  if (!ctx_->scheduler->enabled()) {
    return;
  }
  const int64_t now = NowMs();
  for (const storage::TaskStat& t : ctx_->store->List()) {
    // Replicas only: an exported copy is no holder.
    if (!t.done || !t.persistence.replica() || t.persistence.expires_at_ms <= now ||
        downloads_->Downloading(t.task_id) || !Checked(t)) {
      continue;
    }
    if (Status s = AnnounceOne(t); !s.ok()) {
      spdlog::warn("persistent cache task not announced task_id={} error=\"{}\"", t.task_id,
                   s.ToString());
      if (s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded) {
        return;  // the scheduler is away: the next interval tries them all again
      }
    }
  }
}

grpc::Status CacheRpcs::Stat(const dfd::CacheTaskRequest& request,
                             sched::StatPersistentCacheTaskResponse* response) {
  if (Status s = TaskId::Parse(request.task_id()).status(); !s.ok()) {
    return ToGrpc(s);
  }
  auto r = ctx_->scheduler->StatPersistentCacheTask(request.task_id());
  if (!r.ok()) {
    return ToGrpc(r.status());
  }
  *response = std::move(r).value();
  return grpc::Status::OK;
}

grpc::Status CacheRpcs::Delete(const dfd::CacheTaskRequest& request,
                               sched::DeletePersistentCacheTaskResponse* response) {
  if (Status s = TaskId::Parse(request.task_id()).status(); !s.ok()) {
    return ToGrpc(s);
  }
  auto r = ctx_->scheduler->DeletePersistentCacheTask(request.task_id());
  if (!r.ok()) {
    return ToGrpc(r.status());
  }
  *response = std::move(r).value();
  return grpc::Status::OK;
}

grpc::Status CacheRpcs::Replicate(const dfd::ReplicateCacheRequest& request) {
  const sched::PersistentCacheTask& t = request.task();
  if (Status s = TaskId::Parse(t.task_id()).status(); !s.ok()) {
    return ToGrpc(s);
  }
  if (t.replicas() == 0 || t.expires_at_ms() <= NowMs() || t.digest().rfind("sha256:", 0) != 0) {
    return ToGrpc(InvalidArgument("bad replication request for task " + t.task_id()));
  }
  DownloadOptions options;
  options.spec.set_task_id(t.task_id());
  options.spec.set_url(PersistentCacheUrl(t.task_id()));
  options.spec.set_tag(t.tag());
  options.spec.set_application(t.application());
  options.peer_id = PeerIdOf(t.task_id());
  options.disable_back_to_source = true;
  auto session = downloads_->StartOrAttach(options);
  if (!session.ok()) {
    return ToGrpc(session.status());
  }
  // Persistent from now on: once whole, the heartbeat announces it as a holder.
  storage::Persistence p;
  p.expires_at_ms = t.expires_at_ms();
  p.replicas = t.replicas();
  p.tag = t.tag();
  p.application = t.application();
  p.digest = t.digest();
  p.verified = false;  // checked once whole, before it is announced
  if (Status s = (*session)->task().SetPersistence(p); !s.ok()) {
    return ToGrpc(s);
  }
  spdlog::info("persistent cache replica started task_id={}", t.task_id());
  return grpc::Status::OK;
}

StatusOr<std::string> PersistentCacheDigest(SchedulerApi& scheduler, const std::string& task_id) {
  DF_ASSIGN_OR_RETURN(sched::StatPersistentCacheTaskResponse st,
                      scheduler.StatPersistentCacheTask(task_id));
  return st.known() ? st.task().digest() : std::string();
}

}  // namespace df::daemon
