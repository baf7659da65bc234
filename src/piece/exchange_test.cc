// The exchange with fake neighbours: piece choice, announcements, endgame, a neighbour's death,
// corrupt and lying neighbours, seed injection and the uploader's fairness.
#include "piece/exchange.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "dragonfly/common/digest.h"
#include "dragonfly/common/piece.h"

namespace df::piece {
namespace {

constexpr uint32_t kPiece = 16 * 1024;
constexpr uint32_t kPieces = 8;
const std::string kTask(64, 'a');

class FakeLink : public NeighbourLink {
 public:
  void SendBitfield(const frame::Bitfield& b) override { bitfields.push_back(b); }
  void SendGeometry(const frame::Geometry&) override { geometries++; }
  void SendHave(uint32_t n) override { haves.push_back(n); }
  void SendRequest(uint32_t n) override { requests.push_back(n); }
  void SendCancel(uint32_t n) override { cancels.push_back(n); }
  void SendReject(const frame::Reject& r) override { rejects.push_back(r); }
  void SendPiece(uint32_t n, uint32_t, uint32_t, uint64_t) override { sent.push_back(n); }
  void Close(const Status& why) override { closed = why.ok() ? Internal("closed") : why; }
  std::chrono::milliseconds idle_for(Clock::time_point) const override { return idle; }

