#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "dragonfly/common/digest.h"
#include "dragonfly/common/net.h"
#include "dragonfly/piece/piece_client.h"
#include "dragonfly/piece/piece_protocol.h"
#include "dragonfly/piece/piece_server.h"
#include "piece/fake_task.h"

namespace df::piece {
namespace {

using Clock = std::chrono::steady_clock;
using testing::FakeTask;
using testing::RandomBytes;

constexpr uint32_t kPieceLen = 1u << 20;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

class PieceServerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (server_) {
      server_->Stop();
    }
  }

  // A task of `size` random bytes in pieces of `piece_len`; all pieces present if `complete`.
  std::shared_ptr<FakeTask> AddTask(const std::string& id, size_t size, uint32_t piece_len,
                                    bool complete) {
    auto task =
        std::make_shared<FakeTask>(id, RandomBytes(size, static_cast<uint32_t>(size)), piece_len);
    if (complete) {
      task->AddAll();
    }
    std::lock_guard<std::mutex> lock(mu_);
    tasks_[id] = task;
    return task;
  }

  void StartServer(PieceServerOptions opts = {}) {
    opts.address = "127.0.0.1";
    opts.port = 0;
    opts.io_timeout_ms = 5000;
    opts.lookup = [this](const std::string& id) -> std::shared_ptr<storage::Task> {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = tasks_.find(id);
      return it == tasks_.end() ? nullptr : it->second;
    };
    auto s = StartPieceServer(std::move(opts));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
  }

