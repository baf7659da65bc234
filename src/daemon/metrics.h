// Prometheus metrics of a dfdaemon. Counters are thread-safe (prometheus-cpp atomics).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <memory>

namespace df::daemon {

struct DaemonMetrics {
  explicit DaemonMetrics(const std::shared_ptr<prometheus::Registry>& registry);

  prometheus::Family<prometheus::Counter>& bytes_family;
  prometheus::Counter& bytes_back_to_source;
  prometheus::Counter& bytes_remote_peer;
  prometheus::Counter& bytes_local_peer;
  prometheus::Counter& bytes_seed_peer;  // the part of remote_peer that came from seed peers
  prometheus::Family<prometheus::Counter>& pieces_family;
  prometheus::Counter& pieces_back_to_source;
  prometheus::Counter& pieces_remote_peer;
  prometheus::Family<prometheus::Counter>& failures_family;
  prometheus::Counter& piece_corrupt;
  prometheus::Counter& parent_failures;
  prometheus::Counter& upload_bytes;
  prometheus::Counter& upload_pieces;
  prometheus::Family<prometheus::Counter>& piece_tls_family;
  prometheus::Counter& piece_tls_kernel;      // piece connections encrypted by kernel TLS
  prometheus::Counter& piece_tls_user_space;  // ... by OpenSSL in user space
  prometheus::Family<prometheus::Counter>& tasks_family;
  prometheus::Counter& tasks_succeeded;
  prometheus::Counter& tasks_failed;
  prometheus::Counter& cache_hits;
  prometheus::Gauge& active_tasks;
  prometheus::Family<prometheus::Counter>& proxy_family;
  prometheus::Counter& proxy_p2p;          // requests served through P2P
  prometheus::Counter& proxy_passthrough;  // requests forwarded unchanged
  prometheus::Counter& proxy_tunnels;      // CONNECT tunnels
  prometheus::Counter& proxy_intercepted;  // CONNECTs TLS-terminated (proxy.hijackHTTPS)
  prometheus::Counter& proxy_errors;       // error responses made by the proxy
  prometheus::Counter& proxy_bytes;        // body bytes sent to clients from P2P tasks
};

}  // namespace df::daemon
