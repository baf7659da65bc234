#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "dragonfly/tracing/context.h"
#include "dragonfly/tracing/tracer.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace df::tracing {
namespace {

namespace otlp = opentelemetry::proto::collector::trace::v1;
namespace trace = opentelemetry::proto::trace::v1;

std::string Hex(const std::string& bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += d[c >> 4];
    out += d[c & 0xf];
  }
  return out;
}

TEST(TraceContextTest, ReadsAndWritesTraceparent) {
  auto c = SpanContext::FromTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->trace_id.Hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(c->span_id.Hex(), "00f067aa0ba902b7");
  EXPECT_TRUE(c->sampled);
  EXPECT_TRUE(c->remote);
  EXPECT_EQ(c->ToTraceparent(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  auto unsampled =
      SpanContext::FromTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(unsampled.has_value());
  EXPECT_FALSE(unsampled->sampled);
  // A later version may add fields after the flags.
  EXPECT_TRUE(
      SpanContext::FromTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz"));
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",     // short
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace ID
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero span ID
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // version ff
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // extra on 00
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",    // not hex
           "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
       }) {
    EXPECT_FALSE(SpanContext::FromTraceparent(bad).has_value()) << bad;
  }
}

TEST(TraceContextTest, RatioSamplingDecidesByTheTraceIdAlone) {
  int sampled = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    TraceId id;
    uint64_t v = i * (UINT64_MAX / 1000);  // spread evenly over the 64-bit range
    for (int b = 0; b < 8; ++b) {
      id.bytes[15 - b] = static_cast<uint8_t>(v >> (8 * b));
    }
    id.bytes[0] = 1;
    sampled += SampledByRatio(id, 0.25) ? 1 : 0;
    EXPECT_EQ(SampledByRatio(id, 0.25), SampledByRatio(id, 0.25));
    EXPECT_TRUE(SampledByRatio(id, 1.0));
    EXPECT_FALSE(SampledByRatio(id, 0.0));
  }
  EXPECT_EQ(sampled, 250);
}

// An OTLP/gRPC collector in the test.
class Collector final : public otlp::TraceService::Service {
 public:
  grpc::Status Export(grpc::ServerContext* ctx, const otlp::ExportTraceServiceRequest* req,
                      otlp::ExportTraceServiceResponse*) override {
    std::lock_guard lock(mu_);
    requests_.push_back(*req);
    auto it = ctx->client_metadata().find("x-tenant");
    if (it != ctx->client_metadata().end()) {
      tenant_ = std::string(it->second.data(), it->second.size());
    }
    return grpc::Status::OK;
  }
  std::vector<trace::Span> Spans() {
    std::lock_guard lock(mu_);
    std::vector<trace::Span> out;
    for (const auto& r : requests_) {
      for (const auto& rs : r.resource_spans()) {
        for (const auto& ss : rs.scope_spans()) {
          out.insert(out.end(), ss.spans().begin(), ss.spans().end());
        }
      }
    }
    return out;
  }
  std::string ServiceName() {
    std::lock_guard lock(mu_);
    for (const auto& kv : requests_.at(0).resource_spans(0).resource().attributes()) {
      if (kv.key() == "service.name") {
        return kv.value().string_value();
      }
    }
    return "";
  }
  std::string tenant() {
    std::lock_guard lock(mu_);
    return tenant_;
  }

 private:
  std::mutex mu_;
  std::vector<otlp::ExportTraceServiceRequest> requests_;
  std::string tenant_;
};

const trace::Span* Named(const std::vector<trace::Span>& spans, const std::string& name) {
  for (const auto& s : spans) {
    if (s.name() == name) {
      return &s;
    }
  }
  return nullptr;
}

