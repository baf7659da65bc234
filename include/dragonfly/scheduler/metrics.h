// Prometheus metrics of the scheduler (namespace `dragonfly_scheduler_`). Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "api/scheduler.pb.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
}  // namespace prometheus

namespace df::scheduler {

class SchedulerMetrics {
 public:
  // Registers the families on `registry`, which must outlive this object.
  explicit SchedulerMetrics(prometheus::Registry& registry);

  void CountRegister(dragonfly::api::scheduler::Action action);
  // How long a registration took to decide (the state lock's wait included).
  void ObserveSchedule(double seconds);
  void CountSeedTrigger(bool ok);
  void SetSizes(size_t hosts, size_t peers, size_t tasks);
  // The last applied cluster config (0 = none) and the candidate parent limit in effect.
  void SetClusterConfig(uint64_t version, uint32_t candidate_parent_limit);

 private:
  prometheus::Counter* register_[4] = {};
  prometheus::Histogram* schedule_ = nullptr;
  prometheus::Counter* seed_ok_ = nullptr;
  prometheus::Counter* seed_error_ = nullptr;
  prometheus::Gauge* hosts_ = nullptr;
  prometheus::Gauge* peers_ = nullptr;
  prometheus::Gauge* tasks_ = nullptr;
  prometheus::Gauge* config_version_ = nullptr;
  prometheus::Gauge* candidate_parent_limit_ = nullptr;
};

}  // namespace df::scheduler
