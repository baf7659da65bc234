// Load generator for ONE running scheduler process over real gRPC (bench/scheduler_load.sh runs
// it). It simulates many hosts and peers:
//
//   Phase 1  AnnounceHost for every host; `--seeds` of them are SEED hosts whose rpc_port is a
//            tiny in-process DfdaemonUpload service (callback API) that answers TriggerSeed with
//            OK and then, like a real seed daemon, registers the seed peer (BACK_TO_SOURCE) and
//            reports it RUNNING, so the task gets a root to hand out.
//   Phase 2  RegisterPeer for `--peers` new peers spread over `--tasks` tasks and the normal hosts,
//            `--concurrency` calls in flight: registrations per second and per-call latency.
//            A share (`--hot-share`) of the peers goes to `--hot-tasks` popular tasks, the rest is
//            spread evenly. Peers answered RETRY register again (as a real peer would after
//            retry_after_ms), then every peer sends ReportPeer(RUNNING, progress, parent stats)
//            so that it is a live parent candidate.
//   Phase 3  With all those peers live: RegisterPeer for `--decision-peers` new peers of the hot
//            tasks, first one call at a time (pure decision + RPC latency), then with
//            `--concurrency` in flight. p50/p99 of each.
//
// Latencies are measured per call with steady_clock around the async (callback) client call.
// With --sync-dir DIR the generator stops after phase 1 and after phase 2 (checkpoints "hosts"
// and "live"): it creates DIR/<name>.ready and waits for DIR/<name>.go, so that the caller can
// read the scheduler's RSS while the load is quiet.
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/dfdaemon.grpc.pb.h"
#include "api/scheduler.grpc.pb.h"
#include "dragonfly/common/task_id.h"