TEST(TracerTest, ExportsSpansOverOtlpGrpcWithTheirParentsAndAttributes) {
  Collector collector;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&collector);
  auto server = builder.BuildAndStart();
  ASSERT_NE(port, 0);

  TracingConfig cfg;
  cfg.endpoint = "127.0.0.1:" + std::to_string(port);
  cfg.service_name = "dfdaemon";
  cfg.headers = {{"x-tenant", "team-a"}};
  auto tracer = Tracer::Create(cfg, nullptr);
  ASSERT_TRUE(tracer.ok()) << tracer.status().ToString();
  SpanContext root_context;
  {
    Span root = (*tracer)->StartSpan("proxy.request", SpanKind::kServer);
    ASSERT_TRUE(root.recording());
    root.SetAttribute("http.url", std::string("/v2/lib/app/blobs/sha256:ab"));
    root.SetAttribute("http.status_code", int64_t{200});
    root_context = root.context();
    Span child = (*tracer)->StartSpan("daemon.task", SpanKind::kInternal, root.context());
    child.SetAttribute("p2p", true);
    child.AddEvent("first piece");
    child.SetError("origin answered 503");
  }
  (*tracer)->Flush();
  auto spans = collector.Spans();
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(collector.ServiceName(), "dfdaemon");
  EXPECT_EQ(collector.tenant(), "team-a");
  const trace::Span* root = Named(spans, "proxy.request");
  const trace::Span* child = Named(spans, "daemon.task");
  ASSERT_TRUE(root && child);
  EXPECT_EQ(Hex(root->trace_id()), root_context.trace_id.Hex());
  EXPECT_EQ(child->trace_id(), root->trace_id());
  EXPECT_EQ(child->parent_span_id(), root->span_id());
  EXPECT_TRUE(root->parent_span_id().empty());
  EXPECT_EQ(root->kind(), trace::Span::SPAN_KIND_SERVER);
  EXPECT_LE(root->start_time_unix_nano(), child->start_time_unix_nano());
  EXPECT_LE(child->end_time_unix_nano(), root->end_time_unix_nano());
  EXPECT_EQ(root->attributes(0).key(), "http.url");
  EXPECT_EQ(root->attributes(0).value().string_value(), "/v2/lib/app/blobs/sha256:ab");
  EXPECT_EQ(root->attributes(1).value().int_value(), 200);
  EXPECT_TRUE(child->attributes(0).value().bool_value());
  EXPECT_EQ(child->events(0).name(), "first piece");
  EXPECT_EQ(child->status().code(), trace::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(child->status().message(), "origin answered 503");
  EXPECT_EQ((*tracer)->stats().exported, 2u);
  server->Shutdown();
}

// One HTTP request read off a socket: (request line and headers, body).
struct HttpCapture {
  std::string head;
  std::string body;
};

TEST(TracerTest, ExportsOverOtlpHttpProtobuf) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  HttpCapture got;
  std::thread server([&] {
    int c = ::accept(fd, nullptr, nullptr);
    std::string in;
    char buf[65536];
    size_t want = std::string::npos;
    while (want == std::string::npos || in.size() < want) {
      ssize_t n = ::read(c, buf, sizeof(buf));
      if (n <= 0) {
        break;
      }
      in.append(buf, static_cast<size_t>(n));
      size_t end = in.find("\r\n\r\n");
      if (want == std::string::npos && end != std::string::npos) {
        size_t cl = in.find("Content-Length: ");
        want = end + 4 + std::stoul(in.substr(cl + 16));
      }
    }
    size_t end = in.find("\r\n\r\n");
    got.head = in.substr(0, end);
    got.body = in.substr(end + 4);
    const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)::write(c, ok, sizeof(ok) - 1);
    ::close(c);
  });

  TracingConfig cfg;
  cfg.endpoint = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  cfg.protocol = TracingConfig::Protocol::kHttp;
  cfg.service_name = "scheduler";
  cfg.headers = {{"Authorization", "Bearer collector-token"}};
  auto tracer = Tracer::Create(cfg, nullptr);
  ASSERT_TRUE(tracer.ok());
  (*tracer)->StartSpan("scheduler.register", SpanKind::kServer).End();
  (*tracer)->Flush();
  server.join();
  ::close(fd);
  EXPECT_EQ(got.head.rfind("POST /v1/traces HTTP/1.1", 0), 0u) << got.head;
  EXPECT_NE(got.head.find("Content-Type: application/x-protobuf"), std::string::npos);
  EXPECT_NE(got.head.find("Authorization: Bearer collector-token"), std::string::npos);
  otlp::ExportTraceServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(got.body));
  EXPECT_EQ(req.resource_spans(0).scope_spans(0).spans(0).name(), "scheduler.register");
  EXPECT_EQ((*tracer)->stats().exported, 1u);
}

