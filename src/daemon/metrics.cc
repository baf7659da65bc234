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
                      .Add({})) {}

}  // namespace df::daemon
