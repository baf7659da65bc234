#include "piece/uploader.h"

#include <algorithm>

namespace df::piece {

void Uploader::Enqueue(const void* owner, LinkId link, uint32_t piece) {
  Key k{owner, link};
  auto& q = queues_[k];
  if (q.empty()) {
    order_.push_back(k);
  }
  q.push_back(piece);
  Pump();
}

void Uploader::Finished() {
  if (active_ > 0) {
    active_--;
  }
  Pump();
  if (on_active_) {
    on_active_(active_);
  }
}

bool Uploader::Cancel(const void* owner, LinkId link, uint32_t piece) {
  auto it = queues_.find({owner, link});
  if (it == queues_.end()) {
    return false;
  }
  auto& q = it->second;
  auto p = std::find(q.begin(), q.end(), piece);
  if (p == q.end()) {
    return false;
  }
  q.erase(p);
  if (q.empty()) {
    queues_.erase(it);
    order_.erase(std::remove(order_.begin(), order_.end(), Key{owner, link}), order_.end());
  }
  return true;
}

void Uploader::Forget(const void* owner, LinkId link) {
  Key k{owner, link};
  if (queues_.erase(k) > 0) {
    order_.erase(std::remove(order_.begin(), order_.end(), k), order_.end());
  }
}

size_t Uploader::queued(const void* owner, LinkId link) const {
  auto it = queues_.find({owner, link});
  return it == queues_.end() ? 0 : it->second.size();
}

void Uploader::set_slots(size_t slots) {
  slots_ = std::max<size_t>(slots, 1);
  Pump();
}

void Uploader::Pump() {
  while (active_ < slots_ && !order_.empty()) {
    Key k = order_.front();
    order_.pop_front();
    auto it = queues_.find(k);
    if (it == queues_.end() || it->second.empty()) {
      continue;
    }
    uint32_t piece = it->second.front();
    it->second.pop_front();
    if (it->second.empty()) {
      queues_.erase(it);
    } else {
      order_.push_back(k);  // its next request waits for the others' turn
    }
    active_++;
    if (!start_(k.first, k.second, piece)) {
      active_--;
    }
  }
  if (on_active_) {
    on_active_(active_);
  }
}

}  // namespace df::piece
