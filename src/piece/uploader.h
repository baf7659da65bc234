// Uploader: this host's uplink, shared by every task it serves. At most `slots` pieces are sent
// at once (enough concurrent streams to keep the uplink full); further requests wait in one
// queue per requesting link, served round-robin, so a neighbour that asks for many pieces does
// not starve the others, and a slow neighbour holds one slot while the other slots keep going at
// their own rate. Single-threaded (the engine's network thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <utility>

#include "piece/picker.h"

namespace df::piece {

class Uploader {
 public:
  // `start(owner, link, piece)` begins sending; it returns false when the send cannot start
  // (the link or the piece is gone), and the slot goes to the next request.
  using Start = std::function<bool(const void* owner, LinkId link, uint32_t piece)>;

  Uploader(size_t slots, Start start) : slots_(slots), start_(std::move(start)) {}
  // Told the number of active sends whenever it changes (load reporting).
  void set_on_active(std::function<void(size_t)> f) { on_active_ = std::move(f); }

  void Enqueue(const void* owner, LinkId link, uint32_t piece);
  // A send started by `start` ended (sent or failed).
  void Finished();
  // Drops a queued request (the requester cancelled it); false if it was not queued.
  bool Cancel(const void* owner, LinkId link, uint32_t piece);
  // Drops every queued request of a link.
  void Forget(const void* owner, LinkId link);

  size_t queued(const void* owner, LinkId link) const;
  size_t active() const { return active_; }
  size_t slots() const { return slots_; }
  void set_slots(size_t slots);

 private:
  using Key = std::pair<const void*, LinkId>;
  void Pump();

  size_t slots_;
  Start start_;
  std::function<void(size_t)> on_active_;
  size_t active_ = 0;
  std::map<Key, std::deque<uint32_t>> queues_;
  std::deque<Key> order_;  // links with queued requests, round-robin
};

}  // namespace df::piece
