#include "storage/task_impl.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "dragonfly/common/digest.h"
#include "dragonfly/common/piece.h"

namespace df::storage {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status WriteFileAtomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return ErrnoError("open " + tmp, errno);
  }
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0) {
      int err = errno;
      ::close(fd);
      return ErrnoError("write " + tmp, err);
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoError("rename " + tmp, errno);
  }
  return Status::Ok();
}

// The kernel's boot ID: metadata written in this boot describes page-cache contents that a
// process crash cannot lose; after a reboot the stored pieces are verified against their CRCs.
const std::string& BootId() {
  static const std::string kBootId = [] {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    std::getline(in, id);
    return id;
  }();
  return kBootId;
}

bool PieceMatches(int fd, uint64_t offset, uint32_t size, uint32_t crc) {
  std::vector<char> buf(size);
  size_t got = 0;
  while (got < size) {
    ssize_t r = ::pread(fd, buf.data() + got, size - got, static_cast<off_t>(offset + got));
    if (r <= 0) {
      return false;
    }
    got += static_cast<size_t>(r);
  }
  return Crc32c(0, buf.data(), size) == crc;
}

}  // namespace

TaskImpl::~TaskImpl() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

Status TaskImpl::OpenData() {
  std::string path = data_path();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd_ < 0) {
    return ErrnoError("open " + path, errno);
  }
  // Task data: the daemon's user writes, its group reads (dfget reads finished downloads from
  // here); a file of an older version (0600) or with more rights is set to that.
  if (::fchmod(fd_, 0640) != 0) {
    return ErrnoError("chmod " + path, errno);
  }
  return Status::Ok();
}

StatusOr<std::shared_ptr<TaskImpl>> TaskImpl::Create(const std::string& dir, const std::string& id,
                                                     const std::string& url) {
  std::shared_ptr<TaskImpl> t(new TaskImpl(dir, id));
  DF_RETURN_IF_ERROR(t->OpenData());
  t->url_ = url;
  t->created_at_ms_ = t->accessed_at_ms_ = NowMs();
  DF_RETURN_IF_ERROR(t->Flush());
  return t;
}

StatusOr<std::shared_ptr<TaskImpl>> TaskImpl::Load(const std::string& dir, const std::string& id) {
  std::ifstream in(dir + "/meta.json");
  if (!in) {
    return NotFound("no metadata for task " + id);
  }
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  // Metadata is untrusted input (a crash, a full disk, a hand edit): any wrong type or value is
  // DataLoss, which discards the task rather than stopping the daemon.
  try {
    if (j.is_discarded() || !j.is_object() || j.value("task_id", "") != id) {
      return DataLoss("corrupt metadata for task " + id);
    }
    return LoadChecked(dir, id, j);
  } catch (const nlohmann::json::exception& e) {
    return DataLoss("corrupt metadata for task " + id + ": " + e.what());
  }
}

