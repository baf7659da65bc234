// The Swarm engine: the network thread, the piece port, links and per-task exchanges.
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <csignal>
#include <future>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "dragonfly/common/net.h"
#include "dragonfly/piece/swarm.h"
#include "piece/exchange.h"
#include "piece/link.h"
#include "piece/secure.h"

namespace df::piece {
namespace {

using std::chrono::milliseconds;
constexpr milliseconds kHandshakeTimeout{10000};
constexpr milliseconds kTickInterval{250};
constexpr int kDialTimeoutMs = 3000;
constexpr int kSocketBufferBytes = 4 << 20;

class Engine;

// One task traded on this host: its exchange, the links attached to it, the downloads using it.
struct TaskEntry {
  storage::TaskLease lease;  // keeps the task stored while it is traded
  std::shared_ptr<Exchange> exchange;
  std::set<LinkId> links;
  std::set<std::string> dialing;  // peer IDs with an outbound connection under way
  std::string token;              // our piece token for the task (the latest the scheduler gave)
  std::string trace_parent;       // of the download joined, when it is traced (sent in HELLOs)
  int sessions = 0;
};

class Session final : public SwarmSession {
 public:
  Session(Engine* engine, std::string task_id) : engine_(engine), task_id_(std::move(task_id)) {}
  ~Session() override;
  void Connect(std::vector<NeighbourAddr> neighbours, std::string token) override;
  void SetDownloading(bool downloading) override;
  void PieceStored(uint32_t n) override;
  void GeometryKnown() override;
  std::vector<NeighbourStats> TakeStats() override;
  size_t neighbours() override;

 private:
  Engine* engine_;
  const std::string task_id_;
};

class Engine final : public Swarm, public LinkOwner {
 public:
  Engine(SwarmOptions options, net::Listener listener, std::shared_ptr<PieceTls> tls)
      : opts_(std::move(options)),
        tls_(std::move(tls)),
        work_(io_.get_executor()),
        disk_(static_cast<size_t>(std::max(opts_.disk_threads, 1))),
        dialer_(4),
        uploader_(opts_.upload_slots,
                  [](const void* owner, LinkId link, uint32_t piece) {
                    return static_cast<Exchange*>(const_cast<void*>(owner))->StartSend(link, piece);
                  }),
        tick_(io_),
        port_(listener.port()) {
    if (opts_.rate_limit_bytes_per_sec > 0) {
      bucket_ = std::make_unique<TokenBucket>(opts_.rate_limit_bytes_per_sec);
    }
    uploader_.set_on_active([this](size_t n) { uploads_ = static_cast<int>(n); });
    for (const net::Fd& fd : listener.sockets()) {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
      auto proto = ss.ss_family == AF_INET6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4();
      auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(io_);
      acceptor->assign(proto, ::dup(fd.get()));
      acceptors_.push_back(std::move(acceptor));
    }
    for (auto& a : acceptors_) {
      Accept(a.get());
    }
    thread_ = std::thread([this] {
      sigset_t set;  // sendfile(2) raises SIGPIPE on a reset connection
      sigemptyset(&set);
      sigaddset(&set, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &set, nullptr);
      io_.run();
    });
  }
  ~Engine() override { Stop(); }

  uint16_t port() const override { return port_; }
  int connections() const override { return connections_.load(); }
  int active_uploads() const override { return uploads_.load(); }

  std::unique_ptr<SwarmSession> Join(storage::TaskLease lease, JoinOptions o) override {
    std::string task_id = lease->id();
    Run([&] {
      TaskEntry& e = Entry(task_id, std::move(lease), o.peer_id, o.seed || opts_.seed_host);
      e.sessions++;
      e.exchange->SetObserver(o.observer);
      e.exchange->SetPieceLength(o.piece_length);
      e.exchange->SetDownloading(o.download);
      if (o.download) {
        e.trace_parent = o.trace_parent;
        StartTicking();
      }
    });
    return std::make_unique<Session>(this, task_id);
  }

  void Evict(const std::string& task_id) override {
    Run([&] {
      TaskEntry* e = Find(task_id);
      if (e == nullptr) {
        return;
      }
      std::vector<std::shared_ptr<Link>> links;
      for (LinkId id : e->links) {
        if (auto it = links_.find(id); it != links_.end()) {
          links.push_back(it->second);
        }
      }
      for (auto& l : links) {
        e->exchange->RemoveNeighbour(l->id(), Cancelled("task deleted"));
        l->Close(Cancelled("task deleted"));
      }
      if (e->sessions == 0 && e->dialing.empty()) {
        tasks_.erase(task_id);  // the lease goes now: the caller deletes the task next
      }
    });
  }

