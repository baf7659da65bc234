// Real engines on loopback: a seed and two peers trade a task both ways; a seed holds 200
// connected neighbours; refusals are answered with a clear error.
#include "dragonfly/piece/swarm.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "dragonfly/common/digest.h"
#include "dragonfly/common/net.h"
#include "dragonfly/common/piece.h"
#include "piece/frame.h"

namespace df::piece {
namespace {

constexpr uint32_t kPiece = 64 * 1024;
constexpr uint32_t kPieces = 48;
const std::string kTask(64, 'b');

// Waits for a download to store every piece; counts where pieces came from.
class Watch : public ExchangeObserver {
 public:
  void OnPieceStored(uint32_t, uint32_t bytes, const std::string& from, bool seed) override {
    std::lock_guard lock(mu_);
    pieces_++;
    (seed ? from_seed_ : from_peers_) += bytes;
    senders_.insert(from);
    cv_.notify_all();
  }
  void OnNeighbourGone(const std::string&, bool failed, const Status&) override {
    std::lock_guard lock(mu_);
    failures_ += failed ? 1 : 0;
  }
  void OnLocalError(const Status&) override {}
  bool WaitPieces(uint32_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return pieces_ >= n; });
  }
  uint64_t from_peers() {
    std::lock_guard lock(mu_);
    return from_peers_;
  }
  int failures() {
    std::lock_guard lock(mu_);
    return failures_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint32_t pieces_ = 0;
  uint64_t from_seed_ = 0, from_peers_ = 0;
  int failures_ = 0;
  std::set<std::string> senders_;
};

struct Host {
  std::unique_ptr<storage::TaskStore> store;
  std::unique_ptr<Swarm> swarm;
  std::atomic<uint64_t> uploaded{0};
};

class SwarmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / ("df-swarm-" + std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
    data_.resize(kPieces * kPiece - 1234);
    std::mt19937 rng(3);
    for (char& c : data_) {
      c = static_cast<char>(rng());
    }
  }
  void TearDown() override {
    for (auto& h : hosts_) {
      h->swarm->Stop();
    }
    hosts_.clear();
    std::filesystem::remove_all(root_);
  }

  Host* AddHost(const std::string& name, bool seed, uint32_t max_connections = 1024,
                std::chrono::milliseconds write_stall = std::chrono::milliseconds(30000)) {
    auto h = std::make_unique<Host>();
    auto store = storage::OpenTaskStore((root_ / name).string());
    EXPECT_TRUE(store.ok());
    h->store = std::move(store).value();
    SwarmOptions o;
    o.host_peer_id = name;
    o.seed_host = seed;
    o.max_connections = max_connections;
    o.piece_timeout = std::chrono::milliseconds(5000);
    o.write_stall_timeout = write_stall;
    storage::TaskStore* st = h->store.get();
    o.lookup = [st](const std::string& id) { return st->AcquireExisting(id); };
    std::atomic<uint64_t>* up = &h->uploaded;
    o.on_piece_sent = [up](uint64_t n) { *up += n; };
    auto swarm = StartSwarm(o);
    EXPECT_TRUE(swarm.ok()) << swarm.status().ToString();
    h->swarm = std::move(swarm).value();
    hosts_.push_back(std::move(h));
    return hosts_.back().get();
  }

  void StoreAll(Host* h) {
    auto lease = h->store->Acquire(kTask, "http://origin/f");
    ASSERT_TRUE(lease.ok());
    ASSERT_TRUE((*lease)->SetGeometry(static_cast<int64_t>(data_.size()), kPiece).ok());
    for (uint32_t n = 0; n < kPieces; ++n) {
      uint32_t len = PieceSize(static_cast<int64_t>(data_.size()), kPiece, n);
      const char* p = data_.data() + static_cast<size_t>(n) * kPiece;
      ASSERT_TRUE((*lease)->WritePiece(n, p, len, Crc32c(0, p, len)).ok());
    }
  }

  NeighbourAddr Addr(const std::string& peer, Host* h, bool seed = false) {
    return {peer, {"127.0.0.1"}, h->swarm->port(), seed};
  }

  std::filesystem::path root_;
  std::string data_;
  std::vector<std::unique_ptr<Host>> hosts_;
};

