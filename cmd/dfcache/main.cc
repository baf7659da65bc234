// dfcache: import a file as a persistent cache task held by N hosts of the cluster, export it on
// any host through P2P, show its state and holders, delete it everywhere (docs/dfcache.md).
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "dragonfly/cli/cli.h"
#include "dragonfly/cli/client_config.h"
#include "dragonfly/common/config.h"
#include "dragonfly/common/task_id.h"
#include "dragonfly/dfcache/dfcache.h"
#include "dragonfly/dfget/dfget.h"

namespace {

// A bad flag value: kExitUsage.
int Usage(const std::string& m) {
  std::cerr << "dfcache: " << m << std::endl;
  return df::cli::kExitUsage;
}

// What was asked failed: kExitUnreachable when the dfdaemon could not be reached.
int Fail(const df::Status& s) {
  std::cerr << "dfcache: " << s.message() << std::endl;
  return df::cli::ExitCodeOf(s);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "dfcache: persistent cache tasks -- a file imported on one host, held by N hosts until its "
      "TTL, exported on any host through P2P with no origin"};
  app.require_subcommand(1);
  df::dfcache::ImportOptions in;
  std::string ttl = "1h";
  std::string piece_length;
  std::string endpoint = in.endpoint;
  std::string id;
  std::string output;
  std::string timeout;
  bool json = false;
  bool no_progress = false;
  CLI::Option* endpoint_opt = app.add_option("-e,--endpoint", endpoint, "dfdaemon unix socket");
  df::cli::OptionalConfigFile<df::cli::ClientConfig> client(
      app, "dfcache", df::cli::kClientConfigPath, df::cli::DefaultClientConfigYaml(),
      df::cli::LoadClientConfig, "Client config: the daemon's socket, a timeout");

  auto* imp = app.add_subcommand("import", "Import FILE; prints its task ID");
  imp->add_option("file", in.path, "The file to import")->required();
  imp->add_option("--id", in.id, "Name the task (1 to 128 lowercase hex); default: its content's");
  imp->add_option("--replicas", in.replicas, "Hosts that hold it (seed peers first)")
      ->capture_default_str();
  imp->add_option("--ttl", ttl, "How long the cluster keeps it, e.g. 30m, 24h")
      ->capture_default_str();
  imp->add_option("--tag", in.tag, "Tag (part of the task ID)");
  imp->add_option("--application", in.application, "Application (part of the task ID)");
  imp->add_option("--piece-length", piece_length, "Piece length, e.g. 16MiB (4MiB-64MiB)");

  auto* exp = app.add_subcommand("export", "Fetch task ID from the cluster into -O PATH");
  exp->add_option("id", id, "The task ID")->required();
  exp->add_option("-O,--output", output, "Output file path, or - for standard output")->required();
  exp->add_option("--timeout", timeout, "Give up after this long, e.g. 10m (default: none)");
  exp->add_flag("--no-progress", no_progress, "Do not draw a progress bar");

  auto* stat = app.add_subcommand("stat", "Show the task's state, expiry and holders");
  stat->add_option("id", id, "The task ID")->required();
  stat->add_flag("--json", json, "Print the scheduler's answer as JSON");

  auto* del = app.add_subcommand("delete", "Delete the task from every host");
  del->add_option("id", id, "The task ID")->required();
  df::cli::Setup(app, "dfcache",
                 "  dfcache import model.bin --replicas 3 --ttl 24h --application train\n"
                 "  dfcache export 4f1c...e9 -O /data/model.bin\n"
                 "  dfcache stat 4f1c...e9\n"
                 "  dfcache delete 4f1c...e9\n");
  if (auto code = df::cli::Parse(app, argc, argv)) {
    return *code;
  }
  if (auto code = client.Load()) {  // it fills what the flags leave out
    return *code;
  }
  if (endpoint_opt->count() == 0) {
    endpoint = client.value().endpoint;
  }
  in.endpoint = endpoint;

  if (imp->parsed()) {
    auto d = df::config::ParseDuration(ttl);
    if (!d.ok() || d->count() <= 0) {
      return Usage("--ttl: bad duration '" + ttl + "'");
    }
    in.ttl_ms = static_cast<uint64_t>(d->count());
    if (!piece_length.empty()) {
      auto b = df::config::ParseBytes(piece_length);
      if (!b.ok() || *b > UINT32_MAX) {
        return Usage("--piece-length: bad size '" + piece_length + "'");
      }
      in.piece_length = static_cast<uint32_t>(*b);
    }
    auto r = df::dfcache::Import(in, nullptr);
    if (!r.ok()) {
      return Fail(r.status());
    }
    std::printf("%s\n", r->task_id.c_str());
    std::fprintf(stderr, "dfcache: imported %lld bytes as %s in %.2f s (%u replicas, TTL %s)\n",
                 static_cast<long long>(r->content_length), r->task_id.c_str(), r->seconds,
                 in.replicas, ttl.c_str());
    return 0;
  }
  if (exp->parsed()) {
    df::dfget::Options o;
    o.url = df::PersistentCacheUrl(id);
    o.output = output;
    o.endpoint = endpoint;
    o.disable_back_to_source = true;
    o.progress = !no_progress && ::isatty(STDERR_FILENO) != 0;
    o.timeout_ms = static_cast<uint64_t>(client.value().timeout.count());
    if (!timeout.empty()) {
      auto d = df::config::ParseDuration(timeout);
      if (!d.ok()) {
        return Usage("--timeout: " + d.status().message());
      }
      o.timeout_ms = static_cast<uint64_t>(d->count());
    }
    auto r = df::dfget::Download(o);
    if (!r.ok()) {
      return Fail(r.status());
    }
    std::fprintf(stderr, "dfcache: exported %llu bytes in %.2f s; from peers %llu, local %llu%s\n",
                 static_cast<unsigned long long>(r->bytes), r->seconds,
                 static_cast<unsigned long long>(r->remote_peer),
                 static_cast<unsigned long long>(r->local), r->cache_hit ? " (cache hit)" : "");
    return 0;
  }
  if (stat->parsed()) {
    auto r = df::dfcache::Stat(endpoint, id);
    if (!r.ok()) {
      return Fail(r.status());
    }
    if (json) {
      std::string text;
      google::protobuf::util::JsonPrintOptions opts;
      opts.preserve_proto_field_names = true;
      opts.always_print_primitive_fields = true;
      (void)google::protobuf::util::MessageToJsonString(*r, &text, opts);
      std::printf("%s\n", text.c_str());
    } else {
      std::printf("%s", df::dfcache::Describe(*r, NowMs()).c_str());
    }
    return 0;
  }
  auto n = df::dfcache::Delete(endpoint, id);
  if (!n.ok()) {
    return Fail(n.status());
  }
  std::fprintf(stderr, "dfcache: deleted %s from %u hosts\n", id.c_str(), *n);
  return 0;
}
