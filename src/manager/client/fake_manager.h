// Test double of the manager (api/manager.proto) for the scheduler's and the dfdaemon's tests:
// an in-process gRPC server on 127.0.0.1 that answers every KeepAliveRequest with the cluster
// config set by the test, and ListSchedulers with the scheduler list set by the test. It records
// what it received and can be stopped and restarted on the same port.
//
// Thread-safe: gRPC threads and the test thread share the state under one mutex.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/manager.grpc.pb.h"

namespace df::test_util {

namespace mgr = ::dragonfly::api::manager;

class FakeManager {
 public:
  FakeManager() = default;
  ~FakeManager() { Stop(); }
  FakeManager(const FakeManager&) = delete;
  FakeManager& operator=(const FakeManager&) = delete;

  // Serves on 127.0.0.1:`port` (0 = ephemeral, then the same port on every restart).
  bool Start(uint16_t port = 0) {
    if (port == 0) {
      port = port_;
    }
    service_ = std::make_unique<Service>(this);
    grpc::ServerBuilder builder;
    int bound = 0;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(),
                             &bound);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    if (!server_ || bound == 0) {
      server_.reset();
      return false;
    }
    port_ = static_cast<uint16_t>(bound);
    return true;
  }

  // Cancels the open streams at once (like a crashed manager) and stops serving.
  void Stop() {
    if (server_) {
      server_->Shutdown(std::chrono::system_clock::now());
      server_->Wait();
      server_.reset();
    }
    service_.reset();
  }

  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }

  void SetConfig(const mgr::SchedulerClusterConfig& config) {
    std::lock_guard lock(mu_);
    config_ = config;
  }
  void SetSchedulers(std::vector<mgr::SchedulerInfo> schedulers) {
    std::lock_guard lock(mu_);
    schedulers_ = std::move(schedulers);
  }
  std::vector<mgr::KeepAliveRequest> keepalive_requests() const {
    std::lock_guard lock(mu_);
    return keepalive_requests_;
  }
  int keepalive_streams() const {
    std::lock_guard lock(mu_);
    return keepalive_streams_;
  }
  int list_calls() const {
    std::lock_guard lock(mu_);
    return list_calls_;
  }
  mgr::ListSchedulersRequest last_list_request() const {
    std::lock_guard lock(mu_);
    return last_list_request_;
  }

  static mgr::SchedulerInfo Scheduler(const std::string& ip, uint32_t port) {
    mgr::SchedulerInfo s;
    s.set_hostname("scheduler-" + std::to_string(port));
    s.set_ip(ip);
    s.set_port(port);
    s.set_scheduler_cluster_id(1);
    return s;
  }

 private:
  class Service final : public mgr::Manager::Service {
   public:
    explicit Service(FakeManager* m) : m_(m) {}
    grpc::Status KeepAlive(
        grpc::ServerContext*,
        grpc::ServerReaderWriter<mgr::KeepAliveResponse, mgr::KeepAliveRequest>* stream) override {
      {
        std::lock_guard lock(m_->mu_);
        ++m_->keepalive_streams_;
      }
      mgr::KeepAliveRequest req;
      while (stream->Read(&req)) {
        mgr::KeepAliveResponse resp;
        {
          std::lock_guard lock(m_->mu_);
          m_->keepalive_requests_.push_back(req);
          resp.set_id(static_cast<uint64_t>(m_->keepalive_streams_));
          *resp.mutable_config() = m_->config_;
        }
        if (!stream->Write(resp)) {
          break;
        }
      }
      return grpc::Status::OK;
    }
    grpc::Status ListSchedulers(grpc::ServerContext*, const mgr::ListSchedulersRequest* req,
                                mgr::ListSchedulersResponse* resp) override {
      std::lock_guard lock(m_->mu_);
      ++m_->list_calls_;
      m_->last_list_request_ = *req;
      for (const auto& s : m_->schedulers_) {
        *resp->add_schedulers() = s;
      }
      return grpc::Status::OK;
    }

   private:
    FakeManager* m_;
  };

  uint16_t port_ = 0;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;

  mutable std::mutex mu_;
  mgr::SchedulerClusterConfig config_;
  std::vector<mgr::SchedulerInfo> schedulers_;
  std::vector<mgr::KeepAliveRequest> keepalive_requests_;
  int keepalive_streams_ = 0;
  int list_calls_ = 0;
  mgr::ListSchedulersRequest last_list_request_;
};

// Polls `pred` every 10 ms until it holds or `timeout` passes; returns its last value.
inline bool WaitUntil(const std::function<bool()>& pred,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return pred();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace df::test_util
