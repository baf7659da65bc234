#include "daemon/scheduler_client.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <map>

#include "dragonfly/rpc/status.h"
#include "dragonfly/tracing/grpc.h"

namespace df::daemon {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool Unreachable(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
}

// The scheduler does not know this host (it restarted, or it is new to this daemon).
bool HostUnknown(const Status& s) {
  return s.code() == StatusCode::kFailedPrecondition &&
         s.message().find("host not announced") != std::string::npos;
}

}  // namespace

struct SchedulerClient::Entry {
  std::string addr;
  std::unique_ptr<sched::Scheduler::Stub> stub;
  // Steady-clock ms until which the scheduler is tried last; 0 = it answered last time.
  std::atomic<int64_t> down_until_ms{0};
  // Times it answered "host not announced" (it restarted and lost its state).
  std::atomic<uint64_t> forgot{0};

  bool down(int64_t now) const {
    int64_t until = down_until_ms.load();
    return until != 0 && now < until;
  }
};

struct SchedulerClient::List {
  std::vector<std::shared_ptr<Entry>> entries;  // in the order given
  HashRing ring;                                // of the entries' addresses
  std::map<std::string, Entry*, std::less<>> by_addr;
};

SchedulerClient::SchedulerClient(const std::vector<std::string>& addrs,
                                 std::chrono::milliseconds timeout, Hooks hooks,
                                 std::shared_ptr<const rpc::Credentials> credentials)
    : timeout_(timeout),
      hooks_(std::move(hooks)),
      credentials_(credentials ? std::move(credentials) : rpc::Credentials::Insecure()),
      list_(std::make_shared<const List>()) {
  (void)SetSchedulers(addrs, /*announce_added=*/false);
}

std::shared_ptr<SchedulerClient::Entry> SchedulerClient::MakeEntry(const std::string& addr) const {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  auto e = std::make_shared<Entry>();
  e->addr = addr;
  e->stub = sched::Scheduler::NewStub(credentials_->Dial(addr, {security::Role::kScheduler}, args));
  return e;
}

std::shared_ptr<const SchedulerClient::List> SchedulerClient::Snapshot() const {
  std::lock_guard lock(mu_);
  return list_;
}

bool SchedulerClient::enabled() const { return !Snapshot()->entries.empty(); }

std::vector<std::string> SchedulerClient::addrs() const {
  std::vector<std::string> out;
  // Hold the snapshot: the list it points to may be replaced (and freed) meanwhile.
  const std::shared_ptr<const List> list = Snapshot();
  for (const auto& e : list->entries) {
    out.push_back(e->addr);
  }
  return out;
}

bool SchedulerClient::SetSchedulers(const std::vector<std::string>& addrs, bool announce_added) {
  std::vector<std::string> unique;
  for (const auto& a : addrs) {
    if (std::find(unique.begin(), unique.end(), a) == unique.end()) {
      unique.push_back(a);
    }
  }
  std::vector<std::shared_ptr<Entry>> added;
  {
    std::lock_guard lock(mu_);
    const auto& old = list_->entries;
    if (std::equal(
            unique.begin(), unique.end(), old.begin(), old.end(),
            [](const std::string& a, const std::shared_ptr<Entry>& e) { return a == e->addr; })) {
      return false;
    }
    auto next = std::make_shared<List>();
    for (const auto& a : unique) {
      auto it = std::find_if(old.begin(), old.end(), [&](const auto& e) { return e->addr == a; });
      if (it != old.end()) {
        next->entries.push_back(*it);
      } else {
        next->entries.push_back(MakeEntry(a));
        added.push_back(next->entries.back());
      }
      next->ring.Add(a);
      next->by_addr[a] = next->entries.back().get();
    }
    list_ = std::move(next);
  }
  if (announce_added && hooks_.host_request && !added.empty()) {
    sched::AnnounceHostRequest req = hooks_.host_request();
    for (const auto& e : added) {
      if (Status s = Announce(*e, req); !s.ok()) {
        spdlog::debug("announce to new scheduler {} failed error=\"{}\"", e->addr, s.ToString());
      }
    }
  }
  OwnersChanged();
  return true;
}

