// The daemon's scheduler list at runtime: it follows the manager's ListSchedulers, falls back
// to scheduler.addrs when the manager is down, and a task moves to the next scheduler when its
// scheduler dies (announcing the host there). Fake schedulers and a fake manager run in process.
#include "daemon/scheduler_client.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>

#include "daemon/scheduler_discovery.h"
#include "manager/client/fake_manager.h"

namespace df::daemon {
namespace {

using df::test_util::FakeManager;
using df::test_util::WaitUntil;
using std::chrono::milliseconds;

// A scheduler that knows the hosts announced to it and answers RegisterPeer with its name.
class FakeScheduler {
 public:
  explicit FakeScheduler(std::string name) : name_(std::move(name)) {}
  ~FakeScheduler() { Stop(); }

  bool Start() {
    service_ = std::make_unique<Service>(this);
    grpc::ServerBuilder builder;
    int bound = 0;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port_),
                             grpc::InsecureServerCredentials(), &bound);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    port_ = static_cast<uint16_t>(bound);
    return server_ != nullptr && bound != 0;
  }
  void Stop() {
    if (server_) {
      server_->Shutdown(std::chrono::system_clock::now());
      server_->Wait();
      server_.reset();
    }
  }
  // Forgets every host, like a restarted scheduler.
  void Forget() {
    std::lock_guard lock(mu_);
    hosts_.clear();
  }
  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }
  int announces() const {
    std::lock_guard lock(mu_);
    return announces_;
  }

 private:
  class Service final : public sched::Scheduler::Service {
   public:
    explicit Service(FakeScheduler* s) : s_(s) {}
    grpc::Status AnnounceHost(grpc::ServerContext*, const sched::AnnounceHostRequest* req,
                              sched::AnnounceHostResponse*) override {
      std::lock_guard lock(s_->mu_);
      s_->hosts_.insert(req->host().id());
      ++s_->announces_;
      return grpc::Status::OK;
    }
    grpc::Status RegisterPeer(grpc::ServerContext*, const sched::RegisterPeerRequest* req,
                              sched::RegisterPeerResponse* resp) override {
      std::lock_guard lock(s_->mu_);
      if (s_->hosts_.count(req->host_id()) == 0) {
        return {grpc::StatusCode::FAILED_PRECONDITION, "host not announced: " + req->host_id()};
      }
      resp->set_action(sched::ACTION_BACK_TO_SOURCE);
      resp->set_reason(s_->name_);
      return grpc::Status::OK;
    }

   private:
    FakeScheduler* s_;
  };

  const std::string name_;
  uint16_t port_ = 0;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  mutable std::mutex mu_;
  std::set<std::string> hosts_;
  int announces_ = 0;
};

sched::AnnounceHostRequest HostReq() {
  sched::AnnounceHostRequest r;
  r.mutable_host()->set_id("10.0.0.1-node");
  r.mutable_host()->set_ip("10.0.0.1");
  return r;
}

sched::RegisterPeerRequest PeerReq(const std::string& task_id) {
  sched::RegisterPeerRequest r;
  r.set_host_id("10.0.0.1-node");
  r.set_peer_id("peer-" + task_id);
  r.mutable_task()->set_task_id(task_id);
  return r;
}

// Which scheduler answers the task ("" = an error).
std::string Answerer(SchedulerClient& client, const std::string& task_id) {
  auto r = client.RegisterPeer(PeerReq(task_id));
  return r.ok() ? r->reason() : "";
}

SchedulerClient::Hooks AnnounceHooks(std::atomic<int>* all_unreachable = nullptr) {
  SchedulerClient::Hooks h;
  h.host_request = [] { return HostReq(); };
  if (all_unreachable != nullptr) {
    h.on_all_unreachable = [all_unreachable] { ++*all_unreachable; };
  }
  return h;
}

