#include "dragonfly/scheduler/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace df::scheduler {

SchedulerMetrics::SchedulerMetrics(prometheus::Registry& registry) {
  auto& reg = prometheus::BuildCounter()
                  .Name("dragonfly_scheduler_register_peer_total")
                  .Help("RegisterPeer answers by action")
                  .Register(registry);
  register_[dragonfly::api::scheduler::ACTION_NEIGHBOURS] = &reg.Add({{"action", "neighbours"}});
  register_[dragonfly::api::scheduler::ACTION_BACK_TO_SOURCE] =
      &reg.Add({{"action", "back_to_source"}});
  register_[dragonfly::api::scheduler::ACTION_RETRY] = &reg.Add({{"action", "retry"}});
  register_[dragonfly::api::scheduler::ACTION_FAIL] = &reg.Add({{"action", "fail"}});
  schedule_ =
      &prometheus::BuildHistogram()
           .Name("dragonfly_scheduler_schedule_duration_seconds")
           .Help("Time to decide a RegisterPeer answer")
           .Register(registry)
           .Add({}, prometheus::Histogram::BucketBoundaries{0.00001, 0.00005, 0.0001, 0.0005, 0.001,
                                                            0.005, 0.01, 0.05, 0.1, 0.5, 1});
  auto& seed = prometheus::BuildCounter()
                   .Name("dragonfly_scheduler_seed_triggers_total")
                   .Help("Seed peer triggers by result")
                   .Register(registry);
  seed_ok_ = &seed.Add({{"result", "ok"}});
  seed_error_ = &seed.Add({{"result", "error"}});
  hosts_ = &prometheus::BuildGauge()
                .Name("dragonfly_scheduler_hosts")
                .Help("Announced hosts")
                .Register(registry)
                .Add({});
  peers_ = &prometheus::BuildGauge()
                .Name("dragonfly_scheduler_peers")
                .Help("Known peers")
                .Register(registry)
                .Add({});
  tasks_ = &prometheus::BuildGauge()
                .Name("dragonfly_scheduler_tasks")
                .Help("Known tasks")
                .Register(registry)
                .Add({});
  config_version_ = &prometheus::BuildGauge()
                         .Name("dragonfly_scheduler_config_version")
                         .Help("Version of the last cluster config applied from the manager")
                         .Register(registry)
                         .Add({});
  candidate_parent_limit_ = &prometheus::BuildGauge()
                                 .Name("dragonfly_scheduler_candidate_parent_limit")
                                 .Help("Parents handed to a peer per registration")
                                 .Register(registry)
                                 .Add({});
}

void SchedulerMetrics::CountRegister(dragonfly::api::scheduler::Action action) {
  int i = static_cast<int>(action);
  if (i >= 0 && i < 4) {
    register_[i]->Increment();
  }
}

void SchedulerMetrics::ObserveSchedule(double seconds) { schedule_->Observe(seconds); }

void SchedulerMetrics::CountSeedTrigger(bool ok) { (ok ? seed_ok_ : seed_error_)->Increment(); }

void SchedulerMetrics::SetSizes(size_t hosts, size_t peers, size_t tasks) {
  hosts_->Set(static_cast<double>(hosts));
  peers_->Set(static_cast<double>(peers));
  tasks_->Set(static_cast<double>(tasks));
}

void SchedulerMetrics::SetClusterConfig(uint64_t version, uint32_t candidate_parent_limit) {
  config_version_->Set(static_cast<double>(version));
  candidate_parent_limit_->Set(static_cast<double>(candidate_parent_limit));
}

}  // namespace df::scheduler
