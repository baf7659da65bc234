// Test helpers: a fake clock, a recording seed trigger and request builders.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "dragonfly/common/task_id.h"
#include "dragonfly/scheduler/state.h"

namespace df::scheduler::testing {

class FakeClock final : public Clock {
 public:
  TimePoint Now() const override { return now_; }
  void Advance(std::chrono::milliseconds d) { now_ += d; }

 private:
  TimePoint now_ = TimePoint(std::chrono::hours(1000));
};

struct TriggerCall {
  api::Host host;
  std::string peer_id;
  api::TaskSpec spec;
  SeedTrigger::Done done;
};

// Records calls; the test completes them with calls[i].done(status).
class RecordingTrigger final : public SeedTrigger {
 public:
  explicit RecordingTrigger(std::vector<TriggerCall>* calls) : calls_(calls) {}
  void Trigger(const api::Host& host, const std::string& peer_id, const api::TaskSpec& spec,
               Done done) override {
    calls_->push_back({host, peer_id, spec, std::move(done)});
  }

 private:
  std::vector<TriggerCall>* calls_;
};

inline api::AnnounceHostRequest HostReq(const std::string& id, bool seed = false,
                                        uint32_t slots = 10, const std::string& idc = "",
                                        const std::string& location = "") {
  api::AnnounceHostRequest r;
  api::Host* h = r.mutable_host();
  h->set_id(id);
  h->set_hostname(id);
  h->set_ip("10.0.0." + std::to_string(id.size()));
  h->set_piece_port(4000);
  h->set_rpc_port(4001);
  h->set_type(seed ? api::HOST_TYPE_SEED : api::HOST_TYPE_NORMAL);
  h->set_idc(idc);
  h->set_location(location);
  h->set_upload_slots(slots);
  return r;
}

// The ID of the test task `name` (http://origin/<name>), as a daemon computes it.
inline std::string TaskIdOf(const std::string& name) {
  TaskIdInput in;
  in.url = "http://origin/" + name;
  return *MakeTaskId(in);
}

inline api::RegisterPeerRequest PeerReq(const std::string& host, const std::string& peer,
                                        const std::string& task = "task1",
                                        std::vector<std::string> blocked = {},
                                        bool need_back_to_source = false) {
  api::RegisterPeerRequest r;
  r.set_host_id(host);
  r.set_peer_id(peer);
  r.mutable_task()->set_task_id(TaskIdOf(task));
  r.mutable_task()->set_url("http://origin/" + task);
  for (auto& b : blocked) {
    r.add_blocked_neighbours(b);
  }
  r.set_need_back_to_source(need_back_to_source);
  return r;
}

// A fixture: a SchedulerState with the default options, a recording seed trigger and a fake clock.
class StateFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = std::make_unique<SchedulerState>(SchedulerOptions{},
                                              std::make_unique<RecordingTrigger>(&calls_), &clock_);
  }

  std::vector<TriggerCall> calls_;
  FakeClock clock_;
  std::unique_ptr<SchedulerState> state_;
};

}  // namespace df::scheduler::testing