SchedulerDiscovery::Options DiscoveryOptions(const FakeManager& m,
                                             std::vector<std::string> fallback) {
  SchedulerDiscovery::Options o;
  o.manager_addrs = {m.addr()};
  o.fallback = std::move(fallback);
  o.refresh_interval = milliseconds(50);
  o.rpc_timeout = milliseconds(1000);
  o.min_on_demand_interval = milliseconds(10);
  o.request.set_hostname("node");
  o.request.set_ip("10.0.0.1");
  o.request.set_idc("idc-a");
  o.request.set_location("cn|hz");
  return o;
}

TEST(SchedulerDiscoveryTest, FollowsListSchedulersAndFallsBackToSchedulerAddrs) {
  FakeManager manager;
  ASSERT_TRUE(manager.Start());
  manager.SetSchedulers({FakeManager::Scheduler("10.0.0.3", 8002),
                         FakeManager::Scheduler("10.0.0.2", 8002),
                         FakeManager::Scheduler("::1", 8003)});
  SchedulerClient client({"10.9.9.9:8002"}, milliseconds(500));
  auto discovery = SchedulerDiscovery::Start(DiscoveryOptions(manager, {"10.9.9.9:8002"}), &client);
  // Start() has asked once already, and the answer is sorted.
  EXPECT_EQ(client.addrs(),
            (std::vector<std::string>{"10.0.0.2:8002", "10.0.0.3:8002", "[::1]:8003"}));
  mgr::ListSchedulersRequest asked = manager.last_list_request();
  EXPECT_EQ(asked.hostname(), "node");
  EXPECT_EQ(asked.ip(), "10.0.0.1");
  EXPECT_EQ(asked.idc(), "idc-a");
  EXPECT_EQ(asked.location(), "cn|hz");

  // The list follows the manager at every refresh.
  manager.SetSchedulers({FakeManager::Scheduler("10.0.0.4", 8002)});
  ASSERT_TRUE(
      WaitUntil([&] { return client.addrs() == std::vector<std::string>{"10.0.0.4:8002"}; }));

  // Manager down: scheduler.addrs.
  manager.Stop();
  ASSERT_TRUE(
      WaitUntil([&] { return client.addrs() == std::vector<std::string>{"10.9.9.9:8002"}; }));

  // Back, but with no scheduler: still scheduler.addrs.
  manager.SetSchedulers({});
  ASSERT_TRUE(manager.Start());
  int calls = manager.list_calls();
  ASSERT_TRUE(WaitUntil([&] { return manager.list_calls() >= calls + 3; }));
  EXPECT_EQ(client.addrs(), std::vector<std::string>{"10.9.9.9:8002"});

  manager.SetSchedulers({FakeManager::Scheduler("10.0.0.5", 8002)});
  ASSERT_TRUE(
      WaitUntil([&] { return client.addrs() == std::vector<std::string>{"10.0.0.5:8002"}; }));
  discovery->Stop();
}

TEST(SchedulerDiscoveryTest, WithoutFallbackTheLastListStays) {
  FakeManager manager;
  ASSERT_TRUE(manager.Start());
  manager.SetSchedulers({FakeManager::Scheduler("10.0.0.2", 8002)});
  SchedulerClient client({}, milliseconds(500));
  EXPECT_FALSE(client.enabled());
  auto discovery = SchedulerDiscovery::Start(DiscoveryOptions(manager, {}), &client);
  EXPECT_TRUE(client.enabled());
  manager.Stop();
  uint64_t n = discovery->refreshes();
  ASSERT_TRUE(WaitUntil([&] { return discovery->refreshes() >= n + 3; }));
  EXPECT_EQ(client.addrs(), std::vector<std::string>{"10.0.0.2:8002"});
}

TEST(SchedulerDiscoveryTest, StartsWithSchedulerAddrsWhenTheManagerIsDown) {
  FakeManager manager;
  ASSERT_TRUE(manager.Start());
  manager.Stop();
  SchedulerClient client({"10.9.9.9:8002"}, milliseconds(500));
  auto discovery = SchedulerDiscovery::Start(DiscoveryOptions(manager, {"10.9.9.9:8002"}), &client);
  EXPECT_EQ(client.addrs(), std::vector<std::string>{"10.9.9.9:8002"});
  discovery->Stop();
  discovery->RequestRefresh();  // no-op after Stop()
}