  std::unique_ptr<PieceConnection> Connect() {
    auto c = ConnectPiece({"127.0.0.1"}, server_->port(), 2000, 5000);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // Reads a whole piece response (header and body).
  static StatusOr<std::string> ReadPiece(PieceConnection& c, PieceHeader* header) {
    DF_ASSIGN_OR_RETURN(*header, c.ReadPieceHeader());
    std::string body(header->length, '\0');
    DF_RETURN_IF_ERROR(c.ReadBody(body.data(), header->length));
    return body;
  }

  // Fetches piece `n` of `task` and checks number, length, CRC and bytes.
  static void ExpectPiece(PieceConnection& c, const FakeTask& task, uint32_t n) {
    PieceHeader h;
    auto body = ReadPiece(c, &h);
    ASSERT_TRUE(body.ok()) << body.status().ToString();
    std::string want = task.PieceData(n);
    EXPECT_EQ(h.number, n);
    EXPECT_EQ(h.length, want.size());
    EXPECT_EQ(h.crc, Crc32c(0, want.data(), want.size()));
    EXPECT_EQ(Crc32c(0, body->data(), body->size()), h.crc);
    EXPECT_TRUE(*body == want) << "piece " << n << " bytes differ";
  }

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<FakeTask>> tasks_;
  std::unique_ptr<PieceServer> server_;
};

TEST_F(PieceServerTest, FetchesEveryPiece) {
  auto task = AddTask("t1", 3 * kPieceLen + kPieceLen / 2 + 7, kPieceLen, true);
  std::mutex sent_mu;
  std::condition_variable sent_cv;
  uint64_t sent_bytes = 0;
  PieceServerOptions opts;
  opts.on_piece_sent = [&](const std::string& id, uint32_t bytes) {
    EXPECT_EQ(id, "t1");
    std::lock_guard<std::mutex> lock(sent_mu);
    sent_bytes += bytes;
    sent_cv.notify_all();
  };
  StartServer(opts);
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(task->piece_count(), 4u);
  for (uint32_t n = 0; n < task->piece_count(); ++n) {
    ASSERT_TRUE(c->RequestPiece("t1", n).ok());
    ExpectPiece(*c, *task, n);
  }
  EXPECT_EQ(server_->active_connections(), 1);
  std::unique_lock<std::mutex> lock(sent_mu);
  uint64_t total = task->Stat().content_length;
  EXPECT_TRUE(sent_cv.wait_for(lock, std::chrono::seconds(5), [&] { return sent_bytes == total; }))
      << sent_bytes << " of " << total;
}

TEST_F(PieceServerTest, BodyCanBeReadInParts) {
  auto task = AddTask("t1", 2 * kPieceLen, kPieceLen, true);
  StartServer();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->RequestPiece("t1", 1).ok());
  ASSERT_TRUE(c->RequestPiece("t1", 0).ok());
  auto h = c->ReadPieceHeader();
  ASSERT_TRUE(h.ok());
  std::string body(h->length, '\0');
  ASSERT_TRUE(c->ReadBody(body.data(), 1000).ok());
  // The next header cannot be read while body bytes are pending; too much is rejected.
  EXPECT_EQ(c->ReadPieceHeader().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(c->ReadBody(body.data(), h->length).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(c->ReadBody(body.data() + 1000, h->length - 1000).ok());
  EXPECT_TRUE(body == task->PieceData(1));
  ExpectPiece(*c, *task, 0);
}

TEST_F(PieceServerTest, PipelinedRequestsAnsweredInOrder) {
  auto task = AddTask("t1", 5 * kPieceLen, kPieceLen, false);
  for (uint32_t n : {0u, 1u, 2u, 4u}) {
    task->AddPiece(n);
  }
  StartServer();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  // 8 requests, mixing pieces, a missing piece and a map.
  const int kMissing = -1;
  const int kMap = -2;
  const std::vector<int> order = {2, 0, kMissing, 4, kMap, 1, 2, 0};
  for (int r : order) {
    Status s = r == kMap       ? c->RequestMap("t1", 0, 0)
               : r == kMissing ? c->RequestPiece("t1", 3)
                               : c->RequestPiece("t1", static_cast<uint32_t>(r));
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  for (int r : order) {
    if (r == kMap) {
      auto m = c->ReadMap();
      ASSERT_TRUE(m.ok()) << m.status().ToString();
      EXPECT_TRUE(m->Has(4));
      EXPECT_FALSE(m->Has(3));
    } else if (r == kMissing) {
      EXPECT_EQ(c->ReadPieceHeader().status().code(), StatusCode::kNotFound);
    } else {
      ExpectPiece(*c, *task, static_cast<uint32_t>(r));
    }
  }
}

TEST_F(PieceServerTest, MissingPieceIsNotFoundAndConnectionSurvives) {
  auto task = AddTask("t1", 3 * kPieceLen, kPieceLen, false);
  task->AddPiece(0);
  StartServer();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->RequestPiece("t1", 1).ok());
  Status s = c->ReadPieceHeader().status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("not available"), std::string::npos) << s.ToString();
  ASSERT_TRUE(c->RequestPiece("t1", 99).ok());
  EXPECT_EQ(c->ReadPieceHeader().status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(c->RequestPiece("t1", 0).ok());
  ExpectPiece(*c, *task, 0);
}

TEST_F(PieceServerTest, UnknownTaskIsNotFound) {
  auto task = AddTask("t1", kPieceLen, kPieceLen, true);
  StartServer();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->RequestPiece("nope", 0).ok());
  Status s = c->ReadPieceHeader().status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("nope"), std::string::npos) << s.ToString();
  ASSERT_TRUE(c->RequestMap("nope", 0, 1000).ok());
  EXPECT_EQ(c->ReadMap().status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(c->RequestPiece("t1", 0).ok());
  ExpectPiece(*c, *task, 0);
}

TEST_F(PieceServerTest, MapDescribesTask) {
  auto task = AddTask("t1", 10 * kPieceLen + 5, kPieceLen, false);
  task->AddPiece(0);
  task->AddPiece(9);
  task->AddPiece(10);
  StartServer();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->RequestMap("t1", 0, 5000).ok());  // known < version: answered at once
  auto m = c->ReadMap();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  storage::PieceMap want = task->Map();
  EXPECT_EQ(m->version, want.version);
  EXPECT_EQ(m->content_length, 10 * int64_t{kPieceLen} + 5);
  EXPECT_EQ(m->piece_length, kPieceLen);
  EXPECT_EQ(m->total_pieces, 11u);
  EXPECT_FALSE(m->done);
  EXPECT_EQ(m->bitmap, want.bitmap);
  EXPECT_TRUE(m->Has(0) && m->Has(9) && m->Has(10));
  EXPECT_FALSE(m->Has(1));

