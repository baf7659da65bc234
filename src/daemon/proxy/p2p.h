// P2PServer: answers a proxied GET from the P2P network. See proxy_server.h for the flow.
// Thread-safe: Serve runs on each client connection's thread.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "daemon/downloads.h"
#include "daemon/proxy/upstream.h"
#include "dragonfly/backend/http_backend.h"

namespace df::daemon::proxy {

struct P2PRequest {
  std::string url;        // upstream URL (ns= removed)
  bool registry = false;  // a registry mirror request (blob digests apply)
  bool keep_alive = true;
  std::string range;  // the client's Range header, if any
  std::string tag;
  std::string application;
  std::vector<std::string> filtered_query_params;
  Headers headers;     // the client's end-to-end headers (Authorization, Accept, ...)
  std::string target;  // the client's request-target ("/v2/<repo>/blobs/sha256:...?ns=...")
};

// The upstream TLS settings of a daemon config (backSource + proxy.registries).
backend::HttpOptions UpstreamTls(const DaemonConfig& config);

class P2PServer {
 public:
  P2PServer(DaemonContext* ctx, Downloads* downloads);

  // Writes the whole response to `fd`; returns whether the connection may be kept open.
  bool Serve(int fd, const P2PRequest& req);
  // Makes responses waiting for pieces give up (within 5 s): the proxy is stopping.
  void Stop() { stopping_ = true; }
  const backend::HttpOptions& tls() const { return tls_; }

 private:
  // Serve, inside the request's span.
  bool ServeTraced(int fd, const P2PRequest& req);
  // The client's GET relayed to its upstream as it is (no task, no cache).
  bool Relay(int fd, const P2PRequest& req, long timeout_s);
  // Is the blob `task_id` off limits for this client because it comes from another repository
  // or registry than `url`? Its source: the URL this host holds (or fetches) it from, else the
  // URL the scheduler bound the task to. See Serve.
  bool FromAnotherSource(const std::string& task_id, const std::string& url, const Headers& auth,
                         long timeout_s);
  bool Fail(int fd, int status, const std::string& type, const std::string& message,
            bool keep_alive, const std::string& extra_headers = "");

  DaemonContext* ctx_;
  Downloads* downloads_;
  backend::HttpOptions tls_;
  std::atomic<bool> stopping_{false};
};

}  // namespace df::daemon::proxy
