// dfget: download a URL through the local dfdaemon (P2P).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "dragonfly/common/config.h"
#include "dragonfly/dfget/dfget.h"

int main(int argc, char** argv) {
  CLI::App app{"dfget: download a URL through the Dragonfly P2P network"};
  df::dfget::Options o;
  std::vector<std::string> headers;
  std::string timeout;
  std::string piece_length;
  bool no_progress = false;
  app.add_option("url", o.url, "URL to download: http(s)://, or s3://bucket/key (docs/backends.md)")
      ->required();
  app.add_option("-O,--output", o.output, "Output file path, or - for standard output")->required();
  app.add_option("--digest", o.digest, "Verify the content: sha256:<hex>, sha512:<hex>, crc32:<v>");
  app.add_option("-H,--header", headers, "Request header 'Key: Value' (repeatable)");
  app.add_option("--tag", o.tag, "Tag that distinguishes tasks of the same URL");
  app.add_option("--application", o.application, "Application name (part of the task ID)");
  app.add_option("--filtered-query-param", o.filtered_query_params,
                 "Query parameter left out of the task ID (repeatable; replaces the defaults)");
  app.add_option("--timeout", timeout, "Give up after this long, e.g. 30s, 10m (default: none)");
  app.add_option("--piece-length", piece_length, "Piece length, e.g. 16MiB (4MiB-64MiB)");
  app.add_flag("--disable-back-to-source", o.disable_back_to_source,
               "Never download from the origin; fail if no peer has the content");
  app.add_option("-e,--endpoint", o.endpoint, "dfdaemon unix socket");
  app.add_flag("--no-progress", no_progress, "Do not draw a progress bar");
  app.add_flag("-v,--verbose", o.verbose, "Print where the bytes came from");
  CLI11_PARSE(app, argc, argv);

  auto fail = [](const std::string& m) {
    std::cerr << "dfget: " << m << std::endl;
    return 1;
  };
  for (const auto& h : headers) {
    auto kv = df::dfget::ParseHeader(h);
    if (!kv.ok()) {
      return fail(kv.status().message());
    }
    o.headers[kv->first] = kv->second;
  }
  if (!timeout.empty()) {
    auto d = df::config::ParseDuration(timeout);
    if (!d.ok()) {
      return fail("--timeout: " + d.status().message());
    }
    o.timeout_ms = static_cast<uint64_t>(d->count());
  }
  if (!piece_length.empty()) {
    auto b = df::config::ParseBytes(piece_length);
    if (!b.ok() || *b > UINT32_MAX) {
      return fail("--piece-length: bad size '" + piece_length + "'");
    }
    o.piece_length = static_cast<uint32_t>(*b);
  }
  o.progress = !no_progress && ::isatty(STDERR_FILENO) != 0;
  auto r = df::dfget::Download(o);
  if (!r.ok()) {
    return fail(r.status().message());
  }
  if (!r->warning.empty()) {
    std::cerr << "dfget: warning: " << r->warning << std::endl;
  }
  if (o.verbose || o.progress) {
    std::fprintf(stderr,
                 "dfget: %llu bytes in %.2f s; back_to_source=%llu remote_peer=%llu "
                 "(seed_peer=%llu) local=%llu%s\n",
                 static_cast<unsigned long long>(r->bytes), r->seconds,
                 static_cast<unsigned long long>(r->back_to_source),
                 static_cast<unsigned long long>(r->remote_peer),
                 static_cast<unsigned long long>(r->seed_peer),
                 static_cast<unsigned long long>(r->local), r->cache_hit ? " (cache hit)" : "");
  }
  return 0;
}
