// The dfdaemon's HTTP proxy and registry mirror, on one port (default 127.0.0.1:65001).
//
//  * Origin-form requests (`GET /v2/<name>/blobs/sha256:<d>?ns=<registry>`) are registry mirror
//    requests. The upstream is the X-Dragonfly-Registry header, else `ns=` (a host[:port]; the
//    scheme comes from config), else proxy.registryMirror.addr. `ns` is not sent upstream.
//  * Absolute-form requests (`GET http://host/path`) are proxied; CONNECT is tunnelled as is.
//  * GETs whose upstream URL matches a rule (default `blobs/sha256.*`), or that carry
//    `X-Dragonfly-Use-P2P: true`, are served through P2P: the upstream is asked first (HEAD with
//    the client's credentials) so a client the upstream refuses gets the upstream's answer
//    (401 + WWW-Authenticate) even for a cached blob; then the task is downloaded (or found in
//    the store) and streamed to the client as pieces arrive, with Range support and the blob's
//    digest checked before the last byte is sent. Everything else is forwarded unchanged.
//
// Threads: one accept thread and one thread per client connection (bounded).
#pragma once

#include <cstdint>
#include <memory>

#include "daemon/downloads.h"
#include "dragonfly/common/status.h"

namespace df::daemon::proxy {

class ProxyServer {
 public:
  virtual ~ProxyServer() = default;
  virtual uint16_t port() const = 0;
  virtual void Stop() = 0;
};

StatusOr<std::unique_ptr<ProxyServer>> StartProxyServer(DaemonContext* ctx, Downloads* downloads);

}  // namespace df::daemon::proxy