namespace {

namespace sapi = ::dragonfly::api::scheduler;
namespace dapi = ::dragonfly::api::dfdaemon;
using SteadyClock = std::chrono::steady_clock;

constexpr uint32_t kPieceLength = 4 << 20;
constexpr uint32_t kTotalPieces = 16;
constexpr auto kRpcTimeout = std::chrono::seconds(30);

struct Options {
  std::string target;
  uint32_t hosts = 1000;
  uint32_t tasks = 1000;
  uint32_t peers = 10000;
  uint32_t concurrency = 64;
  uint32_t seeds = 4;
  double duration_s = 0;
  uint32_t decision_peers = 2000;
  uint32_t hot_tasks = 10;
  double hot_share = 0.5;
  uint32_t channels = 4;
  uint32_t seed_slots = 2000;
  bool no_seed_register = false;
  std::string sync_dir;
  uint64_t rng_seed = 1;
  int scheduler_pid = 0;
};

// CPU seconds (user + system) of this process.
double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

// CPU seconds (utime + stime) of process `pid` from /proc/PID/stat; -1 when unknown.
double ProcessCpuSeconds(int pid) {
  if (pid <= 0) {
    return -1;
  }
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  size_t paren = line.rfind(')');
  if (paren == std::string::npos) {
    return -1;
  }
  std::istringstream rest(line.substr(paren + 2));
  std::string field;
  uint64_t utime = 0;
  uint64_t stime = 0;
  // Fields after "(comm)" start at field 3 (state); utime is field 14, stime 15.
  for (int f = 3; f <= 15 && rest >> field; ++f) {
    if (f == 14) {
      utime = std::stoull(field);
    } else if (f == 15) {
      stime = std::stoull(field);
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int g_scheduler_pid = 0;

// ---------------------------------------------------------------------------------------------
// Statistics.

struct PhaseResult {
  std::string name;
  size_t calls = 0;
  double seconds = 0;
  std::vector<double> latency_us;  // one per completed call, sorted by Summarize()
  std::map<std::string, size_t> errors;
  std::map<int, size_t> actions;  // RegisterPeer only
  double client_cpu_s = 0;        // this process
  double server_cpu_s = -1;       // the scheduler (--scheduler-pid), -1 = unknown

  size_t error_count() const {
    size_t n = 0;
    for (const auto& [k, v] : errors) {
      n += v;
    }
    return n;
  }
  double rate() const { return seconds > 0 ? static_cast<double>(calls) / seconds : 0; }
  // Nearest-rank percentile of the (sorted) latencies, in microseconds.
  double Percentile(double q) const {
    if (latency_us.empty()) {
      return 0;
    }
    size_t rank = static_cast<size_t>(q * static_cast<double>(latency_us.size()) + 0.999999);
    rank = std::clamp<size_t>(rank, 1, latency_us.size());
    return latency_us[rank - 1];
  }
};

const char* ActionName(int a) {
  switch (a) {
    case sapi::ACTION_NEIGHBOURS:
      return "neighbours";
    case sapi::ACTION_BACK_TO_SOURCE:
      return "back_to_source";
    case sapi::ACTION_RETRY:
      return "retry";
    case sapi::ACTION_FAIL:
      return "fail";
    default:
      return "?";
  }
}

std::string ErrorKey(const grpc::Status& s) {
  std::string msg = s.error_message();
  if (msg.size() > 60) {
    msg.resize(60);
  }
  return std::to_string(static_cast<int>(s.error_code())) + " " + msg;
}

// ---------------------------------------------------------------------------------------------
// Async driver: `n` unary calls (or until `deadline`), at most `concurrency` in flight, each new
// call started from the completion callback of the previous one (callback client API).

template <typename Req, typename Resp>
struct Rpc {
  // Fills the request of call i (called on the issuing thread; distinct i never race).
  std::function<void(size_t, Req*)> make;
  // Starts the async call on `stub`.
  std::function<void(sapi::Scheduler::Stub*, grpc::ClientContext*, const Req*, Resp*,
                     std::function<void(grpc::Status)>)>
      start;
  // Handles the result of call i (on a gRPC thread).
  std::function<void(size_t, const grpc::Status&, const Resp&)> done;
};

class Stubs {
 public:
  Stubs(const std::string& target, uint32_t n) {
    for (uint32_t i = 0; i < std::max<uint32_t>(1, n); ++i) {
      grpc::ChannelArguments args;
      args.SetInt("df.bench.channel", static_cast<int>(i));  // distinct args: own connection
      auto ch = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
      channels_.push_back(ch);
      stubs_.push_back(sapi::Scheduler::NewStub(ch));
    }
  }
  bool WaitConnected(std::chrono::seconds timeout) {
    auto deadline = std::chrono::system_clock::now() + timeout;
    for (auto& ch : channels_) {
      if (!ch->WaitForConnected(deadline)) {
        return false;
      }
    }
    return true;
  }
  sapi::Scheduler::Stub* Get(size_t i) { return stubs_[i % stubs_.size()].get(); }

 private:
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<sapi::Scheduler::Stub>> stubs_;
};

template <typename Req, typename Resp>
class Driver {
 public:
  Driver(Stubs* stubs, const Rpc<Req, Resp>* rpc, size_t n, size_t concurrency,
         std::optional<SteadyClock::time_point> deadline)
      : stubs_(stubs), rpc_(rpc), n_(n), deadline_(deadline), slots_(std::min(n, concurrency)) {
    latency_us_.assign(n, -1);
  }

  PhaseResult Run(const std::string& name) {
    double client0 = SelfCpuSeconds();
    double server0 = ProcessCpuSeconds(g_scheduler_pid);
    auto t0 = SteadyClock::now();
    size_t slots = slots_;
    for (size_t i = 0; i < slots; ++i) {
      Issue();
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return slots_ == 0; });
    }
    PhaseResult r;
    r.name = name;
    r.seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
    r.client_cpu_s = SelfCpuSeconds() - client0;
    if (server0 >= 0) {
      r.server_cpu_s = ProcessCpuSeconds(g_scheduler_pid) - server0;
    }
    r.calls = completed_.load();
    for (double v : latency_us_) {
      if (v >= 0) {
        r.latency_us.push_back(v);
      }
    }
    std::sort(r.latency_us.begin(), r.latency_us.end());
    r.errors = errors_;
    return r;
  }

 private:
  struct Call {
    grpc::ClientContext ctx;
    Req req;
    Resp resp;
    SteadyClock::time_point t0;
  };

  void Issue() {
    size_t i = next_.fetch_add(1);
    if (i >= n_ || (deadline_ && SteadyClock::now() >= *deadline_)) {
      std::lock_guard<std::mutex> lock(mu_);
      if (--slots_ == 0) {
        cv_.notify_all();
      }
      return;
    }
    auto* c = new Call;
    rpc_->make(i, &c->req);
    c->ctx.set_deadline(std::chrono::system_clock::now() + kRpcTimeout);
    c->t0 = SteadyClock::now();
    rpc_->start(stubs_->Get(i), &c->ctx, &c->req, &c->resp, [this, c, i](grpc::Status s) {
      latency_us_[i] =
          std::chrono::duration<double, std::micro>(SteadyClock::now() - c->t0).count();
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        ++errors_[ErrorKey(s)];
      }
      rpc_->done(i, s, c->resp);
      delete c;
      completed_.fetch_add(1);
      Issue();
    });
  }

  Stubs* stubs_;
  const Rpc<Req, Resp>* rpc_;
  const size_t n_;
  const std::optional<SteadyClock::time_point> deadline_;
  std::atomic<size_t> next_{0};
  std::atomic<size_t> completed_{0};
  std::vector<double> latency_us_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t slots_;
  std::map<std::string, size_t> errors_;
};

template <typename Req, typename Resp>
PhaseResult RunPhase(const std::string& name, Stubs* stubs, const Rpc<Req, Resp>& rpc, size_t n,
                     size_t concurrency,
                     std::optional<SteadyClock::time_point> deadline = std::nullopt) {
  Driver<Req, Resp> d(stubs, &rpc, n, std::max<size_t>(1, concurrency), deadline);
  return d.Run(name);
}

// ---------------------------------------------------------------------------------------------
// The simulated cluster.

struct SimPeer {
  uint32_t host = 0;
  uint32_t task = 0;
  std::string id;
  int action = -1;
  std::vector<std::string> parents;
};

struct Cluster {
  std::vector<sapi::Host> hosts;  // seeds first
  std::vector<uint32_t> normal;   // indices of normal hosts
  std::vector<sapi::TaskSpec> tasks;
  std::map<std::string, uint32_t> seed_index;  // host id -> seed number
};

sapi::Host MakeHost(uint32_t i, bool seed) {
  sapi::Host h;
  std::string hostname = (seed ? "bench-seed-" : "bench-host-") + std::to_string(i);
  std::string ip = seed ? "127.0.0.1"
                        : "10." + std::to_string((i >> 16) & 255) + "." +
                              std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255);
  h.set_id(df::MakeHostId(ip, hostname, seed));
  h.set_hostname(hostname);
  h.set_ip(ip);
  h.set_piece_port(65000);
  h.set_type(seed ? sapi::HOST_TYPE_SEED : sapi::HOST_TYPE_NORMAL);
  h.set_idc("idc-" + std::to_string(i % 4));
  h.set_location("cn|zhejiang|hangzhou|zone-" + std::to_string(i % 8));
  return h;
}