StatusOr<std::shared_ptr<TaskImpl>> TaskImpl::LoadChecked(const std::string& dir,
                                                          const std::string& id,
                                                          const nlohmann::json& j) {
  std::shared_ptr<TaskImpl> t(new TaskImpl(dir, id));
  DF_RETURN_IF_ERROR(t->OpenData());
  struct stat st{};
  if (::fstat(t->fd_, &st) != 0) {
    return ErrnoError("stat " + t->data_path(), errno);
  }
  const bool verify = j.value("boot_id", "") != BootId();
  std::lock_guard lock(t->mu_);
  t->url_ = j.value("url", "");
  t->created_at_ms_ = j.value("created_at_ms", int64_t{0});
  t->accessed_at_ms_ = j.value("accessed_at_ms", int64_t{0});
  if (j.contains("persistent")) {
    const auto& jp = j["persistent"];
    t->persistence_.expires_at_ms = jp.at("expires_at_ms").get<int64_t>();
    t->persistence_.replicas = jp.at("replicas").get<uint32_t>();
    t->persistence_.tag = jp.at("tag").get<std::string>();
    t->persistence_.application = jp.at("application").get<std::string>();
    t->persistence_.digest = jp.at("digest").get<std::string>();
    t->persistence_.verified = jp.value("verified", false);
  }
  const auto& jl = j.value("content_length", nlohmann::json(-1));
  const auto& jp = j.value("piece_length", nlohmann::json(0));
  if (!jl.is_number_integer() || jl.get<int64_t>() < kUnknownLength || !jp.is_number_unsigned() ||
      jp.get<uint64_t>() > kMaxPieceLength) {
    return DataLoss("bad geometry in metadata of task " + id);
  }
  int64_t length = jl.get<int64_t>();
  auto piece_length = jp.get<uint32_t>();
  if (piece_length != 0) {
    DF_RETURN_IF_ERROR(t->SetGeometryLocked(length, piece_length));
    const auto& pieces = j.value("pieces", nlohmann::json::array());
    if (!pieces.is_array()) {
      return DataLoss("corrupt piece list in metadata of task " + id);
    }
    for (const auto& p : pieces) {
      if (!p.is_array() || p.size() != 3 || !p[0].is_number_unsigned() ||
          !p[1].is_number_unsigned() || !p[2].is_number_unsigned() ||
          p[0].get<uint64_t>() >= kMaxPieces || p[1].get<uint64_t>() > UINT32_MAX ||
          p[2].get<uint64_t>() > UINT32_MAX) {
        return DataLoss("corrupt piece entry in metadata of task " + id);
      }
      auto n = p[0].get<uint32_t>();
      auto crc = p[1].get<uint32_t>();
      auto size = p[2].get<uint32_t>();
      uint64_t end = PieceOffset(piece_length, n) + size;
      uint32_t total = t->TotalLocked();
      // Pieces past the data file's end (or the task) are dropped and fetched again.
      if ((total != 0 && n >= total) || size == 0 || size > piece_length ||
          end > static_cast<uint64_t>(st.st_size) || t->HasLocked(n) ||
          (verify && !PieceMatches(t->fd_, PieceOffset(piece_length, n), size, crc))) {
        continue;
      }
      t->GrowLocked(n + 1);
      t->bitmap_[n / 8] = static_cast<uint8_t>(t->bitmap_[n / 8] | (1u << (n % 8)));
      t->crcs_[n] = crc;
      t->sizes_[n] = size;
      t->finished_++;
      t->finished_bytes_ += size;
    }
    while (t->HasLocked(t->next_missing_)) {
      t->next_missing_++;
    }
    t->UpdateDoneLocked();
  }
  return t;
}

uint32_t TaskImpl::TotalLocked() const {
  return content_length_ < 0 ? 0 : PieceCount(content_length_, piece_length_);
}

void TaskImpl::GrowLocked(uint32_t pieces) {
  if (crcs_.size() < pieces) {
    crcs_.resize(pieces, 0);
    sizes_.resize(pieces, 0);
    bitmap_.resize((pieces + 7) / 8, 0);
  }
}

void TaskImpl::UpdateDoneLocked() {
  bool was = done_;
  done_ = content_length_ >= 0 && piece_length_ != 0 && finished_ == TotalLocked();
  if (done_ != was) {
    version_++;
    changed_.notify_all();
  }
}

Status TaskImpl::SetGeometryLocked(int64_t content_length, uint32_t piece_length) {
  if (piece_length == 0 || piece_length > kMaxPieceLength) {
    return InvalidArgument("piece length " + std::to_string(piece_length) + " is not in (0, " +
                           std::to_string(kMaxPieceLength) + "]");
  }
  if (content_length >= 0 &&
      static_cast<uint64_t>(content_length) > uint64_t{kMaxPieces} * piece_length) {
    return InvalidArgument("task " + id_ + " would have more than " + std::to_string(kMaxPieces) +
                           " pieces");
  }
  if (piece_length_ != 0 && piece_length_ != piece_length) {
    return InvalidArgument("task " + id_ + " has piece length " + std::to_string(piece_length_) +
                           ", not " + std::to_string(piece_length));
  }
  if (content_length_ >= 0 && content_length >= 0 && content_length_ != content_length) {
    return InvalidArgument("task " + id_ + " has content length " +
                           std::to_string(content_length_) + ", not " +
                           std::to_string(content_length));
  }
  bool changed = piece_length_ == 0 || (content_length_ < 0 && content_length >= 0);
  piece_length_ = piece_length;
  if (content_length >= 0 && content_length_ < 0) {
    content_length_ = content_length;
    GrowLocked(TotalLocked());
    if (::ftruncate(fd_, content_length) != 0) {
      return ErrnoError("truncate " + data_path(), errno);
    }
  }
  if (changed) {
    version_++;
    changed_.notify_all();
  }
  UpdateDoneLocked();
  return Status::Ok();
}

