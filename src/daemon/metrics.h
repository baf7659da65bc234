// Prometheus metrics of a dfdaemon. Counters are thread-safe (prometheus-cpp atomics).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include "dragonfly/daemon/config.h"
#include "dragonfly/storage/task_store.h"

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
  prometheus::Gauge& proxy_active;         // proxy requests being answered
  prometheus::Family<prometheus::Counter>& origin_family;
  prometheus::Counter& origin_ok;        // back-to-source fetches that got the content
  prometheus::Counter& origin_failed;    // ... that did not
  prometheus::Gauge& piece_connections;  // open neighbour connections (set at scrape time)
  prometheus::Gauge& storage_used;       // bytes the store holds (set at scrape time)
  prometheus::Gauge& storage_usage;      // the usage GC compares with its watermarks, 0..1
  prometheus::Gauge& storage_tasks;      // tasks stored
  prometheus::Counter& evicted_tasks;    // tasks GC removed
  prometheus::Counter& evicted_bytes;    // ... and the bytes it freed

  // A successful download's duration, labelled by where its bytes came from (local_cache,
  // remote_peer, seed_peer, back_to_source) and its size class.
  void ObserveDownload(std::string_view source, int64_t content_length, double seconds);
  // The gauges read at scrape time.
  void ObserveStore(const storage::TaskStore& store, const storage::GcPolicy& policy,
                    int piece_connections);
  void CountEvictions(const storage::GcResult& r);

 private:
  prometheus::Family<prometheus::Histogram>& duration_family_;
};

// The GC policy of the daemon's gc section.
storage::GcPolicy GcPolicyOf(const DaemonConfig& config);

// The size class of a download's duration label: "1MiB", "16MiB", "128MiB", "1GiB" (at most)
// or "large"; "unknown" for a length not known.
std::string_view SizeClass(int64_t content_length);

}  // namespace df::daemon
