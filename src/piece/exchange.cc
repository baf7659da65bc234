#include "piece/exchange.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "dragonfly/common/piece.h"
#include "piece/exchange_nb.h"

namespace df::piece {

using std::chrono::milliseconds;

Exchange::Exchange(ExchangeOptions options, std::shared_ptr<storage::Task> task, Uploader* uploader,
                   PieceWriter writer)
    : opts_(std::move(options)),
      task_(std::move(task)),
      uploader_(uploader),
      writer_(std::move(writer)),
      picker_(opts_.rng_seed),
      rng_(opts_.rng_seed ^ 0x9e3779b97f4a7c15ULL) {
  GeometryKnown();
  storage::PieceMap map = task_->Map();
  for (uint32_t n = 0; n < map.total_pieces; ++n) {
    if (map.Has(n)) {
      picker_.SetHave(n);
    }
  }
}

Exchange::~Exchange() {
  for (auto& [id, nb] : nbs_) {
    uploader_->Forget(this, id);
    for (size_t i = 0; i < nb->sending.size(); ++i) {
      uploader_->Finished();
    }
  }
}

Exchange::Nb* Exchange::Find(LinkId id) {
  auto it = nbs_.find(id);
  return it == nbs_.end() ? nullptr : it->second.get();
}

frame::Geometry Exchange::LocalGeometry() const {
  storage::TaskStat st = task_->Stat();
  return {st.content_length, st.piece_length, st.total_pieces};
}

frame::Bitfield Exchange::LocalBitfield() const {
  storage::PieceMap map = task_->Map();
  frame::Bitfield b;
  b.geometry = {map.content_length, map.piece_length, map.total_pieces};
  b.done = map.done;
  b.bitmap = map.bitmap;
  return b;
}

void Exchange::SetDownloading(bool downloading) {
  downloading_ = downloading;
  if (!downloading_) {
    for (auto& [id, nb] : nbs_) {
      for (const auto& [n, at] : nb->outstanding) {
        picker_.Settled(n, id);
        nb->cancelled.insert(n);
        nb->link->SendCancel(n);
      }
      nb->outstanding.clear();
    }
  }
  Schedule(Clock::now());
}

void Exchange::GeometryKnown() {
  frame::Geometry g = LocalGeometry();
  if (g.piece_length == 0) {
    return;
  }
  picker_.Resize(g.total_pieces);
  writing_.resize(std::max<size_t>(writing_.size(), g.total_pieces), false);
  injected_.resize(std::max<size_t>(injected_.size(), g.total_pieces), false);
  held_.resize(injected_.size(), false);
  if (g.content_length != sent_length_ || !geometry_sent_) {
    geometry_sent_ = true;
    sent_length_ = g.content_length;
    for (auto& [id, nb] : nbs_) {
      nb->link->SendGeometry(g);
    }
  }
}

void Exchange::PieceStored(uint32_t n) {
  GeometryKnown();
  Stored(n);
}

void Exchange::Stored(uint32_t n) {
  picker_.SetHave(n);
  for (auto& [id, nb] : nbs_) {
    if (nb->outstanding.erase(n) > 0) {  // an endgame duplicate still under way
      picker_.Settled(n, id);
      nb->cancelled.insert(n);
      nb->link->SendCancel(n);
    }
    if (!nb->Has(n)) {
      nb->link->SendHave(n);
    }
  }
  CloseIdle();
}

void Exchange::AddNeighbour(LinkId id, NeighbourLink* link, const frame::Hello& hello) {
  auto nb = std::make_unique<Nb>();
  nb->id = id;
  nb->link = link;
  nb->peer_id = hello.peer_id;
  nb->seed = hello.seed;
  nb->stats.peer_id = hello.peer_id;
  nb->stats.seed = hello.seed;
  nb->trace_parent = hello.trace_parent;
  nb->connected_at = Clock::now();
  frame::Bitfield b = LocalBitfield();
  if (b.geometry.piece_length > 0 && !geometry_sent_) {
    geometry_sent_ = true;
    sent_length_ = b.geometry.content_length;
  }
  link->SendBitfield(b);
  nbs_[id] = std::move(nb);
}

void Exchange::NeighbourUnreachable(const std::string& peer_id, const Status& why) {
  if (observer_ != nullptr) {
    observer_->OnNeighbourGone(peer_id, true, why);
  }
}

void Exchange::RemoveNeighbour(LinkId id, const Status& why) {
  auto it = nbs_.find(id);
  if (it == nbs_.end()) {
    return;
  }
  it->second->link = nullptr;  // closed already
  Drop(id, why, false);
}

void Exchange::Drop(LinkId id, const Status& why, bool failed) {
  auto it = nbs_.find(id);
  if (it == nbs_.end()) {
    return;
  }
  std::unique_ptr<Nb> nb = std::move(it->second);
  nbs_.erase(it);
  for (const auto& [n, at] : nb->outstanding) {
    picker_.Settled(n, id);
  }
  for (uint32_t n = 0; n < nb->has.size(); ++n) {
    if (nb->has[n]) {
      picker_.RemoveHolder(n, nb->seed);
    }
  }
  uploader_->Forget(this, id);
  if (failed) {
    nb->stats.failures++;
    spdlog::warn("dropping neighbour task_id={} neighbour={} error=\"{}\"", opts_.task_id,
                 nb->peer_id, why.ToString());
  }
  departed_.push_back(nb->stats);
  if (opts_.on_served && !nb->trace_parent.empty() && nb->served_pieces > 0) {
    opts_.on_served({opts_.task_id, nb->peer_id, nb->trace_parent, nb->served_pieces,
                     nb->served_bytes, nb->connected_at, nb->last_sent_at, why.ToString()});
  }
  if (nb->link != nullptr) {
    nb->link->Close(why);
  }
  for (size_t i = 0; i < nb->sending.size(); ++i) {
    uploader_->Finished();  // its slots go to other requesters
  }
  if (observer_ != nullptr) {
    observer_->OnNeighbourGone(nb->peer_id, failed, why);
  }
  Schedule(Clock::now());
}

bool Exchange::AdoptGeometry(const frame::Geometry& g, LinkId from) {
  auto bad = [&](const std::string& why) {
    Drop(from, InvalidArgument("neighbour geometry: " + why), true);
    return false;
  };
  if (g.piece_length == 0) {
    return true;
  }
  if (g.piece_length > frame::kMaxPieceBytes || g.content_length < -1) {
    return bad("piece length " + std::to_string(g.piece_length) + " out of bounds");
  }
  if (g.content_length >= 0) {
    uint64_t total =
        (static_cast<uint64_t>(g.content_length) + g.piece_length - 1) / g.piece_length;
    if (total != g.total_pieces || total > kMaxPieces) {
      return bad("piece count " + std::to_string(g.total_pieces) +
                 " does not match the content length or exceeds " + std::to_string(kMaxPieces));
    }
  }
  frame::Geometry local = LocalGeometry();
  // A task's piece length follows from its spec (the ID covers it) or from the origin's length
  // by the default rule; a neighbour cannot choose one that would blow up the maps.
  uint32_t want = piece_length_;
  if (local.piece_length == 0 &&
      (want != 0 ? g.piece_length != want
                 : g.piece_length != ComputePieceLength(g.content_length) &&
                       g.piece_length != ComputePieceLength(kUnknownLength))) {
    return bad("piece length " + std::to_string(g.piece_length) + " is not the task's");
  }
  if (local.piece_length == 0) {
    if (Status s = task_->SetGeometry(g.content_length, g.piece_length); !s.ok()) {
      return bad(s.message());
    }
  } else if (local.piece_length != g.piece_length ||
             (local.content_length >= 0 && g.content_length >= 0 &&
              local.content_length != g.content_length)) {
    return bad("content length " + std::to_string(g.content_length) + " / piece length " +
               std::to_string(g.piece_length) + " differ from the task's " +
               std::to_string(local.content_length) + " / " + std::to_string(local.piece_length));
  } else if (local.content_length < 0 && g.content_length >= 0) {
    if (Status s = task_->SetFinalLength(g.content_length); !s.ok()) {
      return bad(s.message());
    }
  }
  GeometryKnown();
  return true;
}

void Exchange::SetHolder(Nb& nb, uint32_t n) {
  if (nb.has.size() <= n) {
    nb.has.resize(n + 1, false);
  }
  if (nb.has[n]) {
    return;
  }
  nb.has[n] = true;
  nb.count++;
  picker_.AddHolder(n, nb.seed);
  if (opts_.seed && n < injected_.size()) {
    injected_[n] = true;
    if (!held_[n]) {
      held_[n] = true;
      held_count_++;
    }
  }
}

void Exchange::OnBitfield(LinkId id, const frame::Bitfield& b) {
  Nb* nb = Find(id);
  if (nb == nullptr) {
    return;
  }
  if (nb->bitfield) {
    Drop(id, InvalidArgument("second BITFIELD"), true);
    return;
  }
  nb->bitfield = true;
  uint64_t bits = b.bitmap.size() * 8;
  if (bits > kMaxPieces + 7) {
    Drop(id, InvalidArgument("BITFIELD larger than any task"), true);
    return;
  }
  if (!AdoptGeometry(b.geometry, id)) {
    return;
  }
  uint32_t total = LocalGeometry().total_pieces;
  if ((b.geometry.piece_length == 0 && !b.bitmap.empty()) ||
      (total > 0 && b.bitmap.size() > (total + 7) / 8)) {
    Drop(id, InvalidArgument("BITFIELD larger than the task"), true);
    return;
  }
  for (uint32_t n = 0; n < bits; ++n) {
    if (((b.bitmap[n / 8] >> (n % 8)) & 1) != 0 && (total == 0 || n < total)) {
      SetHolder(*nb, n);
    }
  }
  CloseIdle();
  Schedule(Clock::now());
}

void Exchange::OnGeometry(LinkId id, const frame::Geometry& g) {
  if (Find(id) != nullptr && AdoptGeometry(g, id)) {
    Schedule(Clock::now());
  }
}

void Exchange::OnHave(LinkId id, uint32_t n) {
  Nb* nb = Find(id);
  if (nb == nullptr) {
    return;
  }
  uint32_t total = LocalGeometry().total_pieces;
  if ((total > 0 && n >= total) || n >= kMaxPieces || LocalGeometry().piece_length == 0) {
    Drop(id, InvalidArgument("HAVE of piece " + std::to_string(n) + " beyond the task"), true);
    return;
  }
  SetHolder(*nb, n);
  CloseIdle();
  Schedule(Clock::now());
}

void Exchange::OnPiece(LinkId id, uint32_t n, uint32_t crc, std::string data) {
  Nb* nb = Find(id);
  if (nb == nullptr) {
    return;
  }
  auto req = nb->outstanding.find(n);
  if (req == nb->outstanding.end()) {
    if (nb->cancelled.erase(n) > 0) {
      return;  // we cancelled it after the neighbour had started sending it
    }
    Drop(id, InvalidArgument("unrequested piece " + std::to_string(n)), true);
    return;
  }
  const auto now = Clock::now();
  const auto latency = std::chrono::duration_cast<milliseconds>(now - req->second);
  nb->outstanding.erase(req);
  // With the content length unknown yet, the last piece may be short.
  const bool size_ok = LocalGeometry().content_length >= 0
                           ? data.size() == task_->PieceSize(n)
                           : !data.empty() && data.size() <= task_->PieceSize(n);
  if (!size_ok) {
    picker_.Settled(n, id);
    Drop(id,
         InvalidArgument("piece " + std::to_string(n) + " has " + std::to_string(data.size()) +
                         " bytes, want " + std::to_string(task_->PieceSize(n))),
         true);
    return;
  }
  picker_.RecordLatency(latency);
  nb->stats.bytes_received += data.size();
  nb->stats.busy_ms += static_cast<uint64_t>(latency.count());
  if (picker_.have(n) || (n < writing_.size() && writing_[n])) {
    picker_.Settled(n, id);
    Schedule(now);  // an endgame duplicate that lost the race
    return;
  }
  if (writing_.size() <= n) {
    writing_.resize(n + 1, false);
  }
  writing_[n] = true;
  const auto bytes = static_cast<uint32_t>(data.size());
  // The piece stays "in flight" for the picker until it is stored (or found bad).
  writer_(n, std::move(data), crc,
          [this, id, n, bytes, peer = nb->peer_id, seed = nb->seed](Status s) {
            writing_[n] = false;
            if (s.ok()) {
              picker_.SetHave(n);
            }
            picker_.Settled(n, id);
            if (s.ok()) {
              Stored(n);
              if (observer_ != nullptr) {
                observer_->OnPieceStored(n, bytes, peer, seed);
              }
            } else if (s.code() == StatusCode::kDataLoss) {
              if (Find(id) != nullptr) {
                Drop(id, s.Annotate("corrupt piece " + std::to_string(n)), true);
              } else if (observer_ != nullptr) {
                observer_->OnNeighbourGone(peer, true, s);
              }
            } else if (observer_ != nullptr) {
              observer_->OnLocalError(s);
            }
            Schedule(Clock::now());
          });
  Schedule(now);
}

void Exchange::OnReject(LinkId id, const frame::Reject& r) {
  Nb* nb = Find(id);
  if (nb == nullptr || nb->outstanding.erase(r.piece) == 0) {
    if (nb != nullptr) {
      nb->cancelled.erase(r.piece);
    }
    return;
  }
  const auto now = Clock::now();
  picker_.Settled(r.piece, id);
  switch (r.code) {
    case RejectCode::kNotAvailable:
      if (nb->Has(r.piece)) {
        nb->has[r.piece] = false;
        nb->count--;
        picker_.RemoveHolder(r.piece, nb->seed);
      }
      if (++nb->lies > 3) {
        Drop(id, InvalidArgument("refuses pieces it announced"), true);
        return;
      }
      break;
    case RejectCode::kElsewhere:
      nb->refused_until[r.piece] = now + opts_.elsewhere_backoff;
      if (downloading_ && r.suggestion != kNoPiece && nb->Has(r.suggestion) &&
          !picker_.have(r.suggestion) && picker_.in_flight(r.suggestion) == 0 &&
          nb->outstanding.size() < opts_.pipeline) {
        nb->outstanding[r.suggestion] = now;
        picker_.Requested(r.suggestion, id, now);
        nb->link->SendRequest(r.suggestion);
      }
      break;
    case RejectCode::kBusy:
      nb->busy_until = now + opts_.busy_backoff;
      break;
  }
  Schedule(now);
}

void Exchange::Schedule(Clock::time_point now) {
  if (!downloading_ || picker_.missing() == 0) {
    return;
  }
  // Non-seed neighbours first: they are the preferred sources.
  std::vector<Nb*> order;
  for (bool seeds : {false, true}) {
    for (auto& [id, nb] : nbs_) {
      if (nb->seed == seeds && nb->bitfield && nb->busy_until <= now) {
        order.push_back(nb.get());
      }
    }
  }
  for (Nb* nb : order) {
    Picker::Neighbour view;
    view.id = nb->id;
    view.seed = nb->seed;
    view.has = [nb](uint32_t n) { return nb->Has(n); };
    view.refused = [nb, now](uint32_t n) {
      auto it = nb->refused_until.find(n);
      return it != nb->refused_until.end() && it->second > now;
    };
    while (nb->outstanding.size() < opts_.pipeline) {
      std::optional<uint32_t> n = picker_.Pick(view, now);
      if (!n) {
        break;
      }
      nb->outstanding[*n] = now;
      picker_.Requested(*n, nb->id, now);
      nb->link->SendRequest(*n);
    }
  }
}

void Exchange::Tick(Clock::time_point now) {
  std::vector<LinkId> silent;
  for (auto& [id, nb] : nbs_) {
    if (!nb->outstanding.empty() && nb->link->idle_for(now) > opts_.piece_timeout) {
      silent.push_back(id);
    }
    for (auto it = nb->refused_until.begin(); it != nb->refused_until.end();) {
      it = it->second <= now ? nb->refused_until.erase(it) : std::next(it);
    }
  }
  for (LinkId id : silent) {
    Drop(id, DeadlineExceeded("no data for " + std::to_string(opts_.piece_timeout.count()) + " ms"),
         true);
  }
  Schedule(now);
}

bool Exchange::HasNeighbour(const std::string& peer_id) const {
  return std::any_of(nbs_.begin(), nbs_.end(),
                     [&](const auto& kv) { return kv.second->peer_id == peer_id; });
}

LinkId Exchange::LinkOf(const std::string& peer_id) const {
  for (const auto& [id, nb] : nbs_) {
    if (nb->peer_id == peer_id) {
      return id;
    }
  }
  return 0;
}

std::vector<NeighbourStats> Exchange::TakeStats() {
  std::vector<NeighbourStats> out = std::move(departed_);
  departed_.clear();
  for (auto& [id, nb] : nbs_) {
    out.push_back(nb->stats);
    nb->stats.bytes_received = nb->stats.bytes_sent = nb->stats.busy_ms = 0;
    nb->stats.failures = 0;
  }
  return out;
}

}  // namespace df::piece
