#include "manager/rest_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <string>

namespace df::manager {

HttpRouter::Observer RestMetrics(prometheus::Registry& registry) {
  auto& requests = prometheus::BuildCounter()
                       .Name("dragonfly_manager_requests_total")
                       .Help("REST requests answered, by status code and method")
                       .Register(registry);
  auto& durations = prometheus::BuildHistogram()
                        .Name("dragonfly_manager_request_duration_seconds")
                        .Help("Time to answer REST requests, by method")
                        .Register(registry);
  return [&requests, &durations](const HttpRequest& req, int status, double seconds) {
    // Only the methods the API routes: a client's invented method is not a new series.
    static constexpr const char* kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
    std::string method = "other";
    for (const char* m : kMethods) {
      if (req.method == m) {
        method = m;
      }
    }
    requests.Add({{"code", std::to_string(status)}, {"method", method}}).Increment();
    durations
        .Add({{"method", method}}, prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.05,
                                                                           0.1, 0.5, 1, 5, 10, 30})
        .Observe(seconds);
  };
}

}  // namespace df::manager