  std::vector<frame::Bitfield> bitfields;
  int geometries = 0;
  std::vector<uint32_t> haves, requests, cancels, sent;
  std::vector<frame::Reject> rejects;
  std::optional<Status> closed;
  std::chrono::milliseconds idle{0};
};

class Recorder : public ExchangeObserver {
 public:
  void OnPieceStored(uint32_t n, uint32_t, const std::string& from, bool) override {
    stored.push_back({n, from});
  }
  void OnNeighbourGone(const std::string& peer, bool failed, const Status&) override {
    gone.push_back({peer, failed});
  }
  void OnLocalError(const Status& s) override { local_error = s; }
  std::vector<std::pair<uint32_t, std::string>> stored;
  std::vector<std::pair<std::string, bool>> gone;
  std::optional<Status> local_error;
};

class ExchangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("df-exchange-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto store = storage::OpenTaskStore(dir_.string());
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    data_.resize(kPieces * kPiece - 100);
    std::mt19937 rng(7);
    for (char& c : data_) {
      c = static_cast<char>(rng());
    }
  }
  void TearDown() override {
    ex_.reset();
    lease_.Reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // The exchange of a downloader (`pieces` already stored) or a seed (every piece stored).
  void Make(bool seed, bool known_geometry, std::vector<uint32_t> pieces = {}, size_t slots = 4) {
    auto lease = store_->Acquire(kTask, "http://origin/file");
    ASSERT_TRUE(lease.ok());
    lease_ = std::move(lease).value();
    if (known_geometry || seed) {
      ASSERT_TRUE(lease_->SetGeometry(static_cast<int64_t>(data_.size()), kPiece).ok());
    }
    if (seed) {
      for (uint32_t n = 0; n < kPieces; ++n) {
        pieces.push_back(n);
      }
    }
    for (uint32_t n : pieces) {
      ASSERT_TRUE(Store(n).ok());
    }
    uploader_ = std::make_unique<Uploader>(
        slots, [this](const void*, LinkId id, uint32_t n) { return ex_->StartSend(id, n); });
    ExchangeOptions o;
    o.task_id = kTask;
    o.peer_id = seed ? "seed-peer" : "me";
    o.seed = seed;
    o.pipeline = 2;
    o.piece_timeout = std::chrono::milliseconds(1000);
    o.piece_length = kPiece;
    ex_ = std::make_unique<Exchange>(
        o, lease_.get(), uploader_.get(),
        [this](uint32_t n, std::string data, uint32_t crc, std::function<void(Status)> done) {
          done(lease_->WritePiece(n, data.data(), static_cast<uint32_t>(data.size()), crc));
        });
    ex_->SetObserver(&observer_);
    ex_->SetDownloading(!seed);
  }

  Status Store(uint32_t n) {
    std::string d = Piece(n);
    return lease_->WritePiece(n, d.data(), static_cast<uint32_t>(d.size()),
                              Crc32c(0, d.data(), d.size()));
  }
  std::string Piece(uint32_t n) const {
    return data_.substr(static_cast<size_t>(n) * kPiece,
                        PieceSize(static_cast<int64_t>(data_.size()), kPiece, n));
  }

  // A neighbour holding `pieces`, connected and its BITFIELD delivered.
  FakeLink* Connect(LinkId id, const std::string& peer, std::vector<uint32_t> pieces,
                    bool seed = false) {
    auto link = std::make_unique<FakeLink>();
    FakeLink* raw = link.get();
    links_[id] = std::move(link);
    ex_->AddNeighbour(id, raw, {kTask, peer, seed});
    frame::Bitfield b;
    b.geometry = {static_cast<int64_t>(data_.size()), kPiece, kPieces};
    b.bitmap.assign((kPieces + 7) / 8, 0);
    for (uint32_t n : pieces) {
      b.bitmap[n / 8] |= static_cast<uint8_t>(1u << (n % 8));
    }
    b.done = pieces.size() == kPieces;
    ex_->OnBitfield(id, b);
    return raw;
  }
  void Deliver(LinkId id, uint32_t n) {
    std::string d = Piece(n);
    uint32_t crc = Crc32c(0, d.data(), d.size());
    ex_->OnPiece(id, n, crc, std::move(d));
  }

  std::filesystem::path dir_;
  std::unique_ptr<storage::TaskStore> store_;
  storage::TaskLease lease_;
  std::string data_;
  std::unique_ptr<Uploader> uploader_;
  std::unique_ptr<Exchange> ex_;
  std::map<LinkId, std::unique_ptr<FakeLink>> links_;
  Recorder observer_;
};

bool Contains(const std::vector<uint32_t>& v, uint32_t n) {
  return std::find(v.begin(), v.end(), n) != v.end();
}

TEST_F(ExchangeTest, RarestFirstAndTheSeedOnlyForWhatNoPeerHas) {
  Make(false, false);
  ex_->SetDownloading(false);  // learn every neighbour's map first
  FakeLink* s = Connect(1, "seed", {0, 1, 2, 3, 4, 5, 6, 7}, true);
  FakeLink* a = Connect(2, "a", {0, 1, 2, 3});
  FakeLink* b = Connect(3, "b", {2, 3, 4, 5});
  ASSERT_EQ(lease_->Stat().piece_length, kPiece) << "geometry adopted from the neighbours";
  ex_->SetDownloading(true);
  // Two requests to each neighbour (the pipeline). A and B are asked for the pieces only they
  // have (rarest first: 0, 1 / 4, 5 before the shared 2, 3); the seed only for 6 and 7.
  ASSERT_EQ(a->requests.size(), 2u);
  ASSERT_EQ(b->requests.size(), 2u);
  for (uint32_t n : a->requests) {
    EXPECT_TRUE(n == 0 || n == 1) << n;
  }
  for (uint32_t n : b->requests) {
    EXPECT_TRUE(n == 4 || n == 5) << n;
  }
  std::vector<uint32_t> from_seed = s->requests;
  std::sort(from_seed.begin(), from_seed.end());
  EXPECT_EQ(from_seed, (std::vector<uint32_t>{6, 7}));
}

TEST_F(ExchangeTest, VerifiedPiecesAreAnnouncedToEveryNeighbourThatLacksThem) {
  Make(false, true);
  FakeLink* a = Connect(1, "a", {0, 1});
  FakeLink* c = Connect(2, "c", {});
  ASSERT_FALSE(a->requests.empty());
  uint32_t n = a->requests[0];
  Deliver(1, n);
  EXPECT_TRUE(lease_->HasPiece(n));
  EXPECT_TRUE(Contains(c->haves, n));
  EXPECT_FALSE(Contains(a->haves, n)) << "A has it already";
  ASSERT_EQ(observer_.stored.size(), 1u);
  EXPECT_EQ(observer_.stored[0].second, "a");
  // A neighbour that connects later learns it from our BITFIELD.
  FakeLink* d = Connect(3, "d", {});
  ASSERT_EQ(d->bitfields.size(), 1u);
  EXPECT_TRUE((d->bitfields[0].bitmap[n / 8] >> (n % 8)) & 1);
}

TEST_F(ExchangeTest, ANeighboursDeathCostsOnlyItsInFlightPieces) {
  Make(false, true);
  FakeLink* a = Connect(1, "a", {0, 1, 2, 3, 4, 5, 6, 7});
  std::vector<uint32_t> lost = a->requests;
  ASSERT_EQ(lost.size(), 2u);
  FakeLink* b = Connect(2, "b", {0, 1, 2, 3, 4, 5, 6, 7});
  ASSERT_EQ(b->requests.size(), 2u);
  ex_->RemoveNeighbour(1, Unavailable("connection reset"));
  ASSERT_EQ(observer_.gone.size(), 1u);
  EXPECT_FALSE(observer_.gone[0].second) << "leaving is not misbehaving";
  // B is asked again right away, but only within its pipeline; A's pieces are back in the pool.
  // B alone finishes the task: the dead neighbour's pieces are asked of B.
  size_t delivered = 0;
  while (delivered < b->requests.size()) {
    Deliver(2, b->requests[delivered++]);
  }
  EXPECT_TRUE(lease_->done());
  for (uint32_t n : lost) {
    EXPECT_TRUE(Contains(b->requests, n)) << "piece " << n << " of the dead neighbour";
  }
}

TEST_F(ExchangeTest, EndgameAsksASecondNeighbourAndCancelsTheLoser) {
  Make(false, true, {0, 1, 2, 3, 4, 5});  // two pieces missing
  FakeLink* a = Connect(1, "a", {0, 1, 2, 3, 4, 5, 6, 7});
  ASSERT_EQ(a->requests.size(), 2u);  // 6 and 7, both in flight now
  FakeLink* b = Connect(2, "b", {0, 1, 2, 3, 4, 5, 6, 7});
  EXPECT_TRUE(b->requests.empty()) << "nothing new to ask for, and nothing overdue yet";
  // Past the endgame threshold, each overdue piece may go to a second neighbour.
  ex_->Tick(Clock::now() + std::chrono::milliseconds(600));
  ASSERT_EQ(b->requests.size(), 2u);
  Deliver(2, 6);
  EXPECT_TRUE(Contains(a->cancels, 6)) << "the duplicate at A is cancelled";
  Deliver(1, 7);
  EXPECT_TRUE(Contains(b->cancels, 7));
  EXPECT_TRUE(lease_->done());
}

TEST_F(ExchangeTest, ACorruptPieceIsNeverStoredAndItsSenderIsDropped) {
  Make(false, true);
  FakeLink* a = Connect(1, "a", {0, 1, 2, 3, 4, 5, 6, 7});
  uint32_t n = a->requests.at(0);
  std::string bad = Piece(n);
  uint32_t crc = Crc32c(0, bad.data(), bad.size());
  bad[bad.size() / 2] ^= 0x5a;
  ex_->OnPiece(1, n, crc, bad);
  EXPECT_FALSE(lease_->HasPiece(n));
  ASSERT_TRUE(a->closed.has_value());
  ASSERT_EQ(observer_.gone.size(), 1u);
  EXPECT_TRUE(observer_.gone[0].second) << "reported as failed";
  FakeLink* b = Connect(2, "b", {0, 1, 2, 3, 4, 5, 6, 7});
  EXPECT_FALSE(b->requests.empty());
}

TEST_F(ExchangeTest, LyingOrMisbehavingNeighboursAreDropped) {
  Make(false, true);
  // Announces everything, has nothing.
  FakeLink* liar = Connect(1, "liar", {0, 1, 2, 3, 4, 5, 6, 7});
  for (int i = 0; i < 8 && !liar->closed; ++i) {
    uint32_t n = liar->requests.back();
    ex_->OnReject(1, {n, RejectCode::kNotAvailable, kNoPiece});
  }
  EXPECT_TRUE(liar->closed.has_value());
  // Sends a piece nobody asked for.
  FakeLink* pusher = Connect(2, "pusher", {});
  Deliver(2, 3);
  EXPECT_TRUE(pusher->closed.has_value());
  EXPECT_FALSE(lease_->HasPiece(3));
  // Claims another geometry.
  FakeLink* odd = Connect(3, "odd", {});
  ex_->OnGeometry(3, {static_cast<int64_t>(data_.size()) * 2, kPiece, kPieces * 2});
  EXPECT_TRUE(odd->closed.has_value());
  EXPECT_EQ(lease_->Stat().content_length, static_cast<int64_t>(data_.size()));
  // Announces a piece beyond the task.
  FakeLink* far = Connect(4, "far", {});
  ex_->OnHave(4, kPieces + 3);
  EXPECT_TRUE(far->closed.has_value());
}

// A neighbour that speaks first for a task whose geometry is still unknown cannot make this peer
// adopt a geometry that would grow its maps without bound, or persist a wrong one.
TEST_F(ExchangeTest, NeighbourCannotImposeAGeometry) {
  Make(false, false);
  auto raw = [&](LinkId id, frame::Geometry g, size_t bitmap_bytes) {
    auto link = std::make_unique<FakeLink>();
    FakeLink* l = link.get();
    links_[id] = std::move(link);
    ex_->AddNeighbour(id, l, {kTask, "attacker" + std::to_string(id), false});
    frame::Bitfield b;
    b.geometry = g;
    b.bitmap.assign(bitmap_bytes, 0xff);
    ex_->OnBitfield(id, b);
    return l;
  };
  // 4 GiB in 1-byte pieces: four billion entries per map.
  EXPECT_TRUE(raw(1, {(int64_t{1} << 32) - 1, 1, UINT32_MAX}, 0)->closed.has_value());
  // The right length with a piece length the task cannot have.
  auto len = static_cast<int64_t>(data_.size());
  EXPECT_TRUE(raw(2, {len, kPiece / 2, kPieces * 2}, 1)->closed.has_value());
  // Unknown geometry, then HAVE of a huge piece number (the maps would follow it).
  FakeLink* far = raw(3, {}, 0);
  EXPECT_FALSE(far->closed.has_value());
  ex_->OnHave(3, (1u << 27) - 1);
  EXPECT_TRUE(far->closed.has_value());
  // A bitmap far beyond any task.
  EXPECT_TRUE(raw(4, {-1, kPiece, 0}, kMaxPieces / 8 + 2)->closed.has_value());
  EXPECT_EQ(lease_->Stat().piece_length, 0u);
  // An honest neighbour still sets the geometry, and the download proceeds.
  FakeLink* good = Connect(5, "good", {0, 1, 2});
  EXPECT_FALSE(good->closed.has_value());
  EXPECT_EQ(lease_->Stat().content_length, len);
  EXPECT_EQ(lease_->Stat().piece_length, kPiece);
  EXPECT_FALSE(good->requests.empty());
}

TEST_F(ExchangeTest, SilentNeighbourIsDroppedAfterThePieceTimeout) {
  Make(false, true);
  FakeLink* a = Connect(1, "a", {0, 1, 2, 3, 4, 5, 6, 7});
  ASSERT_FALSE(a->requests.empty());
  a->idle = std::chrono::milliseconds(500);
  ex_->Tick(Clock::now());
  EXPECT_FALSE(a->closed.has_value());
  a->idle = std::chrono::milliseconds(1500);
  ex_->Tick(Clock::now());
  EXPECT_TRUE(a->closed.has_value());
  EXPECT_TRUE(observer_.gone.at(0).second);
}

TEST_F(ExchangeTest, SeedInjectsEachPieceOnceUntilTheSwarmHasACopy) {
  Make(true, true, {}, /*slots=*/8);
  FakeLink* x = Connect(1, "x", {});
  FakeLink* y = Connect(2, "y", {});
  ex_->OnRequest(1, 0);
  EXPECT_EQ(x->sent, std::vector<uint32_t>{0});
  // Y asks for the same piece: told to get it elsewhere, with a piece nobody has yet.
  ex_->OnRequest(2, 0);
  ASSERT_EQ(y->rejects.size(), 1u);
  EXPECT_EQ(y->rejects[0].code, RejectCode::kElsewhere);
  uint32_t s = y->rejects[0].suggestion;
  EXPECT_NE(s, 0u);
  EXPECT_LT(s, kPieces);
  ex_->OnRequest(2, s);
  EXPECT_EQ(y->sent, std::vector<uint32_t>{s});
  // Asked again for the same piece, the seed serves it: Y may have no other source.
  ex_->OnRequest(2, 0);
  EXPECT_EQ(y->sent.size(), 2u);
  // Once every piece is out, the seed serves whatever is asked.
  for (uint32_t n = 0; n < kPieces; ++n) {
    ex_->OnHave(1, n);
  }
  FakeLink* z = Connect(3, "z", {});
  ex_->OnRequest(3, 5);
  EXPECT_EQ(z->sent, std::vector<uint32_t>{5});
  EXPECT_TRUE(z->rejects.empty());
}

TEST_F(ExchangeTest, UploadSlotsAreSharedRoundRobinAndQueuesAreBounded) {
  Make(false, true, {0, 1, 2, 3, 4, 5, 6, 7}, /*slots=*/1);  // a peer that has finished
  FakeLink* x = Connect(1, "x", {0, 1, 2, 3, 5, 6, 7});
  FakeLink* y = Connect(2, "y", {});
  ex_->OnRequest(2, 1);
  ex_->OnRequest(2, 2);
  ex_->OnRequest(2, 3);
  ex_->OnRequest(1, 4);
  // One slot: Y's first piece is sent; the others wait.
  EXPECT_EQ(y->sent, std::vector<uint32_t>{1});
  EXPECT_TRUE(x->sent.empty());
  ex_->OnPieceSent(2, 1, true);
  EXPECT_EQ(y->sent, (std::vector<uint32_t>{1, 2})) << "Y's second request came before X's";
  ex_->OnPieceSent(2, 2, true);
  EXPECT_EQ(x->sent, std::vector<uint32_t>{4}) << "round-robin: X's turn before Y's third";
  EXPECT_EQ(y->sent.size(), 2u);
  ex_->OnPieceSent(1, 4, true);
  EXPECT_EQ(y->sent, (std::vector<uint32_t>{1, 2, 3}));
  for (uint32_t i = 0; i < 20; ++i) {
    ex_->OnRequest(2, i % kPieces);
  }
  EXPECT_FALSE(y->rejects.empty());
  EXPECT_EQ(y->rejects.back().code, RejectCode::kBusy);
}

}  // namespace
}  // namespace df::piece
