// Calls from the scheduler to the hosts' DfdaemonUpload services (seed triggers, replications,
// deletions) over the gRPC callback API: one cached stub per target, a deadline per call, and a
// destructor that waits for the calls in flight, so their callbacks have all run when it
// returns. Internal to df_scheduler. Thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/dfdaemon.grpc.pb.h"
#include "dragonfly/rpc/tls.h"

namespace df::scheduler {

class UploadCalls {
 public:
  // `credentials` null: plaintext. The hosts must present one of `server_roles` (with TLS).
  UploadCalls(std::chrono::milliseconds timeout,
              std::shared_ptr<const rpc::Credentials> credentials,
              std::vector<security::Role> server_roles)
      : timeout_(timeout),
        credentials_(credentials ? std::move(credentials) : rpc::Credentials::Insecure()),
        roles_(std::move(server_roles)) {}
  ~UploadCalls() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return in_flight_ == 0; });
  }
  UploadCalls(const UploadCalls&) = delete;
  UploadCalls& operator=(const UploadCalls&) = delete;

  // Counts a call in flight, sets `ctx`'s deadline and returns the stub of `target`. Each Begin
  // is matched by one End, when the call's callback is done.
  ::dragonfly::api::dfdaemon::DfdaemonUpload::Stub* Begin(const std::string& target,
                                                          grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + timeout_);
    std::lock_guard<std::mutex> lock(mu_);
    ++in_flight_;
    auto& stub = stubs_[target];
    if (!stub) {
      stub =
          ::dragonfly::api::dfdaemon::DfdaemonUpload::NewStub(credentials_->Dial(target, roles_));
    }
    return stub.get();
  }
  void End() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--in_flight_ == 0) {
      cv_.notify_all();
    }
  }

 private:
  const std::chrono::milliseconds timeout_;
  const std::shared_ptr<const rpc::Credentials> credentials_;
  const std::vector<security::Role> roles_;
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  std::map<std::string, std::unique_ptr<::dragonfly::api::dfdaemon::DfdaemonUpload::Stub>> stubs_;
};

}  // namespace df::scheduler
