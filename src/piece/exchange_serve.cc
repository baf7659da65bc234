// The serving side of an exchange: requests from neighbours, the seed's injection of each piece
// once, the uploader's slots, and closing links that have nothing left to trade.
#include <algorithm>

#include "piece/exchange.h"
#include "piece/exchange_nb.h"

namespace df::piece {

void Exchange::CloseIdle() {
  const uint32_t total = LocalGeometry().total_pieces;
  if (total == 0 || picker_.missing() > 0 || !task_->done()) {
    return;
  }
  std::vector<LinkId> idle;
  for (auto& [id, nb] : nbs_) {
    if (nb->count >= total && nb->sending.empty()) {
      idle.push_back(id);
    }
  }
  for (LinkId id : idle) {
    Drop(id, Cancelled("both hold the whole task"), false);
  }
}

std::optional<uint32_t> Exchange::Suggest(const Nb& nb) {
  std::optional<uint32_t> pick;
  uint64_t seen = 0;
  for (uint32_t n = 0; n < injected_.size(); ++n) {
    if (!injected_[n] && picker_.have(n) && !nb.Has(n) && rng_() % ++seen == 0) {
      pick = n;
    }
  }
  return pick;
}

void Exchange::OnRequest(LinkId id, uint32_t n) {
  Nb* nb = Find(id);
  if (nb == nullptr) {
    return;
  }
  if (!task_->HasPiece(n)) {
    nb->link->SendReject({n, RejectCode::kNotAvailable, kNoPiece});
    return;
  }
  if (opts_.seed && n < injected_.size() && injected_[n]) {
    // A piece already handed out: point the asker elsewhere, once (a second request, after the
    // asker's back-off, is served: it may have no other source). Serving duplicates whenever a
    // slot is free instead swamps the seed (docs/benchmarks.md, the seed-policy runs).
    auto& told = nb->told_elsewhere;
    bool full_copy = held_count_ >= injected_.size();
    if (!full_copy && std::find(told.begin(), told.end(), n) == told.end()) {
      told.push_back(n);
      std::optional<uint32_t> s = Suggest(*nb);
      nb->link->SendReject({n, RejectCode::kElsewhere, s.value_or(kNoPiece)});
      return;
    }
  }
  if (uploader_->queued(this, id) >= opts_.max_queued_per_link) {
    nb->link->SendReject({n, RejectCode::kBusy, kNoPiece});
    return;
  }
  if (opts_.seed && n < injected_.size()) {
    injected_[n] = true;
  }
  uploader_->Enqueue(this, id, n);
}

void Exchange::OnCancel(LinkId id, uint32_t n) { uploader_->Cancel(this, id, n); }

bool Exchange::StartSend(LinkId id, uint32_t n) {
  Nb* nb = Find(id);
  if (nb == nullptr || !task_->HasPiece(n)) {
    return false;
  }
  uint32_t piece_length = LocalGeometry().piece_length;
  nb->sending.push_back(n);
  nb->link->SendPiece(n, task_->PieceCrc(n), task_->PieceSize(n),
                      static_cast<uint64_t>(n) * piece_length);
  return true;
}

void Exchange::OnPieceSent(LinkId id, uint32_t n, bool ok) {
  Nb* nb = Find(id);
  if (nb == nullptr) {
    return;  // dropped: its slots were released then
  }
  auto it = std::find(nb->sending.begin(), nb->sending.end(), n);
  if (it == nb->sending.end()) {
    return;
  }
  nb->sending.erase(it);
  if (ok) {
    nb->stats.bytes_sent += task_->PieceSize(n);
    nb->served_bytes += task_->PieceSize(n);
    nb->served_pieces++;
    nb->last_sent_at = Clock::now();
  }
  uploader_->Finished();
  CloseIdle();
}

}  // namespace df::piece
