// Real engines on loopback: a seed and two peers trade a task both ways; a seed holds 200
// connected neighbours; refusals are answered with a clear error; only a neighbour with a valid
// piece token for the task is served; over TLS, only peers with a certificate of the CA connect.
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
#include "dragonfly/security/identity.h"
#include "dragonfly/security/piece_token.h"
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
    cv_.notify_all();
  }
  void OnLocalError(const Status&) override {}
  bool WaitPieces(uint32_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return pieces_ >= n; });
  }
  bool WaitFailures(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return failures_ >= n; });
  }
  uint32_t pieces() {
    std::lock_guard lock(mu_);
    return pieces_;
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
  std::atomic<int> tls_connections{0};
};

class SwarmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto signer = security::TokenSigner::Generate();
    ASSERT_TRUE(signer.ok());
    signer_ = std::make_unique<security::TokenSigner>(std::move(signer).value());
    ASSERT_TRUE(verifier_.Trust(signer_->public_key()).ok());
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
                std::chrono::milliseconds write_stall = std::chrono::milliseconds(30000),
                const security::TlsSettings& tls = {}) {
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
    o.authorize = [v = &verifier_](const std::string& token, const std::string& task,
                                   const std::string& peer) {
      return v->Verify(token, task, peer, security::NowUnixSeconds());
    };
    o.tls = tls;
    std::atomic<int>* secured = &h->tls_connections;
    o.on_tls_connection = [secured](bool) { ++*secured; };
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

  // Certificate files of `role` for `name`, from a test CA.
  security::TlsSettings Certs(const std::string& name, security::Role role) {
    if (ca_.cert_pem.empty()) {
      auto ca = security::MakeCa("swarm test CA", std::chrono::hours(1));
      EXPECT_TRUE(ca.ok());
      ca_ = *ca;
    }
    auto leaf = security::IssueCertificate(ca_, {role, name}, std::chrono::hours(1));
    EXPECT_TRUE(leaf.ok());
    std::filesystem::path dir = root_ / ("pki-" + name);
    std::filesystem::create_directories(dir);
    security::TlsSettings s;
    s.ca_cert = (dir / "ca.crt").string();
    s.cert = (dir / "tls.crt").string();
    s.key = (dir / "tls.key").string();
    EXPECT_TRUE(security::WriteSecretFile(s.ca_cert, ca_.cert_pem).ok());
    EXPECT_TRUE(security::WriteSecretFile(s.cert, leaf->cert_pem).ok());
    EXPECT_TRUE(security::WriteSecretFile(s.key, leaf->key_pem).ok());
    return s;
  }

  // The scheduler's grant: `peer` may read `task` for a minute.
  std::string Token(const std::string& peer, const std::string& task = kTask, int64_t ttl_s = 60) {
    auto t = signer_->Sign({task, peer, security::NowUnixSeconds() + ttl_s});
    EXPECT_TRUE(t.ok());
    return t.ok() ? *t : std::string();
  }

  NeighbourAddr Addr(const std::string& peer, Host* h, bool seed = false) {
    return {peer, {"127.0.0.1"}, h->swarm->port(), seed};
  }

  // Connects to `h`, sends `hello` and reads the first frame of the answer.
  static StatusOr<std::pair<FrameType, std::string>> Handshake(Host* h, const std::string& hello) {
    DF_ASSIGN_OR_RETURN(net::Fd fd, net::Connect("127.0.0.1", h->swarm->port(), 5000));
    net::SetTimeouts(fd.get(), 10000);
    DF_RETURN_IF_ERROR(net::WriteAll(fd.get(), hello.data(), hello.size()));
    char head[frame::kHeaderSize];
    DF_RETURN_IF_ERROR(net::ReadFull(fd.get(), head, sizeof(head)));
    FrameType type{};
    uint32_t len = 0;
    DF_RETURN_IF_ERROR(frame::DecodeHeader(head, &type, &len));
    std::string payload(len, '\0');
    DF_RETURN_IF_ERROR(net::ReadFull(fd.get(), payload.data(), len));
    return std::make_pair(type, std::move(payload));
  }

  std::unique_ptr<security::TokenSigner> signer_;
  security::TokenVerifier verifier_;
  security::KeyPair ca_;
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
  sa->Connect({Addr("seed-peer", seed, true), Addr("peer-b", b)}, Token("peer-a"));
  sb->Connect({Addr("seed-peer", seed, true), Addr("peer-a", a)}, Token("peer-b"));
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
    const std::string peer = "sim-" + std::to_string(i);
    std::string hello = frame::EncodeHello({kTask, peer, false, Token(peer)});
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
  send_all(stalled->get(), frame::EncodeHello({big, "stalled", false, Token("stalled", big)}));
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
  const std::string task(64, 'c');
  auto answer = Handshake(h, frame::EncodeHello({task, "x", false, Token("x", task)}));
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  ASSERT_EQ(answer->first, FrameType::kError);
  auto e = frame::DecodeError(answer->second);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->code, ErrorCode::kTaskNotFound);
}

