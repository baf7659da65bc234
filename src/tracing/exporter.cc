#include "tracing/exporter.h"

#include <curl/curl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace df::tracing {
namespace {

namespace common = opentelemetry::proto::common::v1;
namespace trace = opentelemetry::proto::trace::v1;

void Put(common::KeyValue* kv, const std::string& key, const AttributeValue& v) {
  kv->set_key(key);
  common::AnyValue* out = kv->mutable_value();
  if (const auto* s = std::get_if<std::string>(&v)) {
    out->set_string_value(*s);
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    out->set_int_value(*i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    out->set_double_value(*d);
  } else {
    out->set_bool_value(std::get<bool>(v));
  }
}

std::string Bytes(const uint8_t* p, size_t n) {
  return std::string(reinterpret_cast<const char*>(p), n);
}

std::string HostName() {
  char name[256] = {};
  return ::gethostname(name, sizeof(name) - 1) == 0 ? std::string(name) : std::string();
}

class GrpcExporter : public Exporter {
 public:
  explicit GrpcExporter(const TracingConfig& c) : config_(c) {
    std::string target = c.endpoint;
    bool tls = false;
    if (target.rfind("https://", 0) == 0) {
      tls = true;
      target = target.substr(8);
    } else if (target.rfind("http://", 0) == 0) {
      target = target.substr(7);
    }
    auto creds = tls ? grpc::SslCredentials(grpc::SslCredentialsOptions())
                     : grpc::InsecureChannelCredentials();
    stub_ = otlp::TraceService::NewStub(grpc::CreateChannel(target, creds));
  }

  Status Export(const otlp::ExportTraceServiceRequest& request) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + config_.export_timeout);
    for (const auto& [k, v] : config_.headers) {
      ctx.AddMetadata(k, v);  // gRPC metadata keys are lower case
    }
    otlp::ExportTraceServiceResponse response;
    grpc::Status s = stub_->Export(&ctx, request, &response);
    if (!s.ok()) {
      return Unavailable("OTLP/gRPC export to " + config_.endpoint + ": " + s.error_message());
    }
    return Status::Ok();
  }

 private:
  TracingConfig config_;
  std::unique_ptr<otlp::TraceService::Stub> stub_;
};

class HttpExporter : public Exporter {
 public:
  explicit HttpExporter(const TracingConfig& c) : config_(c), curl_(curl_easy_init()) {
    url_ = c.endpoint;
    size_t scheme = url_.find("://");
    if (scheme != std::string::npos && url_.find('/', scheme + 3) == std::string::npos) {
      url_ += "/v1/traces";
    }
    headers_ = curl_slist_append(headers_, "Content-Type: application/x-protobuf");
    for (const auto& [k, v] : c.headers) {
      headers_ = curl_slist_append(headers_, (k + ": " + v).c_str());
    }
  }
  ~HttpExporter() override {
    curl_slist_free_all(headers_);
    curl_easy_cleanup(curl_);
  }

  Status Export(const otlp::ExportTraceServiceRequest& request) override {
    if (curl_ == nullptr) {
      return Internal("curl_easy_init failed");
    }
    std::string body = request.SerializeAsString();
    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.export_timeout.count()));
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(
        curl_, CURLOPT_WRITEFUNCTION, +[](char*, size_t n, size_t m, void*) {
          return n * m;  // the answer (an ExportTraceServiceResponse) is not needed
        });
    CURLcode rc = curl_easy_perform(curl_);
    if (rc != CURLE_OK) {
      return Unavailable("OTLP/HTTP export to " + url_ + ": " + curl_easy_strerror(rc));
    }
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) {
      return Unavailable("OTLP/HTTP export to " + url_ + ": HTTP " + std::to_string(status));
    }
    return Status::Ok();
  }

 private:
  TracingConfig config_;
  std::string url_;
  CURL* curl_;
  curl_slist* headers_ = nullptr;
};

}  // namespace

otlp::ExportTraceServiceRequest BuildRequest(const std::string& service_name,
                                             const std::vector<SpanData>& spans) {
  static const std::string host = HostName();
  otlp::ExportTraceServiceRequest request;
  trace::ResourceSpans* rs = request.add_resource_spans();
  Put(rs->mutable_resource()->add_attributes(), "service.name", service_name);
  if (!host.empty()) {
    Put(rs->mutable_resource()->add_attributes(), "host.name", host);
  }
  trace::ScopeSpans* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("dragonfly");
  for (const SpanData& d : spans) {
    trace::Span* s = ss->add_spans();
    s->set_trace_id(Bytes(d.context.trace_id.bytes.data(), 16));
    s->set_span_id(Bytes(d.context.span_id.bytes.data(), 8));
    if (d.parent.valid()) {
      s->set_parent_span_id(Bytes(d.parent.bytes.data(), 8));
    }
    s->set_flags(d.context.sampled ? 1 : 0);
    s->set_name(d.name);
    s->set_kind(static_cast<trace::Span::SpanKind>(d.kind));
    s->set_start_time_unix_nano(d.start_unix_ns);
    s->set_end_time_unix_nano(d.end_unix_ns);
    for (const auto& [k, v] : d.attributes) {
      Put(s->add_attributes(), k, v);
    }
    for (const auto& [t, name] : d.events) {
      trace::Span::Event* e = s->add_events();
      e->set_time_unix_nano(t);
      e->set_name(name);
    }
    if (d.error) {
      s->mutable_status()->set_code(trace::Status::STATUS_CODE_ERROR);
      s->mutable_status()->set_message(d.status_message);
    }
  }
  return request;
}

StatusOr<std::unique_ptr<Exporter>> MakeExporter(const TracingConfig& config) {
  if (config.protocol == TracingConfig::Protocol::kGrpc) {
    return std::unique_ptr<Exporter>(new GrpcExporter(config));
  }
  if (config.endpoint.rfind("http://", 0) != 0 && config.endpoint.rfind("https://", 0) != 0) {
    return InvalidArgument("tracing.endpoint must be an http(s) URL with protocol http");
  }
  return std::unique_ptr<Exporter>(new HttpExporter(config));
}

}  // namespace df::tracing