sapi::TaskSpec MakeTask(uint32_t t) {
  sapi::TaskSpec spec;
  df::TaskIdInput in;
  in.url = "https://registry.example.com/v2/bench/blobs/sha256:" + std::to_string(t);
  in.piece_length = kPieceLength;  // the spec carries it: the ID must include it
  auto id = df::MakeTaskId(in);
  spec.set_task_id(id.ok() ? *id : "task-" + std::to_string(t));
  spec.set_url(in.url);
  spec.set_piece_length(kPieceLength);
  return spec;
}

// ---------------------------------------------------------------------------------------------
// Fake seed daemon: DfdaemonUpload/TriggerSeed answers OK at once; then (unless disabled) the
// seed peer registers with the scheduler and reports RUNNING from the origin.

class Seeder {
 public:
  Seeder(Stubs* stubs, bool enabled) : stubs_(stubs), enabled_(enabled) {}

  void Trigger(const std::string& host_id, const std::string& peer_id, const sapi::TaskSpec& spec) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++triggers_;
      if (!enabled_) {
        return;
      }
      ++in_flight_;
    }
    auto* c = new Call;
    c->reg.set_host_id(host_id);
    c->reg.set_peer_id(peer_id);
    *c->reg.mutable_task() = spec;
    c->ctx.set_deadline(std::chrono::system_clock::now() + kRpcTimeout);
    stubs_->Get(0)->async()->RegisterPeer(&c->ctx, &c->reg, &c->reg_resp,
                                          [this, c](grpc::Status s) { OnRegistered(c, s); });
  }

  // Waits until every seed follow-up has finished.
  void Drain() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return in_flight_ == 0; });
  }

  std::string Summary() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string s = "seed triggers " + std::to_string(triggers_) + ", seed registrations " +
                    std::to_string(registered_) + " (back_to_source " +
                    std::to_string(back_to_source_) + "), seed errors " + std::to_string(errors_);
    return s;
  }
  size_t errors() {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }

 private:
  struct Call {
    grpc::ClientContext ctx;
    sapi::RegisterPeerRequest reg;
    sapi::RegisterPeerResponse reg_resp;
    grpc::ClientContext report_ctx;
    sapi::ReportPeerRequest report;
    sapi::ReportPeerResponse report_resp;
  };

  void OnRegistered(Call* c, const grpc::Status& s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!s.ok()) {
        ++errors_;
      } else {
        ++registered_;
        if (c->reg_resp.action() == sapi::ACTION_BACK_TO_SOURCE) {
          ++back_to_source_;
        }
      }
    }
    if (!s.ok()) {
      Finish(c);
      return;
    }
    c->report.set_host_id(c->reg.host_id());
    c->report.set_peer_id(c->reg.peer_id());
    c->report.set_task_id(c->reg.task().task_id());
    c->report.set_state(sapi::PEER_STATE_RUNNING);
    c->report.set_content_length(static_cast<int64_t>(kPieceLength) * kTotalPieces);
    c->report.set_piece_length(kPieceLength);
    c->report.set_total_pieces(kTotalPieces);
    c->report.set_finished_pieces(kTotalPieces / 2);
    c->report.set_back_to_source(true);
    c->report_ctx.set_deadline(std::chrono::system_clock::now() + kRpcTimeout);
    stubs_->Get(0)->async()->ReportPeer(&c->report_ctx, &c->report, &c->report_resp,
                                        [this, c](grpc::Status rs) {
                                          if (!rs.ok()) {
                                            std::lock_guard<std::mutex> lock(mu_);
                                            ++errors_;
                                          }
                                          Finish(c);
                                        });
  }

  void Finish(Call* c) {
    delete c;
    std::lock_guard<std::mutex> lock(mu_);
    if (--in_flight_ == 0) {
      cv_.notify_all();
    }
  }

  Stubs* stubs_;
  const bool enabled_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t in_flight_ = 0;
  size_t triggers_ = 0;
  size_t registered_ = 0;
  size_t back_to_source_ = 0;
  size_t errors_ = 0;
};

