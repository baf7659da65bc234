// A component's KeepAlive stream to the manager (api/manager.proto, Manager.KeepAlive): the
// first request registers the component, then one request goes out per interval and every
// response is handed to a callback. When the stream breaks (or cannot be opened, or stays silent
// for `response_timeout`) it is reopened with bounded exponential backoff, rotating through the
// manager addresses. It never gives up: a component keeps working while the manager is down.
// One warning is logged per outage (when the stream first breaks), one info line when a stream
// is established again; the retries in between log at debug level.
//
// Shared by the scheduler and by seed peers (dfdaemon): the manager's client library
// (df_manager_client, src/manager/client).
//
// Threads: Start() spawns one thread that opens the streams and writes the requests, plus one
// reader thread per open stream. `on_response` runs on the reader thread, one call at a time;
// it must not call Stop(). Stop() (also run by the destructor) cancels the open stream
// (grpc::ClientContext::TryCancel) and joins both threads; no callback runs after it returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/manager.pb.h"
#include "dragonfly/rpc/tls.h"

namespace df::manager {

namespace mgr = ::dragonfly::api::manager;

// gRPC metadata carrying the manager's component token (manager auth.componentToken).
inline constexpr char kComponentTokenHeader[] = "x-dragonfly-token";

struct ManagerKeepAliveOptions {
  std::vector<std::string> addrs;  // manager gRPC addresses (host:port); at least one
  std::string token;               // sent as kComponentTokenHeader when not empty
  // Between two requests; a response's interval_ms lowers it (the manager's "at least this
  // often").
  std::chrono::milliseconds interval{std::chrono::seconds(2)};
  std::chrono::milliseconds min_backoff{200};  // first reconnect delay; doubles per failure
  std::chrono::milliseconds max_backoff{std::chrono::seconds(5)};
  // A stream without any response for this long is treated as broken; 0 = max(3 x interval,
  // 5 s).
  std::chrono::milliseconds response_timeout{0};
  // TLS to the manager (its certificate must have the manager role); null: plaintext.
  std::shared_ptr<const rpc::Credentials> credentials;
};

class ManagerKeepAlive {
 public:
  using OnResponse = std::function<void(const mgr::KeepAliveResponse&)>;

  // Starts the stream thread. `request` is sent unchanged on every message.
  static std::unique_ptr<ManagerKeepAlive> Start(ManagerKeepAliveOptions options,
                                                 mgr::KeepAliveRequest request,
                                                 OnResponse on_response);

  virtual ~ManagerKeepAlive() = default;
  // Cancels the stream and joins the threads. Idempotent; call from any thread but the
  // callback's.
  virtual void Stop() = 0;
  // Streams that have received at least one response (1 once connected, 2 after a reconnect...).
  virtual uint64_t sessions() const = 0;
  // True while a stream is open and has received a response.
  virtual bool connected() const = 0;
};

}  // namespace df::manager