  // A done task answers at once even when the version is already known.
  task->AddAll();
  uint64_t v = task->Map().version;
  auto start = Clock::now();
  ASSERT_TRUE(c->RequestMap("t1", v, 10000).ok());
  m = c->ReadMap();
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->done);
  EXPECT_EQ(m->version, v);
  EXPECT_LT(SecondsSince(start), 5.0);
}

TEST_F(PieceServerTest, MapLongPollReturnsWhenPieceLands) {
  auto task = AddTask("t1", 4 * kPieceLen, kPieceLen, false);
  task->AddPiece(0);
  StartServer();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  uint64_t v = task->Map().version;
  auto start = Clock::now();
  ASSERT_TRUE(c->RequestMap("t1", v, 10000).ok());
  std::thread producer([&] {
    task->AwaitWaiters(1);  // the server is parked in WaitForChange
    task->AddPiece(2);
  });
  auto m = c->ReadMap();
  producer.join();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_GT(m->version, v);
  EXPECT_TRUE(m->Has(2));
  EXPECT_LT(SecondsSince(start), 5.0);
}

TEST_F(PieceServerTest, MapLongPollTimesOutWithCurrentMap) {
  auto task = AddTask("t1", 2 * kPieceLen, kPieceLen, false);
  StartServer();
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  uint64_t v = task->Map().version;
  auto start = Clock::now();
  ASSERT_TRUE(c->RequestMap("t1", v, 300).ok());
  auto m = c->ReadMap();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->version, v);
  EXPECT_GE(SecondsSince(start), 0.25);
}

TEST_F(PieceServerTest, OverConnectionLimitIsBusy) {
  AddTask("t1", kPieceLen, kPieceLen, true);
  PieceServerOptions opts;
  opts.max_connections = 1;
  StartServer(opts);
  auto c1 = Connect();
  ASSERT_NE(c1, nullptr);
  ASSERT_TRUE(c1->RequestMap("t1", 0, 0).ok());
  ASSERT_TRUE(c1->ReadMap().ok());  // c1 is being served, so it holds the only slot
  EXPECT_EQ(server_->active_connections(), 1);

  auto c2 = Connect();
  ASSERT_NE(c2, nullptr);
  ASSERT_TRUE(c2->RequestPiece("t1", 0).ok());
  ASSERT_TRUE(c2->RequestPiece("t1", 0).ok());  // pipelined: must not turn into a reset
  Status s = c2->ReadPieceHeader().status();
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_FALSE(c2->ReadPieceHeader().ok());  // the server closed it
  EXPECT_EQ(server_->active_connections(), 1);

  ASSERT_TRUE(c1->RequestMap("t1", 0, 0).ok());  // c1 unaffected
  EXPECT_TRUE(c1->ReadMap().ok());
}

TEST_F(PieceServerTest, CorruptHookFlipsBytesButKeepsCrc) {
  auto task = AddTask("t1", 2 * kPieceLen, kPieceLen, true);
  PieceServerOptions opts;
  opts.corrupt_for_test = [](const std::string&, uint32_t n) { return n == 1; };
  StartServer(opts);
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->RequestPiece("t1", 1).ok());
  PieceHeader h;
  auto body = ReadPiece(*c, &h);
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  std::string want = task->PieceData(1);
  EXPECT_EQ(h.length, want.size());
  EXPECT_EQ(h.crc, Crc32c(0, want.data(), want.size()));  // the stored CRC
  EXPECT_FALSE(*body == want);
  EXPECT_NE(Crc32c(0, body->data(), body->size()), h.crc);  // a client's check catches it
  ASSERT_TRUE(c->RequestPiece("t1", 0).ok());
  ExpectPiece(*c, *task, 0);
}