  void SetUploadSlots(uint32_t slots) override {
    asio::post(io_, [this, slots] { uploader_.set_slots(slots); });
  }

  void Stop() override {
    if (stopped_.exchange(true)) {
      return;
    }
    asio::post(io_, [this] {
      for (auto& a : acceptors_) {
        boost::system::error_code ec;
        a->close(ec);
      }
      std::vector<std::shared_ptr<Link>> all;
      for (auto& [id, l] : links_) {
        all.push_back(l);
      }
      for (auto& l : all) {
        l->Close(Cancelled("dfdaemon stopping"));
      }
      tasks_.clear();
      tick_.cancel();
    });
    work_.reset();
    thread_.join();
    dialer_.join();
    disk_.join();
  }

  // Runs `fn` on the network thread and waits for it (unless stopped).
  template <typename Fn>
  void Run(Fn&& fn) {
    if (stopped_) {
      return;
    }
    std::promise<void> done;
    asio::post(io_, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }
  TaskEntry* Find(const std::string& task_id) {
    auto it = tasks_.find(task_id);
    return it == tasks_.end() ? nullptr : &it->second;
  }

  void Leave(const std::string& task_id) {
    Run([&] {
      if (TaskEntry* e = Find(task_id)) {
        e->exchange->SetObserver(nullptr);
        e->exchange->SetDownloading(false);
        e->sessions--;
        e->trace_parent.clear();  // later HELLOs serve no traced download of ours
        MaybeRelease(task_id);
      }
    });
  }

  void Dial(const std::string& task_id, NeighbourAddr addr) {
    TaskEntry* e = Find(task_id);
    if (e == nullptr || addr.peer_id == e->exchange->peer_id() ||
        e->exchange->HasNeighbour(addr.peer_id) || !e->dialing.insert(addr.peer_id).second) {
      return;
    }
    asio::post(dialer_, [this, task_id, addr] {
      net::ConnectOptions co;
      co.timeout_ms = kDialTimeoutMs;
      StatusOr<net::Fd> fd = net::ConnectAny(addr.ips, addr.port, co);
      auto shared_fd = std::make_shared<StatusOr<net::Fd>>(std::move(fd));
      asio::post(io_, [this, task_id, addr, shared_fd] { Dialed(task_id, addr, *shared_fd); });
    });
  }

  // LinkOwner.
  // Two peers that dial each other at once end up with two links: the one opened by the peer
  // with the smaller ID stays (both sides apply the same rule). Returns whether `link` (from or
  // to `peer`) may be attached; closes the other one when `link` wins.
  bool KeepOne(TaskEntry* e, const std::shared_ptr<Link>& link, const std::string& peer) {
    LinkId other = e->exchange->LinkOf(peer);
    if (other == 0) {
      return true;
    }
    auto it = links_.find(other);
    const std::string& self = e->exchange->peer_id();
    bool other_ours = it != links_.end() && !it->second->inbound();
    const std::string& other_opener = other_ours ? self : peer;
    const std::string& link_opener = link->inbound() ? peer : self;
    if (other_opener == link_opener || other_opener < link_opener) {
      return false;  // the existing link stays
    }
    e->exchange->RemoveNeighbour(other, Cancelled("duplicate connection"));
    if (it != links_.end()) {
      it->second->Close(Cancelled("duplicate connection"));
    }
    return true;
  }

  void OnHello(const std::shared_ptr<Link>& link, const frame::Hello& hello,
               bool inbound) override {
    if (!inbound) {
      auto d = dialed_.find(link->id());
      TaskEntry* e = Find(link->task_id());
      if (d == dialed_.end() || e == nullptr || !KeepOne(e, link, d->second.peer_id)) {
        if (d != dialed_.end()) {
          dialed_.erase(d);  // not a failure: the neighbour is connected the other way
        }
        link->Close(Cancelled("not needed any more"));
        return;
      }
      frame::Hello peer = hello;
      peer.peer_id = d->second.peer_id;  // the scheduler's name for it (reports use it)
      peer.seed = peer.seed || d->second.seed;
      dialed_.erase(d);
      e->links.insert(link->id());
      link->Attach(e->exchange.get(), e->lease.get(), peer, nullptr);
      return;
    }
    if (opts_.authorize) {
      if (Status s = opts_.authorize(hello.token, hello.task_id, hello.peer_id); !s.ok()) {
        spdlog::debug("piece connection refused task_id={} peer_id={} error=\"{}\"", hello.task_id,
                      hello.peer_id, s.ToString());
        link->Refuse(ErrorCode::kUnauthorized, s.message());
        return;
      }
    }
    TaskEntry* e = Find(hello.task_id);
    if (e == nullptr) {
      StatusOr<storage::TaskLease> lease =
          opts_.lookup ? opts_.lookup(hello.task_id) : StatusOr<storage::TaskLease>(NotFound(""));
      if (!lease.ok()) {
        link->Refuse(ErrorCode::kTaskNotFound, "task " + hello.task_id + " not found");
        return;
      }
      e = &Entry(hello.task_id, std::move(lease).value(), opts_.host_peer_id, opts_.seed_host);
    }
    if (!KeepOne(e, link, hello.peer_id)) {
      link->Refuse(ErrorCode::kBadRequest, "already connected");
      MaybeRelease(hello.task_id);
      return;
    }
    frame::Hello reply{hello.task_id, e->exchange->peer_id(), e->exchange->seed(), "",
                       e->trace_parent};
    e->links.insert(link->id());
    link->Attach(e->exchange.get(), e->lease.get(), hello, &reply);
  }

  void OnClosed(Link* link) override {
    LinkId id = link->id();
    auto d = dialed_.find(id);
    if (d != dialed_.end()) {  // an outbound connection that never got attached
      TaskEntry* e = Find(link->task_id());
      if (e != nullptr && !e->exchange->HasNeighbour(d->second.peer_id)) {
        e->exchange->NeighbourUnreachable(d->second.peer_id,
                                          Unavailable("piece-protocol handshake failed"));
      }
      dialed_.erase(d);
    }
    if (TaskEntry* e = Find(link->task_id()); e != nullptr && e->links.erase(id) > 0) {
      MaybeRelease(link->task_id());
    }
    if (links_.erase(id) > 0) {
      connections_--;
    }
    if (budgeted_.erase(id) > 0) {
      net::FdBudget::Release();
    }
  }
  TokenBucket* bucket() override { return bucket_.get(); }
  void PieceSent(uint64_t bytes) override {
    if (opts_.on_piece_sent) {
      opts_.on_piece_sent(bytes);
    }
  }
  milliseconds write_stall_timeout() const override { return opts_.write_stall_timeout; }
  bool CorruptForTest(const std::string& task_id, uint32_t piece) override {
    return opts_.corrupt_for_test && opts_.corrupt_for_test(task_id, piece);
  }

 private:
  TaskEntry& Entry(const std::string& task_id, storage::TaskLease lease, const std::string& peer_id,
                   bool seed) {
    TaskEntry& e = tasks_[task_id];
    if (e.exchange) {
      return e;
    }
    e.lease = std::move(lease);
    ExchangeOptions xo;
    xo.task_id = task_id;
    xo.peer_id = peer_id;
    xo.seed = seed;
    xo.pipeline = opts_.pipeline;
    xo.piece_timeout = opts_.piece_timeout;
    xo.rng_seed = std::random_device{}();
    xo.on_served = opts_.on_served;
    e.exchange = std::make_shared<Exchange>(xo, e.lease.get(), &uploader_, nullptr);
    std::weak_ptr<Exchange> weak = e.exchange;
    std::shared_ptr<storage::Task> task = e.lease.get();
    e.exchange->set_writer([this, weak, task](uint32_t n, std::string data, uint32_t crc,
                                              std::function<void(Status)> done) {
      auto buf = std::make_shared<std::string>(std::move(data));
      asio::post(disk_, [this, weak, task, n, buf, crc, done = std::move(done)]() mutable {
        Status s = task->WritePiece(n, buf->data(), static_cast<uint32_t>(buf->size()), crc);
        asio::post(io_, [weak, s, done = std::move(done)] {
          if (auto ex = weak.lock()) {
            done(s);
          }
        });
      });
    });
    return e;
  }

  // Drops the task's exchange (and its lease) once nothing uses it -- later, on a fresh stack:
  // the caller may be inside that exchange.
  void MaybeRelease(const std::string& task_id) {
    asio::post(io_, [this, task_id] {
      TaskEntry* e = Find(task_id);
      if (e != nullptr && e->sessions == 0 && e->links.empty() && e->dialing.empty()) {
        tasks_.erase(task_id);
      }
    });
  }

  void Dialed(const std::string& task_id, const NeighbourAddr& addr, StatusOr<net::Fd>& fd) {
    TaskEntry* e = Find(task_id);
    if (stopped_ || e == nullptr || e->sessions == 0 || !fd.ok()) {
      if (e != nullptr) {
        e->dialing.erase(addr.peer_id);
        if (!fd.ok() && !stopped_ && e->sessions > 0) {
          e->exchange->NeighbourUnreachable(addr.peer_id, fd.status());
        } else {
          MaybeRelease(task_id);
        }
      }
      return;
    }
    net::SetBufferSizes(fd->get(), kSocketBufferBytes);  // as accepted sockets inherit
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    ::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&ss), &len);
    asio::ip::tcp::socket sock(io_);
    boost::system::error_code ec;
    sock.assign(ss.ss_family == AF_INET6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), fd->release(),
                ec);
    if (ec) {
      e->dialing.erase(addr.peer_id);
      e->exchange->NeighbourUnreachable(addr.peer_id, Internal("socket: " + ec.message()));
      return;
    }
    if (!tls_) {
      Connected(task_id, addr, std::move(sock));
      return;
    }
    Secure(std::move(sock), tls_->client(), false, kHandshakeTimeout,
           [this, task_id, addr](StatusOr<asio::ip::tcp::socket> secured, TlsPath path) {
             if (!secured.ok()) {
               spdlog::debug("piece connection to {} failed: {}", addr.peer_id,
                             secured.status().ToString());
               if (TaskEntry* t = Find(task_id); t != nullptr && !stopped_) {
                 t->dialing.erase(addr.peer_id);
                 t->exchange->NeighbourUnreachable(addr.peer_id, secured.status());
               }
               return;
             }
             CountTls(path);
             Connected(task_id, addr, std::move(secured).value());
           });
  }

