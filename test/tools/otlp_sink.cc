// otlp_sink: an OTLP trace collector for the tests. It takes spans over OTLP/gRPC
// (TraceService/Export) and OTLP/HTTP (POST /v1/traces, application/x-protobuf) on loopback and
// prints each as one line "span {json}" on stdout: service, trace and span IDs (hex), parent,
// name, kind, start and end (unix ns), attributes, status.
//   otlp_sink [--blackhole]   (--blackhole: accept exports and never answer them)
// First line: "otlp sink grpc=PORT http=PORT".
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace otlp = opentelemetry::proto::collector::trace::v1;
namespace common = opentelemetry::proto::common::v1;

namespace {

std::mutex out_mu;
bool blackhole = false;

std::string Hex(const std::string& b) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out += d[c >> 4];
    out += d[c & 0xf];
  }
  return out;
}

nlohmann::json Value(const common::AnyValue& v) {
  switch (v.value_case()) {
    case common::AnyValue::kStringValue:
      return v.string_value();
    case common::AnyValue::kBoolValue:
      return v.bool_value();
    case common::AnyValue::kIntValue:
      return v.int_value();
    case common::AnyValue::kDoubleValue:
      return v.double_value();
    default:
      return nullptr;
  }
}

void Print(const otlp::ExportTraceServiceRequest& req, const char* via) {
  std::lock_guard lock(out_mu);
  for (const auto& rs : req.resource_spans()) {
    std::string service;
    for (const auto& kv : rs.resource().attributes()) {
      if (kv.key() == "service.name") {
        service = kv.value().string_value();
      }
    }
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) {
        nlohmann::json attrs = nlohmann::json::object();
        for (const auto& kv : s.attributes()) {
          attrs[kv.key()] = Value(kv.value());
        }
        nlohmann::json events = nlohmann::json::array();
        for (const auto& e : s.events()) {
          events.push_back(e.name());
        }
        nlohmann::json j = {{"via", via},
                            {"service", service},
                            {"trace_id", Hex(s.trace_id())},
                            {"span_id", Hex(s.span_id())},
                            {"parent", Hex(s.parent_span_id())},
                            {"name", s.name()},
                            {"kind", static_cast<int>(s.kind())},
                            {"start", s.start_time_unix_nano()},
                            {"end", s.end_time_unix_nano()},
                            {"attributes", attrs},
                            {"events", events},
                            {"error", s.status().code() == 2},
                            {"status_message", s.status().message()}};
        std::printf("span %s\n", j.dump().c_str());
      }
    }
  }
  std::fflush(stdout);
}

class Sink final : public otlp::TraceService::Service {
  grpc::Status Export(grpc::ServerContext* ctx, const otlp::ExportTraceServiceRequest* req,
                      otlp::ExportTraceServiceResponse*) override {
    if (blackhole) {
      while (!ctx->IsCancelled()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      return grpc::Status::CANCELLED;
    }
    Print(*req, "grpc");
    return grpc::Status::OK;
  }
};

// One connection: requests until the client closes.
void ServeHttp(int c) {
  std::string in;
  char buf[65536];
  while (true) {
    size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::read(c, buf, sizeof(buf));
      if (n <= 0) {
        ::close(c);
        return;
      }
      in.append(buf, static_cast<size_t>(n));
    }
    std::string head = in.substr(0, end);
    size_t length = 0;
    for (const char* key : {"Content-Length: ", "content-length: "}) {
      if (size_t p = head.find(key); p != std::string::npos) {
        length = std::stoul(head.substr(p + std::strlen(key)));
      }
    }
    while (in.size() < end + 4 + length) {
      ssize_t n = ::read(c, buf, sizeof(buf));
      if (n <= 0) {
        ::close(c);
        return;
      }
      in.append(buf, static_cast<size_t>(n));
    }
    std::string body = in.substr(end + 4, length);
    in.erase(0, end + 4 + length);
    if (blackhole) {
      continue;  // read, never answered
    }
    otlp::ExportTraceServiceRequest req;
    bool ok = head.rfind("POST /v1/traces ", 0) == 0 && req.ParseFromString(body);
    if (ok) {
      Print(req, "http");
    }
    const char* answer = ok ? "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n"
                              "Content-Length: 0\r\n\r\n"
                            : "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    if (::write(c, answer, std::strlen(answer)) < 0) {
      ::close(c);
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    blackhole = blackhole || std::string(argv[i]) == "--blackhole";
  }
  Sink sink;
  int grpc_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &grpc_port);
  builder.RegisterService(&sink);
  auto server = builder.BuildAndStart();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (!server || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd, 64) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::fprintf(stderr, "otlp_sink: cannot listen\n");
    return 1;
  }
  std::printf("otlp sink grpc=%d http=%d\n", grpc_port, ntohs(addr.sin_port));
  std::fflush(stdout);
  while (true) {
    int c = ::accept(fd, nullptr, nullptr);
    if (c >= 0) {
      std::thread(ServeHttp, c).detach();
    }
  }
}
