// Swarm: a host's piece exchange with the other peers of its tasks (the mesh; see
// docs/architecture.md, "The mesh", and the wire format in piece_protocol.h).
//
// One network thread (Asio) owns every neighbour connection, inbound on the piece port and
// outbound to the neighbours the scheduler hands out, and each task's Exchange (what every
// neighbour holds, what to request, what to serve). Piece writes (CRC check + pwrite) run on a
// small disk pool; bodies are sent with sendfile(2) from the task's data file. An idle
// connection costs no thread and no wake-up.
//
// A download joins its task's exchange with Join(); the returned session is its handle (thread-
// safe). Tasks stored on this host are served to any neighbour that connects for them with a
// valid piece token (SwarmOptions::authorize), for as long as they are stored; a connection between
// two peers that both hold the whole task closes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"
#include "dragonfly/security/tls_settings.h"
#include "dragonfly/storage/task_store.h"

namespace df::piece {

struct NeighbourStats {
  std::string peer_id;
  bool seed = false;
  uint64_t bytes_received = 0;  // piece bytes from the neighbour
  uint64_t bytes_sent = 0;      // piece bytes to the neighbour
  uint64_t busy_ms = 0;         // request-to-arrival time of the pieces received
  uint32_t failures = 0;
};

// The pieces this host served one neighbour whose download is traced (its HELLO carried a
// traceparent), reported when the connection ends: the serving side's span of that trace.
struct ServedNeighbour {
  std::string task_id;
  std::string peer_id;
  std::string trace_parent;
  uint32_t pieces = 0;
  uint64_t bytes = 0;
  std::chrono::steady_clock::time_point connected_at;
  std::chrono::steady_clock::time_point last_sent_at;
  std::string ended;  // why the connection ended
};

// What a download session learns from its task's exchange (called on the network thread).
class ExchangeObserver {
 public:
  virtual ~ExchangeObserver() = default;
  // Piece n is stored, received from the neighbour `from` (its peer ID).
  virtual void OnPieceStored(uint32_t n, uint32_t bytes, const std::string& from,
                             bool from_seed) = 0;
  // A neighbour left, could not be reached, or was dropped (`failed`: it misbehaved or
  // failed; do not use it again).
  virtual void OnNeighbourGone(const std::string& peer_id, bool failed, const Status& why) = 0;
  // Storing a piece failed here (disk): the download cannot go on.
  virtual void OnLocalError(const Status& why) = 0;
};

struct SwarmOptions {
  std::string address = "127.0.0.1";  // piece port: host (every address of a name) and port
  uint16_t port = 0;
  std::string host_peer_id;  // our peer ID on tasks we serve without a download of our own
  bool seed_host = false;    // a seed peer: inject each piece into a swarm once
  uint32_t max_connections = 1024;
  uint32_t upload_slots = 4;              // pieces sent at once (see Uploader)
  uint64_t rate_limit_bytes_per_sec = 0;  // 0 = unlimited
  uint32_t pipeline = 2;                  // requests outstanding per neighbour
  std::chrono::milliseconds piece_timeout{30000};
  // A neighbour that takes none of our bytes for this long (it stopped reading, holding an
  // upload slot) is dropped.
  std::chrono::milliseconds write_stall_timeout{30000};
  int disk_threads = 2;
  // A stored task, leased while neighbours trade it; NotFound when this host does not have it.
  std::function<StatusOr<storage::TaskLease>(const std::string& task_id)> lookup;
  // Whether a neighbour that connects for `task_id` as `peer_id` with `token` (its HELLO's) may
  // trade the task: checked before the task is looked up; a refusal is sent as ERROR
  // kUnauthorized with the status' message. Null: every neighbour may (tests).
  std::function<Status(const std::string& token, const std::string& task_id,
                       const std::string& peer_id)>
      authorize;
  std::function<void(uint64_t bytes)> on_piece_sent;  // metrics
  // A traced neighbour's connection ended after this host served it pieces (network thread).
  std::function<void(const ServedNeighbour&)> on_served;
  // TLS on the piece port (docs/security.md, "The piece port"): with certificate files, every
  // connection is mutually authenticated TLS with a daemon or seed-peer certificate of the CA.
  // Without (cert empty): plaintext, guarded by the piece tokens only.
  security::TlsSettings tls;
  // A TLS connection was set up: its bytes are encrypted by the kernel (kTLS: sendfile kept) or
  // by OpenSSL in user space (metrics).
  std::function<void(bool kernel)> on_tls_connection;
  // Testing: pieces this host serves corrupted.
  std::function<bool(const std::string& task_id, uint32_t piece)> corrupt_for_test;
};

// A neighbour the scheduler handed out.
struct NeighbourAddr {
  std::string peer_id;
  std::vector<std::string> ips;  // in the order to try (Happy Eyeballs)
  uint16_t port = 0;
  bool seed = false;
};

// A download's hold on its task's exchange. Thread-safe. Destroying it stops the downloading
// (the exchange keeps serving its neighbours) and guarantees no further observer calls.
class SwarmSession {
 public:
  virtual ~SwarmSession() = default;
  // Connects to the neighbours not connected yet (failures reach OnNeighbourGone), showing
  // them `token`, the piece token the scheduler gave with them (empty: the last one given).
  virtual void Connect(std::vector<NeighbourAddr> neighbours, std::string token) = 0;
  // Request pieces from the neighbours (true) or only serve them (false, e.g. while the
  // download goes back to source).
  virtual void SetDownloading(bool downloading) = 0;
  // Piece n was stored by this host itself (back-to-source): announce it.
  virtual void PieceStored(uint32_t n) = 0;
  // The task's geometry became known here (back-to-source): tell the neighbours.
  virtual void GeometryKnown() = 0;
  // Per-neighbour counters since the last call.
  virtual std::vector<NeighbourStats> TakeStats() = 0;
  // Connected neighbours.
  virtual size_t neighbours() = 0;
};

struct JoinOptions {
  std::string peer_id;  // ours, for this task
  bool seed = false;    // this host is the task's seed peer
  bool download = true;
  ExchangeObserver* observer = nullptr;  // called on the network thread; must outlive the session
  uint32_t piece_length = 0;  // the task spec's (0: the default rule); bounds neighbours' geometry
  // The download's W3C traceparent when it is traced: neighbours learn it in the HELLO and
  // report the pieces they serve it as spans of that trace.
  std::string trace_parent;
};

class Swarm {
 public:
  virtual ~Swarm() = default;
  virtual uint16_t port() const = 0;
  // Open neighbour connections (the load announced to the scheduler).
  virtual int connections() const = 0;
  // Uploads in progress.
  virtual int active_uploads() const = 0;
  virtual std::unique_ptr<SwarmSession> Join(storage::TaskLease lease, JoinOptions options) = 0;
  // Closes the task's connections (it is being deleted), so its lease goes.
  virtual void Evict(const std::string& task_id) = 0;
  virtual void SetUploadSlots(uint32_t slots) = 0;
  // Closes every connection and joins the threads; sessions must be gone.
  virtual void Stop() = 0;
};

StatusOr<std::unique_ptr<Swarm>> StartSwarm(SwarmOptions options);

}  // namespace df::piece