  // An outbound connection is ready (secured, with TLS): the link says HELLO.
  void Connected(const std::string& task_id, const NeighbourAddr& addr,
                 asio::ip::tcp::socket sock) {
    TaskEntry* e = Find(task_id);
    if (e != nullptr) {
      e->dialing.erase(addr.peer_id);
    }
    if (stopped_ || e == nullptr || e->sessions == 0) {
      if (e != nullptr) {
        MaybeRelease(task_id);
      }
      return;
    }
    LinkId id = next_id_++;
    auto link = std::make_shared<Link>(this, id, std::move(sock), false);
    links_[id] = link;
    connections_++;
    dialed_[id] = addr;
    frame::Hello hello{task_id, e->exchange->peer_id(), e->exchange->seed(), e->token,
                       e->trace_parent};
    link->Start(&hello, kHandshakeTimeout);
  }

  void Accept(asio::ip::tcp::acceptor* acceptor) {
    acceptor->async_accept([this, acceptor](const boost::system::error_code& ec,
                                            asio::ip::tcp::socket sock) {
      if (stopped_ || ec == asio::error::operation_aborted) {
        return;
      }
      if (ec) {  // e.g. out of file descriptors: wait a little instead of spinning
        auto t = std::make_shared<asio::steady_timer>(io_, milliseconds(100));
        t->async_wait([this, acceptor, t](const boost::system::error_code&) { Accept(acceptor); });
        return;
      }
      if (!tls_) {
        Accepted(std::move(sock));
      } else if (links_.size() + handshakes_ >= opts_.max_connections) {
        boost::system::error_code ignored;  // full: closed before any TLS work
        sock.close(ignored);
      } else {
        handshakes_++;
        Secure(std::move(sock), tls_->server(), true, kHandshakeTimeout,
               [this](StatusOr<asio::ip::tcp::socket> secured, TlsPath path) {
                 handshakes_--;
                 if (stopped_) {
                   return;
                 }
                 if (!secured.ok()) {
                   spdlog::debug("piece connection refused: {}", secured.status().ToString());
                   return;
                 }
                 CountTls(path);
                 Accepted(std::move(secured).value());
               });
      }
      Accept(acceptor);
    });
  }