Status TaskImpl::SetGeometry(int64_t content_length, uint32_t piece_length) {
  std::lock_guard lock(mu_);
  return SetGeometryLocked(content_length, piece_length);
}

Status TaskImpl::SetFinalLength(int64_t content_length) {
  std::unique_lock lock(mu_);
  if (piece_length_ == 0) {
    return FailedPrecondition("task " + id_ + " has no piece length");
  }
  if (content_length_ >= 0) {
    return content_length_ == content_length
               ? Status::Ok()
               : InvalidArgument("task " + id_ + " already has content length " +
                                 std::to_string(content_length_));
  }
  uint32_t total = PieceCount(content_length, piece_length_);
  for (uint32_t n = 0; n < crcs_.size(); ++n) {
    if (HasLocked(n) &&
        (n >= total || sizes_[n] != df::PieceSize(content_length, piece_length_, n))) {
      return DataLoss("stored piece " + std::to_string(n) + " does not fit final length " +
                      std::to_string(content_length));
    }
  }
  DF_RETURN_IF_ERROR(SetGeometryLocked(content_length, piece_length_));
  bool now_done = done_;
  lock.unlock();
  return now_done ? Flush() : Status::Ok();
}

TaskStat TaskImpl::Stat() const {
  std::lock_guard lock(mu_);
  TaskStat s;
  s.task_id = id_;
  s.url = url_;
  s.content_length = content_length_;
  s.piece_length = piece_length_;
  s.finished_pieces = finished_;
  s.total_pieces = TotalLocked();
  s.finished_bytes = finished_bytes_;
  s.done = done_;
  s.created_at_ms = created_at_ms_;
  s.accessed_at_ms = accessed_at_ms_;
  s.data_path = data_path();
  s.persistence = persistence_;
  return s;
}

PieceMap TaskImpl::Map() const {
  std::lock_guard lock(mu_);
  PieceMap m;
  m.version = version_;
  m.content_length = content_length_;
  m.piece_length = piece_length_;
  m.total_pieces = TotalLocked();
  m.done = done_;
  m.bitmap = bitmap_;
  return m;
}

bool TaskImpl::HasPiece(uint32_t n) const {
  std::lock_guard lock(mu_);
  return HasLocked(n);
}

uint32_t TaskImpl::PieceCrc(uint32_t n) const {
  std::lock_guard lock(mu_);
  return n < crcs_.size() ? crcs_[n] : 0;
}

uint32_t TaskImpl::PieceSize(uint32_t n) const {
  std::lock_guard lock(mu_);
  if (HasLocked(n)) {
    return sizes_[n];
  }
  if (content_length_ < 0) {
    return piece_length_;
  }
  return df::PieceSize(content_length_, piece_length_, n);
}

