// dfctl: list, stat and delete the tasks stored by the local dfdaemon; ask a component's gRPC
// health service (like grpc_health_probe: exit 0 when SERVING).
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "api/dfdaemon.grpc.pb.h"
#include "dragonfly/cli/cli.h"
#include "dragonfly/cli/client_config.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace dfd = ::dragonfly::api::dfdaemon;

namespace {

void Print(const dfd::TaskInfo& t) {
  std::printf("%s  %s  %lld bytes  %u/%u pieces%s  %s\n", t.task_id().c_str(),
              t.done() ? "done   " : "partial", static_cast<long long>(t.content_length()),
              t.finished_pieces(), t.total_pieces(), t.in_use() ? "  in-use" : "", t.url().c_str());
}

int Fail(const std::string& what, const grpc::Status& s) {
  std::cerr << "dfctl: " << what << ": " << s.error_message() << std::endl;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dfctl: manage the tasks stored by the local dfdaemon"};
  std::string endpoint = "/var/run/dragonfly/dfdaemon.sock";
  std::string task_id;
  CLI::Option* endpoint_opt = app.add_option("-e,--endpoint", endpoint, "dfdaemon unix socket");
  df::cli::OptionalConfigFile<df::cli::ClientConfig> client(
      app, "dfctl", df::cli::kClientConfigPath, df::cli::DefaultClientConfigYaml(),
      df::cli::LoadClientConfig, "Client config: the daemon's socket, a timeout");
  auto* list = app.add_subcommand("list", "List stored tasks");
  auto* stat = app.add_subcommand("stat", "Show one task");
  stat->add_option("task_id", task_id)->required();
  auto* del = app.add_subcommand("delete", "Delete a task that is not in use");
  del->add_option("task_id", task_id)->required();
  std::string addr;
  std::string service;
  auto* health = app.add_subcommand(
      "health",
      "Ask a gRPC health service (grpc.health.v1): the local dfdaemon's, or --addr's (plaintext; "
      "a port with mutual TLS needs a client certificate). Exit 0 when SERVING, 1 when not (or "
      "when it answers with an error), 3 when it cannot be reached");
  health->add_option("--addr", addr, "HOST:PORT of a scheduler, manager or dfdaemon upload port");
  health->add_option("--service", service, "a service name (default: the whole server)");
  app.require_subcommand(1);
  df::cli::Setup(app, "dfctl",
                 "  dfctl list\n"
                 "  dfctl stat 4f1c...e9\n"
                 "  dfctl delete 4f1c...e9\n"
                 "  dfctl health                        # the local dfdaemon\n"
                 "  dfctl health --addr 10.0.0.5:8002   # a scheduler\n");
  if (auto code = df::cli::Parse(app, argc, argv)) {
    return *code;
  }
  if (auto code = client.Load()) {  // it fills what the flags leave out
    return *code;
  }
  if (endpoint_opt->count() == 0) {
    endpoint = client.value().endpoint;
  }

  if (health->parsed()) {
    auto ch = grpc::CreateChannel(addr.empty() ? "unix:" + endpoint : addr,
                                  grpc::InsecureChannelCredentials());
    grpc::ClientContext hctx;
    hctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = grpc::health::v1::Health::NewStub(ch)->Check(&hctx, req, &resp);
    if (!s.ok()) {
      std::cerr << "dfctl: health of " << (addr.empty() ? endpoint : addr) << ": "
                << s.error_message() << std::endl;
      // Could not be asked (no answer) or answered with an error (an unknown service, say).
      const bool unreachable = s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                               s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
      return unreachable ? df::cli::kExitUnreachable : df::cli::kExitFailed;
    }
    std::printf("%s\n",
                grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status()).c_str());
    return resp.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
  }

  auto channel = grpc::CreateChannel("unix:" + endpoint, grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(3))) {
    std::cerr << "dfctl: dfdaemon is not running: cannot connect to " << endpoint << std::endl;
    return df::cli::kExitUnreachable;
  }
  auto stub = dfd::Dfdaemon::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (list->parsed()) {
    dfd::ListTasksResponse resp;
    grpc::Status s = stub->ListTasks(&ctx, dfd::ListTasksRequest(), &resp);
    if (!s.ok()) {
      return Fail("list", s);
    }
    for (const auto& t : resp.tasks()) {
      Print(t);
    }
  } else if (stat->parsed()) {
    dfd::StatTaskRequest req;
    req.set_task_id(task_id);
    dfd::TaskInfo info;
    grpc::Status s = stub->StatTask(&ctx, req, &info);
    if (!s.ok()) {
      return Fail("stat " + task_id, s);
    }
    Print(info);
  } else if (del->parsed()) {
    dfd::DeleteTaskRequest req;
    req.set_task_id(task_id);
    dfd::DeleteTaskResponse resp;
    grpc::Status s = stub->DeleteTask(&ctx, req, &resp);
    if (!s.ok()) {
      return Fail("delete " + task_id, s);
    }
    std::printf("deleted %s\n", task_id.c_str());
  }
  return 0;
}