// A process that names a stored task without the scheduler's grant for it gets nothing: no
// token, another task's token, another peer's, an expired one, or one signed by another key.
TEST_F(SwarmTest, OnlyANeighbourWithAValidTokenIsServed) {
  Host* h = AddHost("h", false);
  StoreAll(h);
  const std::string other_task(64, 'd');
  auto rogue = security::TokenSigner::Generate();
  ASSERT_TRUE(rogue.ok());
  auto forged = rogue->Sign({kTask, "thief", security::NowUnixSeconds() + 60});
  ASSERT_TRUE(forged.ok());
  const std::vector<std::pair<std::string, std::string>> attempts = {
      {"", "no piece token"},
      {Token("thief", other_task), "another task"},
      {Token("someone-else"), "another peer"},
      {Token("thief", kTask, -1), "expired"},
      {*forged, security::kUnknownKey},
  };
  for (const auto& [token, why] : attempts) {
    auto answer = Handshake(h, frame::EncodeHello({kTask, "thief", false, token}));
    ASSERT_TRUE(answer.ok()) << why << ": " << answer.status().ToString();
    ASSERT_EQ(answer->first, FrameType::kError) << why;
    auto e = frame::DecodeError(answer->second);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->code, ErrorCode::kUnauthorized) << why;
    EXPECT_NE(e->message.find(why), std::string::npos) << e->message;
  }
  EXPECT_EQ(h->uploaded.load(), 0u);
  // The same process with the grant for this task and peer ID is served.
  auto ok = Handshake(h, frame::EncodeHello({kTask, "thief", false, Token("thief")}));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->first, FrameType::kHello);
}

TEST_F(SwarmTest, OverTlsPeersTradeAndOnlyCertifiedPeersConnect) {
  constexpr auto kStall = std::chrono::milliseconds(30000);
  Host* seed = AddHost("seed", true, 1024, kStall, Certs("seed", security::Role::kSeedPeer));
  StoreAll(seed);
  Host* a = AddHost("a", false, 1024, kStall, Certs("a", security::Role::kDaemon));
  Watch wa;
  auto la = a->store->Acquire(kTask, "http://origin/f");
  ASSERT_TRUE(la.ok());
  storage::Task* ta = la->get().get();
  auto sa = a->swarm->Join(std::move(la).value(), {"peer-a", false, true, &wa, kPiece});
  sa->Connect({Addr("seed-peer", seed, true)}, Token("peer-a"));
  ASSERT_TRUE(wa.WaitPieces(kPieces));
  std::string got(data_.size(), '\0');
  ASSERT_EQ(::pread(ta->read_fd(), got.data(), got.size(), 0), static_cast<ssize_t>(got.size()));
  EXPECT_TRUE(got == data_);
  EXPECT_EQ(seed->tls_connections.load(), 1);
  EXPECT_EQ(a->tls_connections.load(), 1);
  // A plaintext neighbour, one of another CA and one whose certificate is no peer's (a
  // scheduler's) get nothing from the seed.
  security::TlsSettings scheduler = Certs("sched", security::Role::kScheduler);
  ca_ = {};  // Certs makes another CA
  security::TlsSettings foreign = Certs("foreign", security::Role::kDaemon);
  std::vector<Host*> refused = {
      AddHost("plain", false),
      AddHost("foreign", false, 1024, kStall, foreign),
      AddHost("sched", false, 1024, kStall, scheduler),
  };
  for (Host* h : refused) {
    Watch w;
    auto lease = h->store->Acquire(kTask, "http://origin/f");
    ASSERT_TRUE(lease.ok());
    auto session = h->swarm->Join(std::move(lease).value(), {"thief", false, true, &w, kPiece});
    session->Connect({Addr("seed-peer", seed, true)}, Token("thief"));
    EXPECT_TRUE(w.WaitFailures(1));
    EXPECT_EQ(w.pieces(), 0u);
  }
  EXPECT_EQ(seed->tls_connections.load(), 1);
}

}  // namespace
}  // namespace df::piece