TEST_F(SwarmTest, PeersTradeBothWaysAndTheSeedSendsAboutOneCopy) {
  Host* seed = AddHost("seed", true);
  StoreAll(seed);
  Host* a = AddHost("a", false);
  Host* b = AddHost("b", false);
  Watch wa, wb;
  auto la = a->store->Acquire(kTask, "http://origin/f");
  auto lb = b->store->Acquire(kTask, "http://origin/f");
  ASSERT_TRUE(la.ok() && lb.ok());
  storage::Task* ta = la->get().get();
  storage::Task* tb = lb->get().get();
  auto sa = a->swarm->Join(std::move(la).value(), {"peer-a", false, true, &wa, kPiece});
  auto sb = b->swarm->Join(std::move(lb).value(), {"peer-b", false, true, &wb, kPiece});
  // Both dial each other at once: one of the two links stays, used both ways.
  sa->Connect({Addr("seed-peer", seed, true), Addr("peer-b", b)});
  sb->Connect({Addr("seed-peer", seed, true), Addr("peer-a", a)});
  ASSERT_TRUE(wa.WaitPieces(kPieces));
  ASSERT_TRUE(wb.WaitPieces(kPieces));
  EXPECT_TRUE(ta->done());
  EXPECT_TRUE(tb->done());
  for (storage::Task* t : {ta, tb}) {
    std::string got(data_.size(), '\0');
    ASSERT_EQ(::pread(t->read_fd(), got.data(), got.size(), 0), static_cast<ssize_t>(got.size()));
    EXPECT_TRUE(got == data_);
  }
  // Both directions between the two peers, and the seed's uplink carried each piece about once.
  EXPECT_GT(wa.from_peers(), 0u) << "A got pieces from B";
  EXPECT_GT(wb.from_peers(), 0u) << "B got pieces from A";
  EXPECT_GT(a->uploaded.load(), 0u);
  EXPECT_GT(b->uploaded.load(), 0u);
  EXPECT_LE(seed->uploaded.load(), data_.size() * 13 / 10);
  EXPECT_EQ(wa.failures() + wb.failures(), 0) << "a duplicate link is not a failure";
}

TEST_F(SwarmTest, ASeedHolds200NeighboursAndRefusesOnlyBeyondItsLimit) {
  Host* seed = AddHost("seed", true, /*max_connections=*/256);
  StoreAll(seed);
  std::vector<net::Fd> conns;
  for (int i = 0; i < 200; ++i) {
    auto fd = net::Connect("127.0.0.1", seed->swarm->port(), 5000);
    ASSERT_TRUE(fd.ok()) << i;
    net::SetTimeouts(fd->get(), 10000);
    std::string hello = frame::EncodeHello({kTask, "sim-" + std::to_string(i), false});
    ASSERT_TRUE(net::WriteAll(fd->get(), hello.data(), hello.size()).ok());
    conns.push_back(std::move(fd).value());
  }
  auto read_frame = [](int fd, FrameType* type) -> StatusOr<std::string> {
    char head[frame::kHeaderSize];
    DF_RETURN_IF_ERROR(net::ReadFull(fd, head, sizeof(head)));
    uint32_t len = 0;
    DF_RETURN_IF_ERROR(frame::DecodeHeader(head, type, &len));
    std::string payload(len, '\0');
    DF_RETURN_IF_ERROR(net::ReadFull(fd, payload.data(), len));
    return payload;
  };
  for (size_t i = 0; i < conns.size(); ++i) {
    FrameType type{};
    auto hello = read_frame(conns[i].get(), &type);
    ASSERT_TRUE(hello.ok()) << i << ": " << hello.status().ToString();
    ASSERT_EQ(type, FrameType::kHello) << "neighbour " << i << " refused";
    auto bitfield = read_frame(conns[i].get(), &type);
    ASSERT_TRUE(bitfield.ok());
    ASSERT_EQ(type, FrameType::kBitfield);
  }
  EXPECT_EQ(seed->swarm->connections(), 200);
  // Every one of them can still be served a piece.
  for (size_t i = 0; i < conns.size(); i += 25) {
    std::string req = frame::EncodePieceNumber(FrameType::kRequest, 0);
    std::string have = frame::EncodePieceNumber(FrameType::kHave, 0);
    ASSERT_TRUE(net::WriteAll(conns[i].get(), req.data(), req.size()).ok());
    FrameType type{};
    auto piece = read_frame(conns[i].get(), &type);
    ASSERT_TRUE(piece.ok());
    if (type == FrameType::kReject) {  // the seed injects pieces once: ask for the suggestion
      auto r = frame::DecodeReject(*piece);
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->code, RejectCode::kElsewhere);
      uint32_t n = r->suggestion == kNoPiece ? 0 : r->suggestion;
      req = frame::EncodePieceNumber(FrameType::kRequest, n);
      ASSERT_TRUE(net::WriteAll(conns[i].get(), req.data(), req.size()).ok());
      piece = read_frame(conns[i].get(), &type);
      ASSERT_TRUE(piece.ok());
    }
    EXPECT_EQ(type, FrameType::kPiece);
  }
  // Over the limit: a clear refusal, not a hang or a crash.
  std::vector<net::Fd> extra;
  for (int i = 0; i < 60; ++i) {
    auto fd = net::Connect("127.0.0.1", seed->swarm->port(), 5000);
    ASSERT_TRUE(fd.ok());
    net::SetTimeouts(fd->get(), 10000);
    extra.push_back(std::move(fd).value());
  }
  FrameType type{};
  auto last = read_frame(extra.back().get(), &type);
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(type, FrameType::kError);
}

