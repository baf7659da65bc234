// Exchange: the pieces of one task traded with its neighbours, for one host. It knows what each
// neighbour holds (BITFIELD on connect, HAVE as pieces land), requests what it lacks (Picker:
// rarest first, a seed peer only as the source of last resort, endgame), serves what others
// request through the host's Uploader and, on a seed peer, injects each piece into the swarm
// once (a request for a piece some neighbour already has or is receiving is refused with
// "elsewhere" and a suggestion of a piece nobody has, until every piece has been handed out).
// Verified pieces are announced to every neighbour. A neighbour that sends a corrupt or
// unrequested piece, a geometry that disagrees with the task's, or does not answer within
// the piece timeout is dropped; its outstanding pieces are requested elsewhere.
//
// No I/O of its own: links (sockets in the engine, fakes in tests) deliver events and carry its
// messages; piece writes go through `writer`, which verifies and stores them (on the disk pool
// in the engine) and reports back. Single-threaded: every call on the owner's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"
#include "dragonfly/piece/swarm.h"
#include "dragonfly/storage/task_store.h"
#include "piece/frame.h"
#include "piece/picker.h"
#include "piece/uploader.h"

namespace df::piece {

// One neighbour connection as the exchange drives it.
class NeighbourLink {
 public:
  virtual ~NeighbourLink() = default;
  virtual void SendBitfield(const frame::Bitfield& b) = 0;
  virtual void SendGeometry(const frame::Geometry& g) = 0;
  virtual void SendHave(uint32_t piece) = 0;
  virtual void SendRequest(uint32_t piece) = 0;
  virtual void SendCancel(uint32_t piece) = 0;
  virtual void SendReject(const frame::Reject& r) = 0;
  // Sends piece `piece` (`length` bytes at `offset` of the task's data file, `crc`); when the
  // body is out (or the send failed) the link calls Exchange::OnPieceSent.
  virtual void SendPiece(uint32_t piece, uint32_t crc, uint32_t length, uint64_t offset) = 0;
  // Closes the connection; the exchange has already forgotten the link.
  virtual void Close(const Status& why) = 0;
  // Time since the last byte arrived from the neighbour.
  virtual std::chrono::milliseconds idle_for(Clock::time_point now) const = 0;
};

struct ExchangeOptions {
  std::string task_id;
  std::string peer_id;                // this host's peer of the task
  bool seed = false;                  // this host is the task's seed peer (injects each piece once)
  uint32_t pipeline = 2;              // requests outstanding per neighbour
  uint32_t max_queued_per_link = 16;  // a neighbour's requests waiting here before kBusy
  std::chrono::milliseconds piece_timeout{30000};
  std::chrono::milliseconds elsewhere_backoff{10000};  // after a seed's kElsewhere
  std::chrono::milliseconds busy_backoff{500};         // after a neighbour's kBusy
  uint64_t rng_seed = 1;
  // The task spec's piece length (part of its ID); 0: the default rule, ComputePieceLength.
  // A neighbour's geometry is adopted only if its piece length is the one the task must have.
  uint32_t piece_length = 0;
  // A traced neighbour that got pieces from us is gone (SwarmOptions::on_served).
  std::function<void(const ServedNeighbour&)> on_served;
};

using PieceWriter = std::function<void(uint32_t n, std::string data, uint32_t crc,
                                       std::function<void(Status)> done)>;

class Exchange {
 public:
  Exchange(ExchangeOptions options, std::shared_ptr<storage::Task> task, Uploader* uploader,
           PieceWriter writer);
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  const std::string& task_id() const { return opts_.task_id; }
  storage::Task& task() const { return *task_; }

  // The download session's observer (nullptr: none), and whether to request pieces or only
  // serve them.
  void SetObserver(ExchangeObserver* observer) { observer_ = observer; }
  void SetPieceLength(uint32_t piece_length) {
    piece_length_ = piece_length != 0 ? piece_length : piece_length_;
  }
  void SetDownloading(bool downloading);
  bool downloading() const { return downloading_; }
  // Piece n was stored by someone else (back-to-source): announce it.
  void PieceStored(uint32_t n);
  // The task's geometry became known locally (back-to-source): tell the neighbours.
  void GeometryKnown();

  // A neighbour the session asked for could not be reached.
  void NeighbourUnreachable(const std::string& peer_id, const Status& why);
  // Replaces the piece writer (the engine's, which needs a handle on this exchange).
  void set_writer(PieceWriter writer) { writer_ = std::move(writer); }
  const std::string& peer_id() const { return opts_.peer_id; }
  bool seed() const { return opts_.seed; }

  // Link events.
  void AddNeighbour(LinkId id, NeighbourLink* link, const frame::Hello& hello);
  void RemoveNeighbour(LinkId id, const Status& why);
  void OnBitfield(LinkId id, const frame::Bitfield& b);
  void OnGeometry(LinkId id, const frame::Geometry& g);
  void OnHave(LinkId id, uint32_t n);
  void OnRequest(LinkId id, uint32_t n);
  void OnCancel(LinkId id, uint32_t n);
  void OnPiece(LinkId id, uint32_t n, uint32_t crc, std::string data);
  void OnReject(LinkId id, const frame::Reject& r);
  void OnPieceSent(LinkId id, uint32_t n, bool ok);
  // Starts sending a piece the uploader granted a slot to; false if the link or piece is gone.
  bool StartSend(LinkId id, uint32_t n);

  // Timeouts and the endgame; call every few hundred milliseconds while downloading.
  void Tick(Clock::time_point now);

  size_t neighbours() const { return nbs_.size(); }
  bool HasNeighbour(const std::string& peer_id) const;
  // The link to a neighbour, or 0.
  LinkId LinkOf(const std::string& peer_id) const;
  // Per-neighbour counters since the last call (reset), plus the departed ones.
  std::vector<NeighbourStats> TakeStats();

 private:
  struct Nb;
  Nb* Find(LinkId id);
  void Drop(LinkId id, const Status& why, bool failed);
  void Schedule(Clock::time_point now);
  bool AdoptGeometry(const frame::Geometry& g, LinkId from);
  void SetHolder(Nb& nb, uint32_t n);
  void Stored(uint32_t n);
  // Closes the links to neighbours that hold the whole task when we do too: nothing to trade.
  void CloseIdle();
  void ServeOrQueue(Nb& nb, uint32_t n);
  std::optional<uint32_t> Suggest(const Nb& nb);
  frame::Bitfield LocalBitfield() const;
  frame::Geometry LocalGeometry() const;

  const ExchangeOptions opts_;
  uint32_t piece_length_ = opts_.piece_length;  // SetPieceLength (a Join) may name it later
  std::shared_ptr<storage::Task> task_;
  Uploader* uploader_;
  PieceWriter writer_;
  ExchangeObserver* observer_ = nullptr;
  bool downloading_ = false;
  Picker picker_;
  std::map<LinkId, std::unique_ptr<Nb>> nbs_;
  std::vector<bool> writing_;   // a verified write of piece n is under way
  std::vector<bool> injected_;  // seed: handed out to (or held by) some neighbour
  std::vector<bool> held_;      // seed: announced by some neighbour
  size_t held_count_ = 0;
  bool geometry_sent_ = false;  // the neighbours know our piece length
  int64_t sent_length_ = -1;    // ... and this content length
  std::vector<NeighbourStats> departed_;
  std::mt19937_64 rng_;
};

}  // namespace df::piece