Status TaskImpl::WritePiece(uint32_t n, const char* data, uint32_t len, uint32_t crc) {
  uint32_t piece_length = 0;
  {
    std::lock_guard lock(mu_);
    if (piece_length_ == 0) {
      return FailedPrecondition("task " + id_ + " has no geometry yet");
    }
    if (HasLocked(n)) {
      return Status::Ok();
    }
    piece_length = piece_length_;
    uint32_t total = TotalLocked();
    if (content_length_ >= 0) {
      if (n >= total) {
        return InvalidArgument("piece " + std::to_string(n) + " is past the end of task " + id_);
      }
      if (len != df::PieceSize(content_length_, piece_length_, n)) {
        return InvalidArgument("piece " + std::to_string(n) + " has " + std::to_string(len) +
                               " bytes, want " +
                               std::to_string(df::PieceSize(content_length_, piece_length_, n)));
      }
    } else if (len == 0 || len > piece_length_ || n >= kMaxPieces) {
      return InvalidArgument("piece " + std::to_string(n) + " of " + std::to_string(len) +
                             " bytes is out of bounds");
    }
  }
  if (Crc32c(0, data, len) != crc) {
    return DataLoss("piece " + std::to_string(n) + " of task " + id_ + " failed its CRC32C check");
  }
  auto off = static_cast<off_t>(PieceOffset(piece_length, n));
  size_t left = len;
  const char* p = data;
  while (left > 0) {
    ssize_t w = ::pwrite(fd_, p, left, off);
    if (w < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoError("write " + data_path(), errno);
    }
    p += w;
    off += w;
    left -= static_cast<size_t>(w);
  }
  std::lock_guard lock(mu_);
  if (HasLocked(n)) {
    return Status::Ok();
  }
  GrowLocked(n + 1);
  bitmap_[n / 8] = static_cast<uint8_t>(bitmap_[n / 8] | (1u << (n % 8)));
  crcs_[n] = crc;
  sizes_[n] = len;
  finished_++;
  finished_bytes_ += len;
  while (HasLocked(next_missing_)) {
    next_missing_++;
  }
  version_++;
  changed_.notify_all();
  UpdateDoneLocked();
  return Status::Ok();
}

uint64_t TaskImpl::ReadyBytes() const {
  std::lock_guard lock(mu_);
  if (next_missing_ == 0) {
    return 0;
  }
  return PieceOffset(piece_length_, next_missing_ - 1) + sizes_[next_missing_ - 1];
}

bool TaskImpl::done() const {
  std::lock_guard lock(mu_);
  return done_;
}

uint64_t TaskImpl::WaitForChange(uint64_t known_version, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  const uint64_t wakes = wakes_;
  changed_.wait_for(lock, timeout,
                    [&] { return version_ > known_version || done_ || wakes_ != wakes; });
  return version_;
}

void TaskImpl::WakeWaiters() {
  {
    std::lock_guard lock(mu_);
    ++wakes_;
  }
  changed_.notify_all();
}

Status TaskImpl::Flush() {
  std::lock_guard flush_lock(flush_mu_);
  nlohmann::json j;
  {
    std::lock_guard lock(mu_);
    j["task_id"] = id_;
    j["boot_id"] = BootId();
    j["url"] = url_;
    j["content_length"] = content_length_;
    j["piece_length"] = piece_length_;
    j["created_at_ms"] = created_at_ms_;
    j["accessed_at_ms"] = accessed_at_ms_;
    if (persistence_.persistent()) {
      j["persistent"] = {{"expires_at_ms", persistence_.expires_at_ms},
                         {"replicas", persistence_.replicas},
                         {"tag", persistence_.tag},
                         {"application", persistence_.application},
                         {"digest", persistence_.digest},
                         {"verified", persistence_.verified}};
    }
    auto pieces = nlohmann::json::array();
    for (uint32_t n = 0; n < crcs_.size(); ++n) {
      if (HasLocked(n)) {
        pieces.push_back({n, crcs_[n], sizes_[n]});
      }
    }
    j["pieces"] = std::move(pieces);
  }
  return WriteFileAtomically(dir_ + "/meta.json", j.dump());
}

void TaskImpl::Touch() {
  std::lock_guard lock(mu_);
  accessed_at_ms_ = NowMs();
}

Status TaskImpl::SetPersistence(const Persistence& p) {
  {
    std::lock_guard lock(mu_);
    persistence_ = p;
  }
  return Flush();
}

Persistence TaskImpl::persistence() const {
  std::lock_guard lock(mu_);
  return persistence_;
}

int64_t TaskImpl::accessed_at_ms() const {
  std::lock_guard lock(mu_);
  return accessed_at_ms_;
}

uint64_t TaskImpl::DiskBytes() const {
  struct stat st{};
  if (::fstat(fd_, &st) != 0) {
    return 0;
  }
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

}  // namespace df::storage
