#include "daemon/metrics.h"

namespace df::daemon {

DaemonMetrics::DaemonMetrics(const std::shared_ptr<prometheus::Registry>& r)
    : bytes_family(prometheus::BuildCounter()
                       .Name("dragonfly_dfdaemon_download_bytes_total")
                       .Help("Bytes of task content obtained, by source")
                       .Register(*r)),
      bytes_back_to_source(bytes_family.Add({{"source", "back_to_source"}})),
      bytes_remote_peer(bytes_family.Add({{"source", "remote_peer"}})),
      bytes_local_peer(bytes_family.Add({{"source", "local_peer"}})),
      bytes_seed_peer(prometheus::BuildCounter()
                          .Name("dragonfly_dfdaemon_download_seed_peer_bytes_total")
                          .Help("Bytes received from seed peers (included in remote_peer)")
                          .Register(*r)
                          .Add({})),
      pieces_family(prometheus::BuildCounter()
                        .Name("dragonfly_dfdaemon_download_pieces_total")
                        .Help("Pieces stored, by source")
                        .Register(*r)),
      pieces_back_to_source(pieces_family.Add({{"source", "back_to_source"}})),
      pieces_remote_peer(pieces_family.Add({{"source", "remote_peer"}})),
      failures_family(prometheus::BuildCounter()
                          .Name("dragonfly_dfdaemon_piece_failures_total")
                          .Help("Piece download failures, by reason")
                          .Register(*r)),
      piece_corrupt(failures_family.Add({{"reason", "corrupt"}})),
      parent_failures(failures_family.Add({{"reason", "parent_error"}})),
      upload_bytes(prometheus::BuildCounter()
                       .Name("dragonfly_dfdaemon_upload_bytes_total")
                       .Help("Piece bytes served to other peers")
                       .Register(*r)
                       .Add({})),
      upload_pieces(prometheus::BuildCounter()
                        .Name("dragonfly_dfdaemon_upload_pieces_total")
                        .Help("Pieces served to other peers")
                        .Register(*r)
                        .Add({})),
      piece_tls_family(prometheus::BuildCounter()
                           .Name("dragonfly_dfdaemon_piece_tls_connections_total")
                           .Help("TLS piece connections, by where their bytes are encrypted")
                           .Register(*r)),
      piece_tls_kernel(piece_tls_family.Add({{"encryption", "kernel"}})),
      piece_tls_user_space(piece_tls_family.Add({{"encryption", "user_space"}})),
      tasks_family(prometheus::BuildCounter()
                       .Name("dragonfly_dfdaemon_download_tasks_total")
                       .Help("Downloads finished, by result")
                       .Register(*r)),
      tasks_succeeded(tasks_family.Add({{"result", "success"}})),
      tasks_failed(tasks_family.Add({{"result", "failure"}})),
      cache_hits(tasks_family.Add({{"result", "cache_hit"}})),
      active_tasks(prometheus::BuildGauge()
                       .Name("dragonfly_dfdaemon_active_tasks")
                       .Help("Downloads in progress")
                       .Register(*r)
                       .Add({})),
      proxy_family(prometheus::BuildCounter()
                       .Name("dragonfly_dfdaemon_proxy_requests_total")
                       .Help("Proxy and registry mirror requests, by how they were served")
                       .Register(*r)),
      proxy_p2p(proxy_family.Add({{"kind", "p2p"}})),
      proxy_passthrough(proxy_family.Add({{"kind", "passthrough"}})),
      proxy_tunnels(proxy_family.Add({{"kind", "tunnel"}})),
      proxy_intercepted(proxy_family.Add({{"kind", "intercepted"}})),
      proxy_errors(proxy_family.Add({{"kind", "error"}})),
      proxy_bytes(prometheus::BuildCounter()
                      .Name("dragonfly_dfdaemon_proxy_p2p_bytes_total")
                      .Help("Body bytes sent to proxy clients from P2P tasks")
                      .Register(*r)
                      .Add({})),
      proxy_active(prometheus::BuildGauge()
                       .Name("dragonfly_dfdaemon_proxy_active_requests")
                       .Help("Proxy and registry mirror requests being answered")
                       .Register(*r)
                       .Add({})),
      origin_family(prometheus::BuildCounter()
                        .Name("dragonfly_dfdaemon_back_to_source_requests_total")
                        .Help("Fetches from the origin, by result")
                        .Register(*r)),
      origin_ok(origin_family.Add({{"result", "success"}})),
      origin_failed(origin_family.Add({{"result", "failure"}})),
      piece_connections(prometheus::BuildGauge()
                            .Name("dragonfly_dfdaemon_piece_connections")
                            .Help("Open piece connections with neighbours")
                            .Register(*r)
                            .Add({})),
      storage_used(prometheus::BuildGauge()
                       .Name("dragonfly_dfdaemon_storage_used_bytes")
                       .Help("Bytes of task content and metadata the store holds")
                       .Register(*r)
                       .Add({})),
      storage_usage(prometheus::BuildGauge()
                        .Name("dragonfly_dfdaemon_storage_usage_ratio")
                        .Help("Usage GC compares with gc.diskHighPercent: of storage.capacity, "
                              "else of the file system")
                        .Register(*r)
                        .Add({})),
      storage_tasks(prometheus::BuildGauge()
                        .Name("dragonfly_dfdaemon_storage_tasks")
                        .Help("Tasks stored")
                        .Register(*r)
                        .Add({})),
      evicted_tasks(prometheus::BuildCounter()
                        .Name("dragonfly_dfdaemon_storage_evicted_tasks_total")
                        .Help("Tasks removed by GC (TTL or disk watermark)")
                        .Register(*r)
                        .Add({})),
      evicted_bytes(prometheus::BuildCounter()
                        .Name("dragonfly_dfdaemon_storage_evicted_bytes_total")
                        .Help("Bytes freed by GC")
                        .Register(*r)
                        .Add({})),
      duration_family_(prometheus::BuildHistogram()
                           .Name("dragonfly_dfdaemon_download_task_duration_seconds")
                           .Help("Duration of successful downloads, by source and size class")
                           .Register(*r)) {}

void DaemonMetrics::ObserveDownload(std::string_view source, int64_t content_length,
                                    double seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
  duration_family_
      .Add({{"source", std::string(source)}, {"size", std::string(SizeClass(content_length))}},
           kBuckets)
      .Observe(seconds);
}

void DaemonMetrics::ObserveStore(const storage::TaskStore& store, const storage::GcPolicy& policy,
                                 int connections) {
  storage_used.Set(static_cast<double>(store.UsedBytes()));
  storage_usage.Set(store.UsagePercent(policy) / 100.0);
  storage_tasks.Set(static_cast<double>(store.TaskCount()));
  piece_connections.Set(connections);
}

void DaemonMetrics::CountEvictions(const storage::GcResult& r) {
  evicted_tasks.Increment(r.evicted);
  evicted_bytes.Increment(static_cast<double>(r.freed_bytes));
}

storage::GcPolicy GcPolicyOf(const DaemonConfig& config) {
  storage::GcPolicy policy;
  policy.task_ttl = config.gc.task_ttl;
  policy.disk_high_percent = static_cast<int>(config.gc.disk_high_percent);
  policy.disk_low_percent = static_cast<int>(config.gc.disk_low_percent);
  policy.capacity_bytes = config.gc.capacity;
  return policy;
}

std::string_view SizeClass(int64_t content_length) {
  constexpr int64_t kMiB = 1 << 20;
  if (content_length < 0) {
    return "unknown";
  }
  if (content_length <= kMiB) {
    return "1MiB";
  }
  if (content_length <= 16 * kMiB) {
    return "16MiB";
  }
  if (content_length <= 128 * kMiB) {
    return "128MiB";
  }
  if (content_length <= 1024 * kMiB) {
    return "1GiB";
  }
  return "large";
}

}  // namespace df::daemon
