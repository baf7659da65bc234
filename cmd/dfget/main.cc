// dfget: download a URL through the local dfdaemon (P2P).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "dragonfly/cli/cli.h"
#include "dragonfly/cli/client_config.h"
#include "dragonfly/common/config.h"
#include "dragonfly/dfget/dfget.h"
#include "dragonfly/dfget/recursive.h"

namespace {

// dfget -r: one overall progress line (on a terminal) and a summary; returns the exit code.
int DownloadDirectory(const df::dfget::Options& o, const std::vector<std::string>& include) {
  df::dfget::DirectoryOptions d;
  d.base = o;
  d.include_files = include;
  auto progress = [&o](const df::dfget::DirectoryResult& r, uint64_t total) {
    if (o.progress) {
      std::fprintf(stderr, "\r%zu/%zu objects, %llu of %llu bytes", r.downloaded + r.skipped,
                   r.listed, static_cast<unsigned long long>(r.bytes),
                   static_cast<unsigned long long>(total));
    }
  };
  auto r = df::dfget::DownloadDirectory(d, progress);
  if (o.progress) {
    std::fprintf(stderr, "\n");
  }
  if (!r.ok()) {
    std::cerr << "dfget: " << r.status().message() << std::endl;
    return df::cli::ExitCodeOf(r.status());
  }
  std::fprintf(
      stderr, "dfget: %zu objects: %zu downloaded (%llu bytes), %zu already there, in %.2f s\n",
      r->listed, r->downloaded, static_cast<unsigned long long>(r->bytes), r->skipped, r->seconds);
  return df::cli::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dfget: download a URL through the Dragonfly P2P network"};
  df::dfget::Options o;
  std::vector<std::string> headers;
  std::string timeout;
  std::string piece_length;
  bool no_progress = false;
  bool recursive = false;
  std::vector<std::string> include_files;
  std::string hf_token;
  std::string hf_revision;
  app.add_option("url", o.url,
                 "URL to download: http(s)://, s3://bucket/key, abs://container/blob, "
                 "hf://[datasets/|spaces/]owner/repo/file (docs/backends.md)");
  app.add_option("-O,--output", o.output, "Output file path, or - for standard output");
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
  app.add_flag("-r,--recursive", recursive,
               "Download every object under the URL (s3://bucket/prefix/, abs://container/prefix/, "
               "hf://owner/repo) into the directory -O");
  app.add_option("--include-files", include_files,
                 "With -r: only objects whose relative path matches this glob (repeatable)");
  app.add_option("--hf-token", hf_token,
                 "Hugging Face token for hf:// URLs (sent like registry credentials; default: "
                 "$DFGET_HF_TOKEN, $HF_TOKEN)");
  app.add_option("--storage-access-key-id", o.storage.access_key_id,
                 "s3://: access key ID; abs://: account name (instead of the daemons' own)");
  app.add_option("--storage-access-key-secret", o.storage.access_key_secret,
                 "s3://: secret access key; abs://: account key (default: "
                 "$DFGET_STORAGE_ACCESS_KEY_SECRET)");
  app.add_option("--storage-session-token", o.storage.session_token,
                 "s3://: session token of temporary credentials; abs://: a SAS");
  app.add_option("--storage-region", o.storage.region, "s3://: the bucket's region");
  app.add_option("--hf-revision", hf_revision,
                 "Branch, tag or commit of an hf:// repository (default: main)");
  df::cli::OptionalConfigFile<df::cli::ClientConfig> client(
      app, "dfget", df::cli::kClientConfigPath, df::cli::DefaultClientConfigYaml(),
      df::cli::LoadClientConfig, "Client config: the daemon's socket, a timeout");
  df::cli::Setup(
      app, "dfget",
      "  dfget https://example.com/model.bin -O /data/model.bin\n"
      "  dfget https://example.com/app.tar.gz -O - | tar xz\n"
      "  dfget https://example.com/f.iso -O f.iso --digest sha256:<hex> -H 'Authorization: Bearer "
      "T'\n"
      "  dfget -r s3://bucket/models/llama/ -O /data/llama --include-files '*.safetensors'\n"
      "  dfget -r hf://meta-llama/Llama-3.2-1B -O /data/llama --hf-token $HF_TOKEN\n");
  if (auto code = df::cli::Parse(app, argc, argv)) {
    return *code;
  }
  if (auto code = client.Load()) {
    return *code;
  }

  auto usage = [](const std::string& m) {  // a bad flag value
    std::cerr << "dfget: " << m << std::endl;
    return df::cli::kExitUsage;
  };
  if (o.url.empty() || o.output.empty()) {
    return usage("a URL and -O PATH are required (dfget URL -O PATH; --help)");
  }
  // The client config fills what the flags leave out.
  if (app.get_option("--endpoint")->count() == 0) {
    o.endpoint = client.value().endpoint;
  }
  if (timeout.empty()) {
    o.timeout_ms = static_cast<uint64_t>(client.value().timeout.count());
  }
  for (const auto& h : headers) {
    auto kv = df::dfget::ParseHeader(h);
    if (!kv.ok()) {
      return usage(kv.status().message());
    }
    o.headers[kv->first] = kv->second;
  }
  if (auto hub = df::dfget::ApplyHubFlags(hf_token, hf_revision, &o); !hub.ok()) {
    return usage(hub.message());
  }
  if (const char* secret = std::getenv("DFGET_STORAGE_ACCESS_KEY_SECRET");
      secret != nullptr && o.storage.access_key_secret.empty() &&
      !o.storage.access_key_id.empty()) {
    o.storage.access_key_secret = secret;  // kept off the command line (ps shows it)
  }
  if (!o.storage.empty() && o.url.rfind("s3://", 0) != 0 && o.url.rfind("abs://", 0) != 0) {
    return usage("--storage-* flags are for s3:// and abs:// URLs");
  }
  if (!timeout.empty()) {
    auto d = df::config::ParseDuration(timeout);
    if (!d.ok()) {
      return usage("--timeout: " + d.status().message());
    }
    o.timeout_ms = static_cast<uint64_t>(d->count());
  }
  if (!piece_length.empty()) {
    auto b = df::config::ParseBytes(piece_length);
    if (!b.ok() || *b > UINT32_MAX) {
      return usage("--piece-length: bad size '" + piece_length + "'");
    }
    o.piece_length = static_cast<uint32_t>(*b);
  }
  o.progress = !no_progress && ::isatty(STDERR_FILENO) != 0;
  if (recursive) {
    return DownloadDirectory(o, include_files);
  }
  if (!include_files.empty()) {
    return usage("--include-files needs -r");
  }
  auto r = df::dfget::Download(o);
  if (!r.ok()) {
    std::cerr << "dfget: " << r.status().message() << std::endl;
    return df::cli::ExitCodeOf(r.status());
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