TEST(SchedulerClientTest, FailsOverToTheNextSchedulerAndAnnouncesThere) {
  FakeScheduler a("a"), b("b");
  ASSERT_TRUE(a.Start());
  ASSERT_TRUE(b.Start());
  std::atomic<int> all_unreachable{0};
  SchedulerClient client({a.addr(), b.addr()}, milliseconds(1000), AnnounceHooks(&all_unreachable));
  ASSERT_TRUE(client.AnnounceHost(HostReq()).ok());
  // A task whose scheduler is `a`.
  std::string task;
  for (int i = 0; i < 100 && task.empty(); ++i) {
    std::string t = "task-" + std::to_string(i);
    if (Answerer(client, t) == "a") {
      task = t;
    }
  }
  ASSERT_FALSE(task.empty());

  a.Stop();
  EXPECT_EQ(Answerer(client, task), "b");
  EXPECT_EQ(Answerer(client, task), "b");  // a is marked down: no more attempts there first

  // b restarts and forgets this host: the client announces it there and retries.
  b.Forget();
  int announced = b.announces();
  EXPECT_EQ(Answerer(client, task), "b");
  EXPECT_EQ(b.announces(), announced + 1);
  EXPECT_EQ(all_unreachable.load(), 0);

  // Every scheduler down: the hook asks for a fresh list.
  b.Stop();
  auto r = client.RegisterPeer(PeerReq(task));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(all_unreachable.load(), 1);

  // a comes back on its port: the task returns to it, after announcing the host there.
  a.Forget();
  ASSERT_TRUE(a.Start());
  ASSERT_TRUE(WaitUntil([&] { return Answerer(client, task) == "a"; }));
  EXPECT_GE(a.announces(), 1);
}

// Tasks are owned through a consistent-hash ring of the addresses: a dead owner's tasks go to
// their successor on the ring -- the scheduler that owns them once the manager drops the dead
// one -- and nobody else's task moves.
TEST(SchedulerClientTest, TasksFollowTheRingAndADeadOwnersTasksGoToItsSuccessor) {
  FakeScheduler a("a"), b("b"), c("c");
  std::map<std::string, std::string> name_of;
  for (FakeScheduler* s : {&a, &b, &c}) {
    ASSERT_TRUE(s->Start());
  }
  name_of = {{a.addr(), "a"}, {b.addr(), "b"}, {c.addr(), "c"}};
  std::atomic<int> owner_changes{0};
  SchedulerClient::Hooks hooks = AnnounceHooks();
  hooks.on_owners_changed = [&] { ++owner_changes; };
  SchedulerClient client({a.addr(), b.addr(), c.addr()}, milliseconds(1000), std::move(hooks));
  ASSERT_TRUE(client.AnnounceHost(HostReq()).ok());
  HashRing ring;
  for (FakeScheduler* s : {&a, &b, &c}) {
    ring.Add(s->addr());
  }
  std::map<std::string, std::string> before;
  for (int i = 0; i < 60; ++i) {
    const std::string t = "task-" + std::to_string(i);
    before[t] = Answerer(client, t);
    EXPECT_EQ(before[t], name_of[ring.Pick(t)]) << t;
    EXPECT_EQ(client.OwnerOf(TaskId(t)), ring.Pick(t));
  }
  std::set<std::string> owners;
  for (const auto& [t, name] : before) {
    owners.insert(name);
  }
  ASSERT_EQ(owners.size(), 3u) << "60 tasks on one or two schedulers: the ring is not spread";

  const int changes = owner_changes.load();
  b.Stop();
  uint64_t forgot = 0;
  for (const auto& [t, name] : before) {
    std::vector<std::string> order = ring.Order(t);
    const std::string want = name == "b" ? name_of[order[1]] : name;
    EXPECT_EQ(Answerer(client, t), want) << t;
    EXPECT_EQ(name_of[client.OwnerOf(TaskId(t), &forgot)], want) << t;
  }
  EXPECT_EQ(owner_changes.load(), changes + 1) << "b going down is one change of owners";
  // The manager drops b: the same tasks stay where the failover put them.
  client.SetSchedulers({a.addr(), c.addr()});
  for (const auto& [t, name] : before) {
    EXPECT_EQ(Answerer(client, t), name == "b" ? name_of[ring.Order(t)[1]] : name) << t;
  }
  EXPECT_GT(owner_changes.load(), changes + 1);
}