TEST_F(PieceServerTest, RateLimitSlowsTransfer) {
  const uint32_t kBig = 4u << 20;
  auto task = AddTask("t1", kBig, kBig, true);
  PieceServerOptions opts;
  opts.rate_limit_bytes_per_sec = 8u << 20;
  StartServer(opts);
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  auto start = Clock::now();
  ASSERT_TRUE(c->RequestPiece("t1", 0).ok());
  ExpectPiece(*c, *task, 0);
  double took = SecondsSince(start);
  EXPECT_GE(took, 0.3) << "4 MiB at 8 MiB/s took " << took << " s";
}

TEST_F(PieceServerTest, StopWithOpenConnectionsIsPrompt) {
  auto task = AddTask("t1", 4 * kPieceLen, kPieceLen, false);
  task->AddPiece(0);
  PieceServerOptions opts;
  opts.rate_limit_bytes_per_sec = 256u << 10;  // a 1 MiB piece would take ~4 s
  StartServer(opts);
  auto idle = Connect();  // connected, never used
  auto polling = Connect();
  auto slow = Connect();
  ASSERT_TRUE(idle && polling && slow);
  ASSERT_TRUE(polling->RequestMap("t1", task->Map().version, 10000).ok());
  task->AwaitWaiters(1);
  ASSERT_TRUE(slow->RequestPiece("t1", 0).ok());
  ASSERT_TRUE(slow->ReadPieceHeader().ok());  // the body is trickling out

  auto start = Clock::now();
  server_->Stop();
  EXPECT_LT(SecondsSince(start), 1.5);
  EXPECT_EQ(server_->active_connections(), 0);
  EXPECT_FALSE(polling->ReadMap().ok());
  std::string body(kPieceLen, '\0');
  EXPECT_FALSE(slow->ReadBody(body.data(), kPieceLen).ok());
  server_->Stop();  // idempotent
}

// Raw-socket checks of malformed requests: kBadRequest, then the server closes.
class BadRequestTest : public PieceServerTest {
 protected:
  void ExpectBadRequest(const std::string& request, uint8_t echoed_type) {
    auto fd = net::Connect("127.0.0.1", server_->port(), 2000);
    ASSERT_TRUE(fd.ok());
    net::SetTimeouts(fd->get(), 5000);
    ASSERT_TRUE(net::WriteAll(fd->get(), request.data(), request.size()).ok());
    char start[4];
    ASSERT_TRUE(net::ReadFull(fd->get(), start, sizeof(start)).ok());
    EXPECT_EQ(static_cast<uint8_t>(start[0]), echoed_type);
    EXPECT_EQ(start[1], kBadRequest);
    std::string msg(static_cast<uint8_t>(start[2]) | (static_cast<uint8_t>(start[3]) << 8), '\0');
    ASSERT_TRUE(net::ReadFull(fd->get(), msg.data(), msg.size()).ok());
    EXPECT_FALSE(msg.empty());
    char more;
    EXPECT_EQ(net::ReadFull(fd->get(), &more, 1).code(), StatusCode::kUnavailable);  // EOF
  }
};

TEST_F(BadRequestTest, UnknownTypeAndEmptyTaskId) {
  StartServer();
  ExpectBadRequest(std::string("\x09\x02xy\0\0\0\0", 8), 9);
  ExpectBadRequest(std::string("\x01\x00\0\0\0\0", 6), kGetPiece);
}

TEST(PieceClientTest, RejectsBadTaskIdLocally) {
  auto l = net::Listener::Open("127.0.0.1", 0);
  ASSERT_TRUE(l.ok());
  auto c = ConnectPiece({"127.0.0.1"}, l->port(), 2000, 2000);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ((*c)->RequestPiece("", 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*c)->RequestMap(std::string(256, 'a'), 0, 0).code(), StatusCode::kInvalidArgument);
}

TEST(PieceClientTest, ConnectRefused) {
  auto l = net::Listener::Open("127.0.0.1", 0);
  ASSERT_TRUE(l.ok());
  uint16_t port = l->port();
  l->Close();  // nothing listens there any more
  EXPECT_FALSE(ConnectPiece({"127.0.0.1"}, port, 2000, 2000).ok());
}

}  // namespace
}  // namespace df::piece
