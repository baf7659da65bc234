#include "dragonfly/tracing/tracer.h"

#include <prometheus/counter.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "dragonfly/common/config.h"
#include "dragonfly/common/logging.h"
#include "tracing/exporter.h"

namespace df::tracing {
namespace {

uint64_t UnixNanos(std::chrono::system_clock::time_point t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

}  // namespace

class Tracer::Impl {
 public:
  Impl(TracingConfig config, std::unique_ptr<Exporter> exporter, prometheus::Registry* metrics)
      : config_(std::move(config)), exporter_(std::move(exporter)) {
    if (metrics != nullptr) {
      auto& family = prometheus::BuildCounter()
                         .Name("dragonfly_tracing_spans_total")
                         .Help("Finished spans by what became of them (exported, dropped)")
                         .Register(*metrics);
      exported_metric_ = &family.Add({{"result", "exported"}});
      dropped_metric_ = &family.Add({{"result", "dropped"}});
    }
    if (exporter_) {
      thread_ = std::thread([this] { Run(); });
    }
  }

  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  const TracingConfig& config() const { return config_; }
  bool enabled() const { return exporter_ != nullptr; }

  void Queue(std::unique_ptr<SpanData> span) {
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      if (queue_.size() >= config_.max_queue) {
        ++stats_.dropped;
        if (dropped_metric_ != nullptr) {
          dropped_metric_->Increment();
        }
        return;
      }
      queue_.push_back(std::move(*span));
      wake = queue_.size() >= config_.max_batch;
    }
    if (wake) {
      cv_.notify_all();
    }
  }

  void Flush() {
    std::unique_lock lock(mu_);
    const uint64_t want = ++flush_requests_;
    cv_.notify_all();
    flushed_cv_.wait(lock, [&] { return flushes_done_ >= want || !thread_.joinable(); });
  }

  Stats stats() const {
    std::lock_guard lock(mu_);
    return stats_;
  }

 private:
  // Takes batches off the queue and exports them, one at a time: every flush_interval, when a
  // batch is full, when asked to flush, and until the queue is empty when stopping.
  void Run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait_for(lock, config_.flush_interval, [&] {
        return stopping_ || queue_.size() >= config_.max_batch || flush_requests_ > flushes_done_;
      });
      const uint64_t flush_target = flush_requests_;
      while (!queue_.empty()) {
        size_t n = std::min(queue_.size(), config_.max_batch);
        std::vector<SpanData> batch(std::make_move_iterator(queue_.begin()),
                                    std::make_move_iterator(queue_.begin() + n));
        queue_.erase(queue_.begin(), queue_.begin() + n);
        lock.unlock();
        Status s = exporter_->Export(BuildRequest(config_.service_name, batch));
        lock.lock();
        Count(s, batch.size());
        if (!s.ok()) {
          if (stopping_ && !queue_.empty()) {  // no waiting for a dead collector at exit
            Count(s, queue_.size());
            queue_.clear();
          }
          break;  // the collector is down: the rest waits for the next interval
        }
      }
      flushes_done_ = flush_target;
      flushed_cv_.notify_all();
      if (stopping_ && queue_.empty()) {
        return;
      }
    }
  }

  void Count(const Status& s, size_t n) {
    if (s.ok()) {
      stats_.exported += n;
      if (exported_metric_ != nullptr) {
        exported_metric_->Increment(static_cast<double>(n));
      }
      return;
    }
    stats_.dropped += n;
    ++stats_.failed_batches;
    if (dropped_metric_ != nullptr) {
      dropped_metric_->Increment(static_cast<double>(n));
    }
    // Once per failing stretch, not once per batch.
    if (stats_.failed_batches == 1 || last_ok_) {
      spdlog::warn("tracing: export failed, {} spans dropped: {}", n, s.message());
    }
    last_ok_ = false;
  }

  const TracingConfig config_;
  const std::unique_ptr<Exporter> exporter_;
  prometheus::Counter* exported_metric_ = nullptr;
  prometheus::Counter* dropped_metric_ = nullptr;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable flushed_cv_;
  std::deque<SpanData> queue_;
  Stats stats_;
  bool stopping_ = false;
  bool last_ok_ = true;
  uint64_t flush_requests_ = 0;
  uint64_t flushes_done_ = 0;
  std::thread thread_;
};

Span::Span(Span&& other) noexcept
    : tracer_(other.tracer_),
      context_(other.context_),
      data_(std::move(other.data_)),
      started_(other.started_) {
  other.tracer_ = nullptr;
}

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    End();
    tracer_ = other.tracer_;
    context_ = other.context_;
    data_ = std::move(other.data_);
    started_ = other.started_;
    other.tracer_ = nullptr;
  }
  return *this;
}

Span::~Span() { End(); }

void Span::SetAttribute(std::string key, AttributeValue value) {
  if (data_) {
    data_->attributes.emplace_back(std::move(key), std::move(value));
  }
}

void Span::AddEvent(std::string name) {
  if (data_) {
    data_->events.emplace_back(UnixNanos(std::chrono::system_clock::now()), std::move(name));
  }
}

void Span::SetError(std::string message) {
  if (data_) {
    data_->error = true;
    data_->status_message = std::move(message);
  }
}

void Span::SetStartTime(std::chrono::steady_clock::time_point at) {
  if (!data_) {
    return;
  }
  const int64_t shift = std::chrono::duration_cast<std::chrono::nanoseconds>(at - started_).count();
  data_->start_unix_ns = static_cast<uint64_t>(static_cast<int64_t>(data_->start_unix_ns) + shift);
  started_ = at;
}

void Span::End() { End(std::chrono::steady_clock::now()); }