// A neighbour that asks for pieces and then stops reading holds the sender's upload slots until
// the write-stall deadline drops it; the slots then serve others.
TEST_F(SwarmTest, ANeighbourThatStopsReadingIsDropped) {
  Host* h = AddHost("h", false, 1024, std::chrono::milliseconds(500));
  // 32 MiB in 4 MiB pieces: more than any socket buffers between the two ends hold.
  const std::string big(64, 'e');
  const uint32_t kBigPiece = 4u << 20;
  {
    auto lease = h->store->Acquire(big, "http://origin/big");
    ASSERT_TRUE(lease.ok());
    ASSERT_TRUE((*lease)->SetGeometry(int64_t{8} * kBigPiece, kBigPiece).ok());
    std::string piece(kBigPiece, 'x');
    for (uint32_t n = 0; n < 8; ++n) {
      ASSERT_TRUE((*lease)
                      ->WritePiece(n, piece.data(), kBigPiece, Crc32c(0, piece.data(), kBigPiece))
                      .ok());
    }
  }
  auto send_all = [](int fd, const std::string& s) {
    ASSERT_TRUE(net::WriteAll(fd, s.data(), s.size()).ok());
  };
  auto stalled = net::Connect("127.0.0.1", h->swarm->port(), 5000);
  ASSERT_TRUE(stalled.ok());
  int small = 4096;
  ::setsockopt(stalled->get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  send_all(stalled->get(), frame::EncodeHello({big, "stalled", false}));
  for (uint32_t n = 0; n < 8; ++n) {
    send_all(stalled->get(), frame::EncodePieceNumber(FrameType::kRequest, n));
  }
  // Dropped after the deadline, while it still reads nothing.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (h->swarm->connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a condition
  }
  EXPECT_EQ(h->swarm->connections(), 0);
  EXPECT_EQ(h->swarm->active_uploads(), 0);
}

TEST_F(SwarmTest, UnknownTaskIsAClearError) {
  Host* h = AddHost("h", false);
  auto fd = net::Connect("127.0.0.1", h->swarm->port(), 5000);
  ASSERT_TRUE(fd.ok());
  net::SetTimeouts(fd->get(), 10000);
  std::string hello = frame::EncodeHello({std::string(64, 'c'), "x", false});
  ASSERT_TRUE(net::WriteAll(fd->get(), hello.data(), hello.size()).ok());
  char head[frame::kHeaderSize];
  ASSERT_TRUE(net::ReadFull(fd->get(), head, sizeof(head)).ok());
  FrameType type{};
  uint32_t len = 0;
  ASSERT_TRUE(frame::DecodeHeader(head, &type, &len).ok());
  ASSERT_EQ(type, FrameType::kError);
  std::string payload(len, '\0');
  ASSERT_TRUE(net::ReadFull(fd->get(), payload.data(), len).ok());
  auto e = frame::DecodeError(payload);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->code, ErrorCode::kTaskNotFound);
}

}  // namespace
}  // namespace df::piece