TEST(TracerTest, FollowsARemoteParentsSamplingDecision) {
  TracingConfig cfg;
  cfg.endpoint = "127.0.0.1:1";  // never reached: nothing sampled is exported here
  cfg.sample_rate = 0;           // traces started here are not sampled...
  auto tracer = Tracer::Create(cfg, nullptr);
  ASSERT_TRUE(tracer.ok());
  EXPECT_FALSE((*tracer)->StartSpan("local", SpanKind::kInternal).recording());
  // ...but a sampled caller's trace is recorded, and an unsampled one's is not.
  auto sampled =
      SpanContext::FromTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  Span s = (*tracer)->StartSpan("served", SpanKind::kServer, *sampled);
  EXPECT_TRUE(s.recording());
  EXPECT_EQ(s.context().trace_id, sampled->trace_id);
  EXPECT_NE(s.context().span_id, sampled->span_id);
  auto unsampled =
      SpanContext::FromTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  Span u = (*tracer)->StartSpan("served", SpanKind::kServer, *unsampled);
  EXPECT_FALSE(u.recording());
  // The context still travels on, so the next hop keeps the trace.
  EXPECT_EQ(u.context().ToTraceparent().substr(0, 35), "00-4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(TracerTest, WithoutAnEndpointNothingIsRecordedAndACallersContextPassesThrough) {
  auto tracer = Tracer::Create(TracingConfig{}, nullptr);
  ASSERT_TRUE(tracer.ok());
  EXPECT_FALSE((*tracer)->enabled());
  Span s = (*tracer)->StartSpan("x", SpanKind::kInternal);
  EXPECT_FALSE(s.recording());
  EXPECT_FALSE(s.context().valid());  // no trace starts here: nothing goes out with calls
  auto caller =
      SpanContext::FromTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  Span passed = (*tracer)->StartSpan("x", SpanKind::kServer, *caller);
  EXPECT_FALSE(passed.recording());
  EXPECT_EQ(passed.context().ToTraceparent(), caller->ToTraceparent());  // passed on as it came
  (*tracer)->Flush();                                                    // returns at once
}

TEST(TracerTest, ADeadCollectorCostsDroppedSpansNotBlockedCallers) {
  TracingConfig cfg;
  cfg.endpoint = "127.0.0.1:1";  // nothing listens there
  cfg.max_queue = 100;
  cfg.max_batch = 50;
  cfg.export_timeout = std::chrono::milliseconds(200);
  auto registry = std::make_shared<prometheus::Registry>();
  auto tracer = Tracer::Create(cfg, registry.get());
  ASSERT_TRUE(tracer.ok());
  for (int i = 0; i < 10000; ++i) {
    (*tracer)->StartSpan("piece", SpanKind::kInternal).End();  // never waits for the collector
  }
  Tracer::Stats st = (*tracer)->stats();
  EXPECT_EQ(st.exported, 0u);
  // At most the queue and one batch in flight are held; the rest is dropped and counted.
  EXPECT_GE(st.dropped, 10000u - cfg.max_queue - cfg.max_batch);
  double counted = 0;
  for (const auto& family : registry->Collect()) {
    if (family.name == "dragonfly_tracing_spans_total") {
      for (const auto& m : family.metric) {
        if (m.label[0].value == "dropped") {
          counted = m.counter.value;
        }
      }
    }
  }
  EXPECT_GE(counted, static_cast<double>(st.dropped));
  tracer->reset();  // gives up on the rest at once instead of waiting per batch
}

TEST(TracerTest, ReadsItsConfigAndRefusesBadValues) {
  TracingConfig c;
  YAML::Node node = YAML::Load(
      "{endpoint: 'http://jaeger:4318', protocol: http, serviceName: seed-a, sampleRate: 0.5, "
      "headers: {x-api-key: k}, maxQueueSize: 100, exportTimeout: 2s}");
  ASSERT_TRUE(ReadTracingConfig(node, "tracing", &c).ok());
  EXPECT_EQ(c.protocol, TracingConfig::Protocol::kHttp);
  EXPECT_EQ(c.service_name, "seed-a");
  EXPECT_DOUBLE_EQ(c.sample_rate, 0.5);
  EXPECT_EQ(c.headers.at(0).second, "k");
  EXPECT_EQ(c.max_queue, 100u);
  EXPECT_EQ(c.export_timeout, std::chrono::seconds(2));
  for (const char* bad :
       {"{protocol: udp}", "{sampleRate: 2}", "{sampleRate: x}",
        "{endpoint: 'jaeger:4318', protocol: http}", "{endpont: x}", "{maxQueueSize: 0}"}) {
    TracingConfig b;
    EXPECT_FALSE(ReadTracingConfig(YAML::Load(bad), "tracing", &b).ok()) << bad;
  }
}

}  // namespace
}  // namespace df::tracing
