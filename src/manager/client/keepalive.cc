#include "dragonfly/manager/keepalive.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "api/manager.grpc.pb.h"
#include "dragonfly/common/status.h"
#include "dragonfly/rpc/status.h"

namespace df::manager {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const char* SourceName(mgr::SourceType t) {
  return t == mgr::SOURCE_TYPE_SEED_PEER ? "seed peer" : "scheduler";
}

class KeepAliveImpl final : public ManagerKeepAlive {
 public:
  KeepAliveImpl(ManagerKeepAliveOptions options, mgr::KeepAliveRequest request,
                OnResponse on_response)
      : opts_(std::move(options)),
        request_(std::move(request)),
        on_response_(std::move(on_response)),
        interval_(opts_.interval) {
    if (opts_.response_timeout.count() <= 0) {
      opts_.response_timeout = std::max<milliseconds>(3 * opts_.interval, std::chrono::seconds(5));
    }
  }
  ~KeepAliveImpl() override { Stop(); }
  KeepAliveImpl(const KeepAliveImpl&) = delete;
  KeepAliveImpl& operator=(const KeepAliveImpl&) = delete;

  void Begin() {
    if (opts_.addrs.empty()) {
      spdlog::warn("manager keepalive: no manager address");
      return;
    }
    thread_ = std::thread([this] { Run(); });
  }

  void Stop() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      if (ctx_ != nullptr) {
        ctx_->TryCancel();
      }
    }
    cv_.notify_all();
    std::lock_guard join_lock(join_mu_);
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  uint64_t sessions() const override {
    std::lock_guard lock(mu_);
    return sessions_;
  }

  bool connected() const override {
    std::lock_guard lock(mu_);
    return connected_;
  }

 private:
  // The stream thread: open, keep alive until broken, back off, repeat.
  void Run() {
    size_t index = 0;
    uint32_t failures = 0;  // consecutive streams that got no response
    std::minstd_rand rng(std::random_device{}());
    bool outage = false;  // a warning was logged and no stream has been established since
    while (true) {
      const std::string& addr = opts_.addrs[index % opts_.addrs.size()];
      bool established = false;
      Status s = RunStream(addr, &outage, &established);
      std::unique_lock lock(mu_);
      if (stopping_) {
        return;
      }
      failures = established ? 0 : failures + 1;
      if (!outage) {
        spdlog::warn("manager {} keepalive ({}) down, reconnecting with backoff: {}", addr,
                     SourceName(request_.source_type()), s.ToString());
        outage = true;
      } else {
        spdlog::debug("manager {} keepalive retry failed: {}", addr, s.ToString());
      }
      ++index;  // the next manager, if there are several
      milliseconds backoff = opts_.min_backoff * (1LL << std::min<uint32_t>(failures, 16));
      backoff = std::min(backoff, opts_.max_backoff);
      backoff =
          milliseconds(static_cast<int64_t>(static_cast<double>(backoff.count()) *
                                            std::uniform_real_distribution<double>(0.8, 1.0)(rng)));
      cv_.wait_for(lock, backoff, [&] { return stopping_; });
      if (stopping_) {
        return;
      }
    }
  }

  std::shared_ptr<grpc::Channel> ChannelFor(const std::string& addr) {
    auto it = channels_.find(addr);
    if (it == channels_.end()) {
      grpc::ChannelArguments args;
      // Reconnect at our own pace: gRPC's default backoff grows to two minutes.
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                  static_cast<int>(opts_.min_backoff.count()));
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(opts_.max_backoff.count()));
      const auto& creds = opts_.credentials ? opts_.credentials : rpc::Credentials::Insecure();
      it = channels_.emplace(addr, creds->Dial(addr, {security::Role::kManager}, args)).first;
    }
    return it->second;
  }

  // Runs one stream until it breaks or Stop(). Sets *established when a response arrived.
  Status RunStream(const std::string& addr, bool* outage, bool* established) {
    auto stub = mgr::Manager::NewStub(ChannelFor(addr));
    grpc::ClientContext ctx;
    if (!opts_.token.empty()) {
      ctx.AddMetadata(kComponentTokenHeader, opts_.token);
    }
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        return Cancelled("stopping");
      }
      ctx_ = &ctx;
      last_response_ = Clock::now();
    }
    std::unique_ptr<grpc::ClientReaderWriter<mgr::KeepAliveRequest, mgr::KeepAliveResponse>>
        stream = stub->KeepAlive(&ctx);
    bool reader_done = false;
    std::thread reader([&] {
      mgr::KeepAliveResponse resp;
      while (stream->Read(&resp)) {
        {
          std::lock_guard lock(mu_);
          last_response_ = Clock::now();
          if (resp.interval_ms() > 0) {
            interval_ = std::min(opts_.interval, milliseconds(resp.interval_ms()));
          }
          if (!*established) {
            *established = true;
            connected_ = true;
            ++sessions_;
            spdlog::info("manager {} keepalive ({}) {} id={}", addr,
                         SourceName(request_.source_type()), *outage ? "restored" : "established",
                         resp.id());
            *outage = false;
          }
        }
        on_response_(resp);
      }
      {
        std::lock_guard lock(mu_);
        reader_done = true;
      }
      cv_.notify_all();
    });

    std::string why;
    std::unique_lock lock(mu_);
    while (!stopping_ && !reader_done) {
      lock.unlock();
      bool written = stream->Write(request_);
      lock.lock();
      if (!written) {
        why = "stream closed";
        break;
      }
      auto next = Clock::now() + interval_;
      cv_.wait_until(lock, next, [&] {
        return stopping_ || reader_done || Clock::now() - last_response_ > opts_.response_timeout;
      });
      if (!stopping_ && !reader_done && Clock::now() - last_response_ > opts_.response_timeout) {
        why = "no response for " + std::to_string(opts_.response_timeout.count()) + " ms";
        break;
      }
    }
    ctx_ = nullptr;
    connected_ = false;
    lock.unlock();
    ctx.TryCancel();
    reader.join();
    grpc::Status st = stream->Finish();
    if (!why.empty() && why != "stream closed") {
      return Unavailable("manager " + addr + ": " + why);
    }
    Status s = rpc::FromGrpc(st, "manager " + addr);
    return s.ok() ? Unavailable("manager " + addr + " closed the stream") : s;
  }

  ManagerKeepAliveOptions opts_;
  const mgr::KeepAliveRequest request_;
  const OnResponse on_response_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;  // stream thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  grpc::ClientContext* ctx_ = nullptr;  // the open stream's, for Stop()
  Clock::time_point last_response_;
  milliseconds interval_;
  uint64_t sessions_ = 0;
  bool connected_ = false;

  std::mutex join_mu_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<ManagerKeepAlive> ManagerKeepAlive::Start(ManagerKeepAliveOptions options,
                                                          mgr::KeepAliveRequest request,
                                                          OnResponse on_response) {
  auto impl = std::make_unique<KeepAliveImpl>(std::move(options), std::move(request),
                                              std::move(on_response));
  impl->Begin();
  return impl;
}

}  // namespace df::manager