void SchedulerClient::OwnersChanged() const {
  if (hooks_.on_owners_changed) {
    hooks_.on_owners_changed();
  }
}

std::vector<SchedulerClient::Entry*> SchedulerClient::CallOrder(const List& list,
                                                                const TaskId& task_id) {
  const int64_t now = NowMs();
  std::vector<Entry*> up, down;  // each in ring order; those marked down last
  for (const std::string& addr : list.ring.Order(task_id.str())) {
    Entry* e = list.by_addr.find(addr)->second;
    (e->down(now) ? down : up).push_back(e);
  }
  up.insert(up.end(), down.begin(), down.end());
  return up;
}

std::string SchedulerClient::OwnerOf(const TaskId& task_id, uint64_t* generation) const {
  // Called for every stored task on each sweep: the first scheduler up on the ring (else the
  // owner), without building the whole call order.
  const std::shared_ptr<const List> list = Snapshot();
  const int64_t now = NowMs();
  std::string addr = list->ring.Pick(
      task_id.str(), [&](const std::string& a) { return !list->by_addr.at(a)->down(now); });
  if (addr.empty()) {
    addr = list->ring.Pick(task_id.str());
  }
  if (addr.empty()) {
    return "";
  }
  if (generation != nullptr) {
    *generation = list->by_addr.find(addr)->second->forgot.load();
  }
  return addr;
}

void SchedulerClient::MarkDown(Entry& e, const Status& why) {
  if (e.down_until_ms.exchange(NowMs() + kDownFor.count()) == 0) {
    spdlog::warn("scheduler {} unreachable, failing over to the next one error=\"{}\"", e.addr,
                 why.ToString());
    OwnersChanged();
  }
}

void SchedulerClient::MarkUp(Entry& e) {
  if (e.down_until_ms.exchange(0) != 0) {
    spdlog::info("scheduler {} reachable again", e.addr);
    OwnersChanged();
  }
}

Status SchedulerClient::Announce(Entry& e, const sched::AnnounceHostRequest& req) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  sched::AnnounceHostResponse resp;
  Status s = rpc::FromGrpc(e.stub->AnnounceHost(&ctx, req, &resp), "scheduler " + e.addr);
  if (s.ok() && !resp.piece_token_key().empty() && hooks_.on_token_key) {
    hooks_.on_token_key(resp.piece_token_key());
  }
  if (Unreachable(s)) {
    MarkDown(e, s);
  } else {
    MarkUp(e);
  }
  return s;
}

template <typename Call>
Status SchedulerClient::ForTask(const TaskId& task_id, Call&& call) {
  std::shared_ptr<const List> list = Snapshot();
  if (list->entries.empty()) {
    return Unavailable("no scheduler configured");
  }
  const std::vector<Entry*> order = CallOrder(*list, task_id);
  auto once = [&](Entry& e) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    tracing::InjectCurrent(&ctx);  // the download this call is for
    return rpc::FromGrpc(call(*e.stub, &ctx), "scheduler " + e.addr);
  };
  Status last;
  for (Entry* e : order) {
    last = once(*e);
    if (HostUnknown(last) && hooks_.host_request) {
      // It restarted: whatever it knew of this host's tasks is gone too.
      e->forgot.fetch_add(1);
      if (Announce(*e, hooks_.host_request()).ok()) {
        last = once(*e);
      }
      OwnersChanged();
    }
    if (!Unreachable(last)) {
      MarkUp(*e);
      return last;
    }
    MarkDown(*e, last);
  }
  if (hooks_.on_all_unreachable) {
    hooks_.on_all_unreachable();
  }
  return last;
}

StatusOr<sched::RegisterPeerResponse> SchedulerClient::RegisterPeer(
    const sched::RegisterPeerRequest& req) {
  sched::RegisterPeerResponse resp;
  Status s = ForTask(TaskId(req.task().task_id()),
                     [&](sched::Scheduler::Stub& stub, grpc::ClientContext* ctx) {
                       resp.Clear();
                       return stub.RegisterPeer(ctx, req, &resp);
                     });
  if (!s.ok()) {
    return s;
  }
  return resp;
}

