#include "daemon/back_to_source.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "backend/url_util.h"
#include "daemon/metrics.h"
#include "dragonfly/common/digest.h"
#include "dragonfly/common/piece.h"
#include "dragonfly/tracing/context.h"

namespace df::daemon {

using Clock = std::chrono::steady_clock;

namespace {

// Feeds [0, length) of the task file to `v` (what a resumed fetch does not fetch again).
Status HashPrefix(int fd, uint64_t length, DigestVerifier* v) {
  std::vector<char> buf(1 << 20);
  for (uint64_t off = 0; off < length;) {
    ssize_t r = ::pread(fd, buf.data(), std::min<uint64_t>(buf.size(), length - off),
                        static_cast<off_t>(off));
    if (r <= 0) {
      return r == 0 ? DataLoss("task file is shorter than its stored pieces")
                    : ErrnoError("read task file", errno);
    }
    v->Update(buf.data(), static_cast<size_t>(r));
    off += static_cast<uint64_t>(r);
  }
  return Status::Ok();
}

}  // namespace

std::optional<backend::StorageCredentials> StorageOf(
    const ::dragonfly::api::scheduler::ObjectStorage* storage) {
  if (storage == nullptr) {
    return std::nullopt;
  }
  return backend::StorageCredentials{storage->access_key_id(), storage->access_key_secret(),
                                     storage->session_token(), storage->region()};
}

Status FetchFromOrigin(const OriginFetch& f) {
  storage::Task& t = *f.task;
  storage::TaskStat st = t.Stat();
  uint32_t piece_length = st.piece_length;
  uint32_t next = piece_length == 0 ? 0 : static_cast<uint32_t>(t.ReadyBytes() / piece_length);
  backend::FetchRequest req;
  req.url = f.spec->url();
  for (const auto& [k, v] : f.spec->headers()) {
    req.headers[k] = v;
  }
  if (const tracing::SpanContext& c = tracing::CurrentContext(); c.valid()) {
    req.headers["traceparent"] = c.ToTraceparent();  // the back-to-source span
  }
  req.offset = PieceOffset(piece_length, next);
  req.attempts = f.attempts;
  req.storage = StorageOf(f.spec->has_object_storage() ? &f.spec->object_storage() : nullptr);
  std::unique_ptr<DigestVerifier> verifier;
  if (!f.digest.empty()) {
    DF_ASSIGN_OR_RETURN(verifier, ParseDigest(f.digest));
    DF_RETURN_IF_ERROR(HashPrefix(t.read_fd(), req.offset, verifier.get()));
  }
  uint64_t received = 0;
  std::vector<char> buf;
  uint32_t fill = 0;
  auto last_flush = Clock::now();
  auto commit = [&](bool last) -> Status {
    if (verifier) {
      verifier->Update(buf.data(), fill);
      if (last) {
        if (Status s = verifier->Verify(); !s.ok()) {
          if (f.digest_mismatch != nullptr) {
            *f.digest_mismatch = true;
          }
          return s.Annotate("origin content of " + backend::RedactUrl(f.spec->url()));
        }
        verifier.reset();
      }
    }
    if (!t.HasPiece(next)) {
      DF_RETURN_IF_ERROR(t.WritePiece(next, buf.data(), fill, Crc32c(0, buf.data(), fill)));
      *f.bytes += fill;
      f.metrics->bytes_back_to_source.Increment(fill);
      f.metrics->pieces_back_to_source.Increment();
      if (f.pieces != nullptr) {
        ++*f.pieces;
      }
      if (f.on_piece) {
        f.on_piece(next);
      }
    }
    next++;
    fill = 0;
    if (Clock::now() - last_flush > std::chrono::seconds(1)) {
      last_flush = Clock::now();
      return t.Flush();
    }
    return Status::Ok();
  };
  auto on_response = [&](const backend::ResponseInfo& info) -> Status {
    if (f.http_status != nullptr) {
      *f.http_status = info.http_status;
    }
    if (piece_length == 0) {
      piece_length = f.spec->piece_length() != 0 ? f.spec->piece_length()
                                                 : ComputePieceLength(info.total_length);
      DF_RETURN_IF_ERROR(t.SetGeometry(info.total_length, piece_length));
      if (f.on_geometry) {
        f.on_geometry();
      }
    } else if (info.total_length >= 0) {
      storage::TaskStat now = t.Stat();
      if (now.content_length < 0) {
        DF_RETURN_IF_ERROR(t.SetFinalLength(info.total_length));
        if (f.on_geometry) {
          f.on_geometry();
        }
      } else if (now.content_length != info.total_length) {
        return DataLoss("origin content length changed from " + std::to_string(now.content_length) +
                        " to " + std::to_string(info.total_length) + "; delete the task and retry");
      }
    }
    buf.resize(piece_length);
    return Status::Ok();
  };
  auto on_data = [&](const char* data, size_t n) -> Status {
    if (f.cancelled != nullptr && f.cancelled->load()) {
      return Cancelled("download cancelled");
    }
    received += n;
    while (n > 0) {
      uint32_t want = t.PieceSize(next);
      if (want == 0) {
        return DataLoss("origin sent more bytes than its content length");
      }
      uint32_t take = static_cast<uint32_t>(std::min<size_t>(n, want - fill));
      std::memcpy(buf.data() + fill, data, take);
      fill += take;
      data += take;
      n -= take;
      if (fill == want) {
        DF_RETURN_IF_ERROR(commit(t.Stat().content_length >= 0 && t.PieceSize(next + 1) == 0));
      }
    }
    return Status::Ok();
  };
  DF_RETURN_IF_ERROR(f.backend->Fetch(req, on_response, on_data));
  if (t.Stat().content_length < 0) {
    if (fill > 0) {
      DF_RETURN_IF_ERROR(commit(true));
    } else if (verifier) {  // the length was a whole number of pieces: every one is stored
      fill = 0;
      if (Status s = verifier->Verify(); !s.ok()) {
        if (f.digest_mismatch != nullptr) {
          *f.digest_mismatch = true;
        }
        return s.Annotate("origin content of " + backend::RedactUrl(f.spec->url()));
      }
    }
    DF_RETURN_IF_ERROR(t.SetFinalLength(static_cast<int64_t>(req.offset + received)));
    if (f.on_geometry) {
      f.on_geometry();
    }
  }
  if (!t.done()) {
    return DataLoss("origin closed the connection early: got " +
                    std::to_string(req.offset + received) + " of " +
                    std::to_string(t.Stat().content_length) + " bytes");
  }
  return Status::Ok();
}

}  // namespace df::daemon