TEST(SchedulerClientTest, AddedSchedulersAreAnnouncedTo) {
  FakeScheduler a("a"), b("b");
  ASSERT_TRUE(a.Start());
  ASSERT_TRUE(b.Start());
  SchedulerClient client({a.addr()}, milliseconds(1000), AnnounceHooks());
  EXPECT_FALSE(client.SetSchedulers({a.addr(), a.addr()}));  // unchanged (duplicates dropped)
  EXPECT_TRUE(client.SetSchedulers({a.addr(), b.addr()}));
  EXPECT_EQ(a.announces(), 0);  // already in the list
  EXPECT_EQ(b.announces(), 1);
  EXPECT_TRUE(client.SetSchedulers({b.addr()}, /*announce_added=*/false));
  EXPECT_EQ(client.addrs(), std::vector<std::string>{b.addr()});
  EXPECT_TRUE(client.SetSchedulers({}));
  EXPECT_FALSE(client.enabled());
  EXPECT_EQ(client.RegisterPeer(PeerReq("t")).status().code(), StatusCode::kUnavailable);
}

// Manager, discovery and client together: when every scheduler of the list dies, the daemon
// asks the manager at once and moves to the schedulers it now returns.
TEST(SchedulerClientTest, AllUnreachableRefreshesFromTheManager) {
  FakeScheduler a("a"), c("c");
  ASSERT_TRUE(a.Start());
  ASSERT_TRUE(c.Start());
  FakeManager manager;
  ASSERT_TRUE(manager.Start());
  manager.SetSchedulers({FakeManager::Scheduler("127.0.0.1", a.port())});

  std::atomic<SchedulerDiscovery*> discovery_ptr{nullptr};
  SchedulerClient::Hooks hooks = AnnounceHooks();
  hooks.on_all_unreachable = [&] {
    if (SchedulerDiscovery* d = discovery_ptr.load(); d != nullptr) {
      d->RequestRefresh();
    }
  };
  SchedulerClient client({}, milliseconds(1000), std::move(hooks));
  auto opts = DiscoveryOptions(manager, {});
  opts.refresh_interval = std::chrono::minutes(10);  // only on demand in this test
  auto discovery = SchedulerDiscovery::Start(std::move(opts), &client);
  discovery_ptr = discovery.get();
  ASSERT_TRUE(client.AnnounceHost(HostReq()).ok());
  EXPECT_EQ(Answerer(client, "t1"), "a");
  int calls = manager.list_calls();

  a.Stop();
  manager.SetSchedulers({FakeManager::Scheduler("127.0.0.1", c.port())});
  EXPECT_EQ(Answerer(client, "t1"), "");  // a was the only one; the manager is asked again
  ASSERT_TRUE(WaitUntil([&] { return client.addrs() == std::vector<std::string>{c.addr()}; }));
  EXPECT_GT(manager.list_calls(), calls);
  // Announced when it joined the list (right after the list is swapped in, so wait for it).
  ASSERT_TRUE(WaitUntil([&] { return c.announces() == 1; }));
  EXPECT_EQ(Answerer(client, "t1"), "c");
  discovery_ptr = nullptr;
  discovery->Stop();
}

}  // namespace
}  // namespace df::daemon