Status SchedulerClient::ReportPeer(const sched::ReportPeerRequest& req) {
  sched::ReportPeerResponse resp;
  return ForTask(TaskId(req.task_id()),
                 [&](sched::Scheduler::Stub& stub, grpc::ClientContext* ctx) {
                   return stub.ReportPeer(ctx, req, &resp);
                 });
}

Status SchedulerClient::AnnounceTask(const sched::AnnounceTaskRequest& req) {
  sched::AnnounceTaskResponse resp;
  return ForTask(TaskId(req.task().task_id()),
                 [&](sched::Scheduler::Stub& stub, grpc::ClientContext* ctx) {
                   return stub.AnnounceTask(ctx, req, &resp);
                 });
}

Status SchedulerClient::LeavePeer(const sched::LeavePeerRequest& req) {
  sched::LeavePeerResponse resp;
  return ForTask(TaskId(req.task_id()),
                 [&](sched::Scheduler::Stub& stub, grpc::ClientContext* ctx) {
                   return stub.LeavePeer(ctx, req, &resp);
                 });
}

StatusOr<sched::AnnouncePersistentCacheTaskResponse> SchedulerClient::AnnouncePersistentCacheTask(
    const sched::AnnouncePersistentCacheTaskRequest& req) {
  sched::AnnouncePersistentCacheTaskResponse resp;
  DF_RETURN_IF_ERROR(ForTask(TaskId(req.task().task_id()),
                             [&](sched::Scheduler::Stub& stub, grpc::ClientContext* ctx) {
                               resp.Clear();
                               return stub.AnnouncePersistentCacheTask(ctx, req, &resp);
                             }));
  return resp;
}

StatusOr<sched::StatPersistentCacheTaskResponse> SchedulerClient::StatPersistentCacheTask(
    const std::string& task_id) {
  sched::StatPersistentCacheTaskRequest req;
  req.set_task_id(task_id);
  sched::StatPersistentCacheTaskResponse resp;
  DF_RETURN_IF_ERROR(
      ForTask(TaskId(task_id), [&](sched::Scheduler::Stub& stub, grpc::ClientContext* ctx) {
        resp.Clear();
        return stub.StatPersistentCacheTask(ctx, req, &resp);
      }));
  return resp;
}

StatusOr<sched::DeletePersistentCacheTaskResponse> SchedulerClient::DeletePersistentCacheTask(
    const std::string& task_id) {
  sched::DeletePersistentCacheTaskRequest req;
  req.set_task_id(task_id);
  sched::DeletePersistentCacheTaskResponse resp;
  DF_RETURN_IF_ERROR(
      ForTask(TaskId(task_id), [&](sched::Scheduler::Stub& stub, grpc::ClientContext* ctx) {
        resp.Clear();
        return stub.DeletePersistentCacheTask(ctx, req, &resp);
      }));
  return resp;
}

StatusOr<std::string> SchedulerClient::BoundBlobUrl(const std::string& task_id) {
  sched::StatTaskRequest req;
  req.set_task_id(task_id);
  sched::StatTaskResponse resp;
  DF_RETURN_IF_ERROR(
      ForTask(TaskId(task_id), [&](sched::Scheduler::Stub& stub, grpc::ClientContext* ctx) {
        resp.Clear();
        return stub.StatTask(ctx, req, &resp);
      }));
  return resp.url();
}

Status SchedulerClient::AnnounceHost(const sched::AnnounceHostRequest& req) {
  Status result = Unavailable("no scheduler configured");
  // Hold the snapshot: the list it points to may be replaced (and freed) meanwhile.
  const std::shared_ptr<const List> list = Snapshot();
  for (const auto& e : list->entries) {
    Status s = Announce(*e, req);
    if (s.ok() || result.code() == StatusCode::kUnavailable) {
      result = s;
    }
  }
  return result;
}

void SchedulerClient::LeaveHost(const std::string& host_id) {
  // Hold the snapshot: the list it points to may be replaced (and freed) meanwhile.
  const std::shared_ptr<const List> list = Snapshot();
  for (const auto& e : list->entries) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    sched::LeaveHostRequest req;
    req.set_host_id(host_id);
    sched::LeaveHostResponse resp;
    (void)e->stub->LeaveHost(&ctx, req, &resp);
  }
}

}  // namespace df::daemon