  // An inbound connection is ready (secured, with TLS): the link waits for the HELLO.
  void Accepted(asio::ip::tcp::socket sock) {
    LinkId id = next_id_++;
    auto link = std::make_shared<Link>(this, id, std::move(sock), true);
    links_[id] = link;
    connections_++;
    link->Start(nullptr, kHandshakeTimeout);
    if (links_.size() > opts_.max_connections) {
      link->Refuse(ErrorCode::kBusy, "piece server busy: too many connections");
    } else if (!net::FdBudget::Acquire()) {
      link->Refuse(ErrorCode::kBusy, "piece server busy: out of file descriptors");
    } else {
      budgeted_.insert(id);
    }
  }

  void CountTls(TlsPath path) {
    if (opts_.on_tls_connection) {
      opts_.on_tls_connection(path == TlsPath::kKernel);
    }
    if (path == TlsPath::kPump && tls_pump_++ == 0) {
      spdlog::info(
          "piece port: kernel TLS is not available (load the tls module: modprobe tls), so "
          "pieces are encrypted in user space");
    }
  }

  void StartTicking() {
    if (ticking_) {
      return;
    }
    ticking_ = true;
    tick_.expires_after(kTickInterval);
    tick_.async_wait([this](const boost::system::error_code& ec) {
      ticking_ = false;
      if (ec || stopped_) {
        return;
      }
      auto now = Clock::now();
      bool any = false;
      std::vector<std::shared_ptr<Exchange>> downloading;
      for (auto& [id, e] : tasks_) {
        if (e.exchange->downloading()) {
          downloading.push_back(e.exchange);
        }
      }
      for (auto& ex : downloading) {
        ex->Tick(now);
        any = true;
      }
      if (any) {
        StartTicking();
      }
    });
  }