void Span::End(std::chrono::steady_clock::time_point at) {
  if (!data_ || tracer_ == nullptr) {
    data_.reset();
    return;
  }
  // The duration from the steady clock: a wall-clock step during the span does not bend it.
  const auto d = std::max(at - started_, std::chrono::steady_clock::duration::zero());
  data_->end_unix_ns =
      data_->start_unix_ns +
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
  tracer_->Finish(std::move(data_));
}

namespace {

// Log lines written on a thread that serves a trace name it (common/logging.h).
bool CurrentLogContext(std::string* trace_id, std::string* span_id) {
  const SpanContext& c = CurrentContext();
  if (!c.valid()) {
    return false;
  }
  *trace_id = c.trace_id.Hex();
  *span_id = c.span_id.Hex();
  return true;
}

}  // namespace

StatusOr<std::unique_ptr<Tracer>> Tracer::Create(TracingConfig config,
                                                 prometheus::Registry* metrics) {
  SetLogContextProvider(&CurrentLogContext);
  std::unique_ptr<Exporter> exporter;
  if (!config.endpoint.empty()) {
    DF_ASSIGN_OR_RETURN(exporter, MakeExporter(config));
    spdlog::info("tracing: spans of service {} go to {} over OTLP/{} (sample rate {})",
                 config.service_name, config.endpoint,
                 config.protocol == TracingConfig::Protocol::kGrpc ? "gRPC" : "HTTP",
                 config.sample_rate);
  }
  return std::unique_ptr<Tracer>(
      new Tracer(std::make_unique<Impl>(std::move(config), std::move(exporter), metrics)));
}

Tracer::Tracer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tracer::~Tracer() = default;

bool Tracer::enabled() const { return impl_->enabled(); }

Span Tracer::StartSpan(std::string_view name, SpanKind kind, const SpanContext& parent) {
  Span span;
  span.tracer_ = this;
  if (!impl_->enabled()) {
    span.context_ = parent;  // tracing off: a caller's trace passes through, none starts here
    return span;
  }
  span.context_.span_id = SpanId::Random();
  if (parent.valid()) {
    span.context_.trace_id = parent.trace_id;
    span.context_.sampled = parent.sampled;  // parent-based: one decision per trace
  } else {
    span.context_.trace_id = TraceId::Random();
    span.context_.sampled = SampledByRatio(span.context_.trace_id, impl_->config().sample_rate);
  }
  if (!span.context_.sampled) {
    return span;  // carries the context, records nothing
  }
  span.started_ = std::chrono::steady_clock::now();
  span.data_ = std::make_unique<SpanData>();
  span.data_->context = span.context_;
  span.data_->parent = parent.valid() ? parent.span_id : SpanId{};
  span.data_->name = std::string(name);
  span.data_->kind = kind;
  span.data_->start_unix_ns = UnixNanos(std::chrono::system_clock::now());
  return span;
}

void Tracer::Finish(std::unique_ptr<SpanData> span) { impl_->Queue(std::move(span)); }

void Tracer::Flush() { impl_->Flush(); }

Tracer::Stats Tracer::stats() const { return impl_->stats(); }

Status ReadTracingConfig(const YAML::Node& node, const std::string& prefix, TracingConfig* out) {
  if (!node) {
    return Status::Ok();
  }
  DF_RETURN_IF_ERROR(config::CheckKeys(node, prefix,
                                       {"endpoint", "protocol", "serviceName", "sampleRate",
                                        "headers", "maxQueueSize", "exportTimeout"}));
  DF_RETURN_IF_ERROR(config::Read(node, prefix, "endpoint", &out->endpoint));
  DF_RETURN_IF_ERROR(config::Read(node, prefix, "serviceName", &out->service_name));
  std::string protocol;
  DF_RETURN_IF_ERROR(config::Read(node, prefix, "protocol", &protocol));
  if (protocol == "http" || protocol == "http/protobuf") {
    out->protocol = TracingConfig::Protocol::kHttp;
  } else if (protocol == "grpc") {
    out->protocol = TracingConfig::Protocol::kGrpc;
  } else if (!protocol.empty()) {
    return InvalidArgument("config key '" + prefix + ".protocol' must be grpc or http");
  }
  if (const YAML::Node rate = node["sampleRate"]; rate) {
    try {
      out->sample_rate = rate.as<double>();
    } catch (const YAML::Exception&) {
      out->sample_rate = -1;
    }
    if (out->sample_rate < 0 || out->sample_rate > 1) {
      return InvalidArgument("config key '" + prefix + ".sampleRate' must be 0 to 1");
    }
  }
  if (const YAML::Node headers = node["headers"]; headers) {
    if (!headers.IsMap()) {
      return InvalidArgument("config key '" + prefix + ".headers' must be a map");
    }
    for (const auto& h : headers) {
      out->headers.emplace_back(h.first.as<std::string>(), h.second.as<std::string>());
    }
  }
  uint32_t queue = static_cast<uint32_t>(out->max_queue);
  DF_RETURN_IF_ERROR(config::Read(node, prefix, "maxQueueSize", &queue));
  if (queue < 1 || queue > 1000000) {
    return InvalidArgument("config key '" + prefix + ".maxQueueSize' must be 1 to 1000000");
  }
  out->max_queue = queue;
  DF_RETURN_IF_ERROR(config::Read(node, prefix, "exportTimeout", &out->export_timeout));
  if (!out->endpoint.empty() && out->protocol == TracingConfig::Protocol::kHttp &&
      out->endpoint.rfind("http://", 0) != 0 && out->endpoint.rfind("https://", 0) != 0) {
    return InvalidArgument("config key '" + prefix +
                           ".endpoint' must be an http(s) URL with protocol http");
  }
  return Status::Ok();
}

}  // namespace df::tracing