class FakeSeedService final : public dapi::DfdaemonUpload::CallbackService {
 public:
  using dapi::DfdaemonUpload::CallbackService::TriggerSeed;
  FakeSeedService(std::string host_id, Seeder* seeder)
      : host_id_(std::move(host_id)), seeder_(seeder) {}

  grpc::ServerUnaryReactor* TriggerSeed(grpc::CallbackServerContext* ctx,
                                        const dapi::TriggerSeedRequest* req,
                                        dapi::TriggerSeedResponse* /*resp*/) override {
    seeder_->Trigger(host_id_, req->peer_id(), req->task());
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  std::string host_id_;
  Seeder* seeder_;
};

struct FakeSeed {
  std::unique_ptr<FakeSeedService> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// ---------------------------------------------------------------------------------------------
// Output.

std::string Fmt(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

void PrintPhase(const PhaseResult& r) {
  std::printf(
      "# %-34s %7zu calls in %7.3f s = %9.0f/s  p50 %8.1f us  p99 %8.1f us  max %8.1f us"
      "  errors %zu\n",
      r.name.c_str(), r.calls, r.seconds, r.rate(), r.Percentile(0.5), r.Percentile(0.99),
      r.latency_us.empty() ? 0.0 : r.latency_us.back(), r.error_count());
  std::printf("#     cpu: generator %.2f s (%.0f%% of wall)", r.client_cpu_s,
              100 * r.client_cpu_s / std::max(1e-9, r.seconds));
  if (r.server_cpu_s >= 0) {
    std::printf(", scheduler %.2f s (%.0f%% of wall, %.1f us per call)", r.server_cpu_s,
                100 * r.server_cpu_s / std::max(1e-9, r.seconds),
                1e6 * r.server_cpu_s / static_cast<double>(std::max<size_t>(1, r.calls)));
  }
  std::printf("\n");
  for (const auto& [a, n] : r.actions) {
    std::printf("#     action %-15s %zu\n", ActionName(a), n);
  }
  for (const auto& [e, n] : r.errors) {
    std::printf("#     error %s: %zu\n", e.c_str(), n);
  }
  std::fflush(stdout);
}

void Checkpoint(const Options& o, const std::string& name, const std::string& info) {
  std::printf("# checkpoint %s: %s\n", name.c_str(), info.c_str());
  std::fflush(stdout);
  if (o.sync_dir.empty()) {
    return;
  }
  namespace fs = std::filesystem;
  fs::path dir(o.sync_dir);
  {
    std::ofstream(dir / (name + ".ready.tmp")) << info << "\n";
  }
  fs::rename(dir / (name + ".ready.tmp"), dir / (name + ".ready"));
  auto deadline = SteadyClock::now() + std::chrono::seconds(120);
  while (!fs::exists(dir / (name + ".go")) && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// ---------------------------------------------------------------------------------------------

int Run(const Options& o) {
  if (o.seeds >= o.hosts || o.hot_tasks > o.tasks || o.tasks == 0 || o.peers == 0) {
    std::fprintf(stderr, "scheduler_load: need seeds < hosts, hot-tasks <= tasks, tasks > 0\n");
    return 2;
  }
  Stubs stubs(o.target, o.channels);
  if (!stubs.WaitConnected(std::chrono::seconds(10))) {
    std::fprintf(stderr, "scheduler_load: cannot connect to %s\n", o.target.c_str());
    return 1;
  }
  Seeder seeder(&stubs, !o.no_seed_register);

  // The cluster: seeds (with their fake DfdaemonUpload servers), normal hosts, tasks.
  Cluster cl;
  std::vector<FakeSeed> fakes(o.seeds);
  for (uint32_t k = 0; k < o.seeds; ++k) {
    sapi::Host h = MakeHost(k, true);
    h.set_upload_slots(o.seed_slots);
    fakes[k].service = std::make_unique<FakeSeedService>(h.id(), &seeder);
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &fakes[k].port);
    b.RegisterService(fakes[k].service.get());
    fakes[k].server = b.BuildAndStart();
    if (!fakes[k].server || fakes[k].port == 0) {
      std::fprintf(stderr, "scheduler_load: cannot start the fake seed service\n");
      return 1;
    }
    h.set_rpc_port(static_cast<uint32_t>(fakes[k].port));
    cl.seed_index[h.id()] = k;
    cl.hosts.push_back(h);
  }
  for (uint32_t i = o.seeds; i < o.hosts; ++i) {
    cl.normal.push_back(static_cast<uint32_t>(cl.hosts.size()));
    cl.hosts.push_back(MakeHost(i, false));
  }
  for (uint32_t t = 0; t < o.tasks; ++t) {
    cl.tasks.push_back(MakeTask(t));
  }

  // Peers of phase 2: `hot_share` of them round-robin over the hot tasks, the rest over the
  // other tasks; random normal hosts; shuffled so that hot and cold interleave.
  std::mt19937_64 rng(o.rng_seed);
  std::vector<SimPeer> peers(o.peers);
  const uint32_t hot_tasks = o.hot_share > 0 ? o.hot_tasks : 0;
  size_t hot_peers = hot_tasks == 0 ? 0 : static_cast<size_t>(o.hot_share * o.peers);
  uint32_t cold_tasks = o.tasks - hot_tasks;
  if (cold_tasks == 0) {
    hot_peers = o.peers;
  }
  for (size_t i = 0; i < peers.size(); ++i) {
    SimPeer& p = peers[i];
    p.task = i < hot_peers ? static_cast<uint32_t>(i % hot_tasks)
                           : hot_tasks + static_cast<uint32_t>((i - hot_peers) % cold_tasks);
    p.host = cl.normal[rng() % cl.normal.size()];
    const sapi::Host& h = cl.hosts[p.host];
    p.id = df::MakePeerId(h.ip(), h.hostname(), false);
  }
  std::shuffle(peers.begin(), peers.end(), rng);

  std::mutex action_mu;
  auto register_rpc = [&](std::vector<SimPeer>* list, std::map<int, size_t>* actions) {
    Rpc<sapi::RegisterPeerRequest, sapi::RegisterPeerResponse> rpc;
    rpc.make = [&cl, list](size_t i, sapi::RegisterPeerRequest* req) {
      const SimPeer& p = (*list)[i];
      req->set_host_id(cl.hosts[p.host].id());
      req->set_peer_id(p.id);
      *req->mutable_task() = cl.tasks[p.task];
    };
    rpc.start = [](sapi::Scheduler::Stub* stub, grpc::ClientContext* ctx,
                   const sapi::RegisterPeerRequest* req, sapi::RegisterPeerResponse* resp,
                   std::function<void(grpc::Status)> cb) {
      stub->async()->RegisterPeer(ctx, req, resp, std::move(cb));
    };
    rpc.done = [list, actions, &action_mu](size_t i, const grpc::Status& s,
                                           const sapi::RegisterPeerResponse& resp) {
      if (!s.ok()) {
        return;
      }
      SimPeer& p = (*list)[i];
      p.action = resp.action();
      p.parents.clear();
      for (const sapi::Neighbour& par : resp.neighbours()) {
        p.parents.push_back(par.peer_id());
      }
      std::lock_guard<std::mutex> lock(action_mu);
      ++(*actions)[resp.action()];
    };
    return rpc;
  };

  std::vector<PhaseResult> results;

  // Phase 1: hosts.
  {
    Rpc<sapi::AnnounceHostRequest, sapi::AnnounceHostResponse> rpc;
    rpc.make = [&cl](size_t i, sapi::AnnounceHostRequest* req) {
      *req->mutable_host() = cl.hosts[i];
      req->mutable_load()->set_disk_free_bytes(uint64_t{100} << 30);
    };
    rpc.start = [](sapi::Scheduler::Stub* stub, grpc::ClientContext* ctx,
                   const sapi::AnnounceHostRequest* req, sapi::AnnounceHostResponse* resp,
                   std::function<void(grpc::Status)> cb) {
      stub->async()->AnnounceHost(ctx, req, resp, std::move(cb));
    };
    rpc.done = [](size_t, const grpc::Status&, const sapi::AnnounceHostResponse&) {};
    results.push_back(
        RunPhase("phase 1 AnnounceHost", &stubs, rpc, cl.hosts.size(), o.concurrency));
    PrintPhase(results.back());
  }
  Checkpoint(o, "hosts", std::to_string(cl.hosts.size()) + " hosts announced");

  // Phase 2: registrations, retries, reports.
  {
    std::map<int, size_t> actions;
    auto rpc = register_rpc(&peers, &actions);
    PhaseResult r = RunPhase("phase 2 RegisterPeer", &stubs, rpc, peers.size(), o.concurrency);
    r.actions = actions;
    results.push_back(r);
    PrintPhase(results.back());
  }
  seeder.Drain();
  std::printf("# %s\n", seeder.Summary().c_str());
  for (int round = 1; round <= 3; ++round) {
    std::vector<size_t> idx;
    for (size_t i = 0; i < peers.size(); ++i) {
      if (peers[i].action == sapi::ACTION_RETRY || peers[i].action < 0) {
        idx.push_back(i);
      }
    }
    if (idx.empty()) {
      break;
    }
    std::vector<SimPeer> again;
    for (size_t i : idx) {
      again.push_back(peers[i]);
    }
    std::map<int, size_t> actions;
    auto rpc = register_rpc(&again, &actions);
    PhaseResult r = RunPhase("phase 2 retry round " + std::to_string(round), &stubs, rpc,
                             again.size(), o.concurrency);
    r.actions = actions;
    for (size_t k = 0; k < idx.size(); ++k) {
      peers[idx[k]] = again[k];
    }
    results.push_back(r);
    PrintPhase(results.back());
    seeder.Drain();
  }
  {
    std::vector<uint32_t> progress(peers.size());
    for (auto& v : progress) {
      v = 1 + static_cast<uint32_t>(rng() % (kTotalPieces - 1));
    }
    Rpc<sapi::ReportPeerRequest, sapi::ReportPeerResponse> rpc;
    rpc.make = [&](size_t i, sapi::ReportPeerRequest* req) {
      const SimPeer& p = peers[i];
      req->set_host_id(cl.hosts[p.host].id());
      req->set_peer_id(p.id);
      req->set_task_id(cl.tasks[p.task].task_id());
      req->set_state(sapi::PEER_STATE_RUNNING);
      req->set_content_length(static_cast<int64_t>(kPieceLength) * kTotalPieces);
      req->set_piece_length(kPieceLength);
      req->set_total_pieces(kTotalPieces);
      req->set_finished_pieces(progress[i]);
      req->set_back_to_source(p.action == sapi::ACTION_BACK_TO_SOURCE);
      for (const std::string& parent : p.parents) {
        sapi::NeighbourStat* st = req->add_neighbours();
        st->set_peer_id(parent);
        st->set_bytes(uint64_t{kPieceLength} * progress[i] / std::max<size_t>(1, p.parents.size()));
        st->set_busy_ms(20 + (i % 50));
      }
    };
    rpc.start = [](sapi::Scheduler::Stub* stub, grpc::ClientContext* ctx,
                   const sapi::ReportPeerRequest* req, sapi::ReportPeerResponse* resp,
                   std::function<void(grpc::Status)> cb) {
      stub->async()->ReportPeer(ctx, req, resp, std::move(cb));
    };
    rpc.done = [](size_t, const grpc::Status&, const sapi::ReportPeerResponse&) {};
    results.push_back(
        RunPhase("phase 2 ReportPeer RUNNING", &stubs, rpc, peers.size(), o.concurrency));
    PrintPhase(results.back());
  }
  std::map<int, size_t> final_actions;
  for (const SimPeer& p : peers) {
    ++final_actions[p.action];
  }
  std::string live = std::to_string(peers.size()) + " peers live (";
  for (const auto& [a, n] : final_actions) {
    live += std::string(a < 0 ? "error" : ActionName(a)) + " " + std::to_string(n) + " ";
  }
  live += ")";
  Checkpoint(o, "live", live);

  // Phase 3: decisions for new peers of the hot (or, without hot tasks, all) tasks.
  uint32_t pick_tasks = hot_tasks > 0 ? hot_tasks : o.tasks;
  std::vector<size_t> task_peers(o.tasks);
  for (const SimPeer& p : peers) {
    ++task_peers[p.task];
  }
  size_t min_peers = SIZE_MAX;
  for (uint32_t t = 0; t < pick_tasks; ++t) {
    min_peers = std::min(min_peers, task_peers[t]);
  }
  auto decision_round = [&](const std::string& name, size_t concurrency) {
    std::optional<SteadyClock::time_point> deadline;
    size_t n = o.decision_peers;
    if (o.duration_s > 0) {
      deadline = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                          std::chrono::duration<double>(o.duration_s));
      n = 500'000;  // upper bound of the round
    }
    std::vector<SimPeer> fresh(n);
    std::vector<uint64_t> draws(n);
    for (auto& d : draws) {
      d = rng();
    }
    std::map<int, size_t> actions;
    auto rpc = register_rpc(&fresh, &actions);
    auto make = rpc.make;
    rpc.make = [&, make](size_t i, sapi::RegisterPeerRequest* req) {
      SimPeer& p = fresh[i];
      p.task = static_cast<uint32_t>(i % pick_tasks);
      p.host = cl.normal[draws[i] % cl.normal.size()];
      const sapi::Host& h = cl.hosts[p.host];
      p.id = df::MakePeerId(h.ip(), h.hostname(), false);
      make(i, req);
    };
    PhaseResult r = RunPhase(name, &stubs, rpc, n, concurrency, deadline);
    r.actions = actions;
    results.push_back(r);
    PrintPhase(results.back());
    seeder.Drain();
  };
  std::string where =
      std::to_string(pick_tasks) + " tasks with >= " + std::to_string(min_peers) + " peers each";
  decision_round("phase 3 decisions, 1 in flight", 1);
  decision_round("phase 3 decisions, " + std::to_string(o.concurrency) + " in flight",
                 o.concurrency);

  for (FakeSeed& f : fakes) {
    f.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  // Summary table.
  const PhaseResult& reg = results[1];
  size_t total_errors = seeder.errors();
  for (const PhaseResult& r : results) {
    total_errors += r.error_count();
  }
  const PhaseResult& d1 = results[results.size() - 2];
  const PhaseResult& dn = results.back();
  std::printf("\n| metric | value | target |\n| --- | ---: | ---: |\n");
  std::printf("| hosts / tasks / phase-2 peers / seeds | %u / %u / %u / %u | |\n", o.hosts, o.tasks,
              o.peers, o.seeds);
  std::printf("| phase 2 RegisterPeer rate (%u in flight) | %s /s | >= 20000 /s |\n", o.concurrency,
              Fmt("%.0f", reg.rate()).c_str());
  std::printf("| phase 2 RegisterPeer latency p50 / p99 | %s / %s ms | |\n",
              Fmt("%.3f", reg.Percentile(0.5) / 1000).c_str(),
              Fmt("%.3f", reg.Percentile(0.99) / 1000).c_str());
  std::printf("| phase 2 ReportPeer rate | %s /s | |\n",
              Fmt("%.0f", results[results.size() - 3].rate()).c_str());
  std::printf("| decision latency p50 / p99, 1 in flight (%s) | %s / %s ms | p99 <= 2 ms |\n",
              where.c_str(), Fmt("%.3f", d1.Percentile(0.5) / 1000).c_str(),
              Fmt("%.3f", d1.Percentile(0.99) / 1000).c_str());
  std::printf("| decision latency p50 / p99, %u in flight | %s / %s ms (%s /s) | |\n",
              o.concurrency, Fmt("%.3f", dn.Percentile(0.5) / 1000).c_str(),
              Fmt("%.3f", dn.Percentile(0.99) / 1000).c_str(), Fmt("%.0f", dn.rate()).c_str());
  std::printf("| errors (all phases) | %zu | 0 |\n", total_errors);
  std::fflush(stdout);
  return total_errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Scheduler load generator (see bench/scheduler_load.sh)"};
  Options o;
  app.add_option("--target", o.target, "scheduler gRPC address HOST:PORT")->required();
  app.add_option("--hosts", o.hosts, "hosts, seeds included");
  app.add_option("--tasks", o.tasks, "tasks");
  app.add_option("--peers", o.peers, "peers registered in phase 2");
  app.add_option("--concurrency", o.concurrency, "RPCs in flight");
  app.add_option("--seeds", o.seeds, "seed hosts (fake DfdaemonUpload in this process)");
  app.add_option("--duration", o.duration_s,
                 "seconds; > 0: each phase-3 round registers new peers for this long instead "
                 "of --decision-peers");
  app.add_option("--decision-peers", o.decision_peers, "new peers per phase-3 round");
  app.add_option("--hot-tasks", o.hot_tasks, "popular tasks (phase 3 registers into them)");
  app.add_option("--hot-share", o.hot_share, "share of phase-2 peers on the hot tasks");
  app.add_option("--channels", o.channels, "gRPC channels (connections) to the scheduler");
  app.add_option("--seed-slots", o.seed_slots, "upload_slots announced by seed hosts");
  app.add_flag("--no-seed-register", o.no_seed_register,
               "the fake seed only answers TriggerSeed, it does not register the seed peer");
  app.add_option("--sync-dir", o.sync_dir, "checkpoint directory (see bench/scheduler_load.sh)");
  app.add_option("--rng-seed", o.rng_seed, "seed of the pseudo-random host choice");
  app.add_option("--scheduler-pid", o.scheduler_pid,
                 "scheduler process ID, to report its CPU time per phase");
  CLI11_PARSE(app, argc, argv);
  g_scheduler_pid = o.scheduler_pid;
  return Run(o);
}