  friend class Session;

  SwarmOptions opts_;
  const std::shared_ptr<PieceTls> tls_;  // null: plaintext
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors_;
  asio::thread_pool disk_;    // piece writes (CRC check + pwrite)
  asio::thread_pool dialer_;  // blocking connects to neighbours (Happy Eyeballs)
  Uploader uploader_;
  std::unique_ptr<TokenBucket> bucket_;
  std::map<std::string, TaskEntry> tasks_;
  std::map<LinkId, std::shared_ptr<Link>> links_;
  std::map<LinkId, NeighbourAddr> dialed_;  // outbound links before their handshake
  std::set<LinkId> budgeted_;               // inbound links holding a unit of net::FdBudget
  LinkId next_id_ = 1;
  asio::steady_timer tick_;
  bool ticking_ = false;
  const uint16_t port_;
  std::atomic<int> connections_{0};
  std::atomic<int> uploads_{0};
  uint64_t tls_pump_ = 0;
  size_t handshakes_ = 0;  // inbound TLS handshakes under way
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

Session::~Session() { engine_->Leave(task_id_); }

void Session::Connect(std::vector<NeighbourAddr> neighbours, std::string token) {
  asio::post(engine_->io_, [e = engine_, id = task_id_, n = std::move(neighbours),
                            token = std::move(token)]() mutable {
    if (TaskEntry* t = e->Find(id); t != nullptr && !token.empty()) {
      t->token = std::move(token);
    }
    for (const NeighbourAddr& a : n) {
      e->Dial(id, a);
    }
  });
}

void Session::SetDownloading(bool downloading) {
  engine_->Run([&] {
    if (TaskEntry* e = engine_->Find(task_id_)) {
      e->exchange->SetDownloading(downloading);
      if (downloading) {
        engine_->StartTicking();
      }
    }
  });
}

void Session::PieceStored(uint32_t n) {
  asio::post(engine_->io_, [e = engine_, id = task_id_, n] {
    if (TaskEntry* t = e->Find(id)) {
      t->exchange->PieceStored(n);
    }
  });
}

void Session::GeometryKnown() {
  asio::post(engine_->io_, [e = engine_, id = task_id_] {
    if (TaskEntry* t = e->Find(id)) {
      t->exchange->GeometryKnown();
    }
  });
}

std::vector<NeighbourStats> Session::TakeStats() {
  std::vector<NeighbourStats> out;
  engine_->Run([&] {
    if (TaskEntry* e = engine_->Find(task_id_)) {
      out = e->exchange->TakeStats();
    }
  });
  return out;
}

size_t Session::neighbours() {
  size_t n = 0;
  engine_->Run([&] {
    if (TaskEntry* e = engine_->Find(task_id_)) {
      n = e->exchange->neighbours();
    }
  });
  return n;
}

}  // namespace

StatusOr<std::unique_ptr<Swarm>> StartSwarm(SwarmOptions options) {
  // spdlog builds its registry on first use; do it here, before the network thread exists, so
  // that two engines' threads never race to (a lazily built static in an uninstrumented
  // library that ThreadSanitizer would report).
  (void)spdlog::default_logger_raw();
  DF_ASSIGN_OR_RETURN(net::Listener listener,
                      net::Listener::Open(options.address, options.port, 1024));
  listener.SetBufferSizes(kSocketBufferBytes);
  std::shared_ptr<PieceTls> tls;
  if (options.tls.secure()) {
    DF_ASSIGN_OR_RETURN(tls, PieceTls::Make(options.tls));
  }
  return std::unique_ptr<Swarm>(
      std::make_unique<Engine>(std::move(options), std::move(listener), std::move(tls)));
}

}  // namespace df::piece
