#include "dragonfly/daemon/config.h"

#include <unistd.h>

#include <algorithm>
#include <regex>

#include "dragonfly/common/config.h"
#include "dragonfly/common/logging.h"

namespace df::daemon {
namespace {

using config::CheckKeys;
using config::Read;
using config::ReadBytes;

Status ParseProxy(const YAML::Node& node, DaemonConfig::Proxy* p) {
  DF_RETURN_IF_ERROR(
      CheckKeys(node, "proxy",
                {"listen", "rules", "registryMirror", "registries", "basicAuth", "allowHosts",
                 "maxConnections", "upstreamTimeout", "hijackHTTPS", "requestTimeout"}));
  if (!node || node.IsNull()) {
    return Status::Ok();
  }
  DF_RETURN_IF_ERROR(Read(node, "proxy", "listen", &p->listen));
  DF_RETURN_IF_ERROR(Read(node, "proxy", "maxConnections", &p->max_connections));
  DF_RETURN_IF_ERROR(Read(node, "proxy", "upstreamTimeout", &p->upstream_timeout));
  if (p->upstream_timeout.count() < 1000) {
    return InvalidArgument("config key 'proxy.upstreamTimeout' must be at least 1s");
  }
  DF_RETURN_IF_ERROR(Read(node, "proxy", "requestTimeout", &p->request_timeout));
  if (p->request_timeout.count() < 1000) {
    return InvalidArgument("config key 'proxy.requestTimeout' must be at least 1s");
  }
  if (const YAML::Node rules = node["rules"]; rules) {
    if (!rules.IsSequence()) {
      return InvalidArgument("config key 'proxy.rules' must be a list");
    }
    p->rules.clear();
    for (size_t i = 0; i < rules.size(); ++i) {
      std::string prefix = "proxy.rules[" + std::to_string(i) + "]";
      DF_RETURN_IF_ERROR(CheckKeys(rules[i], prefix, {"regex", "useTLS", "redirect"}));
      DaemonConfig::Proxy::Rule r;
      DF_RETURN_IF_ERROR(Read(rules[i], prefix, "regex", &r.regex));
      DF_RETURN_IF_ERROR(Read(rules[i], prefix, "useTLS", &r.use_tls));
      DF_RETURN_IF_ERROR(Read(rules[i], prefix, "redirect", &r.redirect));
      try {
        std::regex re(r.regex);
      } catch (const std::regex_error& e) {
        return InvalidArgument("config key '" + prefix + ".regex': " + e.what());
      }
      p->rules.push_back(r);
    }
  }
  const YAML::Node mirror = node["registryMirror"];
  DF_RETURN_IF_ERROR(CheckKeys(mirror, "proxy.registryMirror",
                               {"addr", "nsScheme", "enableTaskIDBasedBlobDigest"}));
  DF_RETURN_IF_ERROR(Read(mirror, "proxy.registryMirror", "addr", &p->registry_mirror.addr));
  DF_RETURN_IF_ERROR(
      Read(mirror, "proxy.registryMirror", "nsScheme", &p->registry_mirror.ns_scheme));
  DF_RETURN_IF_ERROR(Read(mirror, "proxy.registryMirror", "enableTaskIDBasedBlobDigest",
                          &p->registry_mirror.enable_task_id_based_blob_digest));
  if (p->registry_mirror.ns_scheme != "http" && p->registry_mirror.ns_scheme != "https") {
    return InvalidArgument("config key 'proxy.registryMirror.nsScheme' must be http or https");
  }
  if (const YAML::Node regs = node["registries"]; regs) {
    for (size_t i = 0; i < regs.size(); ++i) {
      std::string prefix = "proxy.registries[" + std::to_string(i) + "]";
      DF_RETURN_IF_ERROR(CheckKeys(regs[i], prefix, {"host", "caCert", "insecure"}));
      DaemonConfig::Proxy::Registry r;
      DF_RETURN_IF_ERROR(Read(regs[i], prefix, "host", &r.host));
      DF_RETURN_IF_ERROR(Read(regs[i], prefix, "caCert", &r.ca_cert));
      DF_RETURN_IF_ERROR(Read(regs[i], prefix, "insecure", &r.insecure));
      if (r.host.empty()) {
        return InvalidArgument("config key '" + prefix + ".host' is required");
      }
      p->registries.push_back(r);
    }
  }
  const YAML::Node auth = node["basicAuth"];
  DF_RETURN_IF_ERROR(CheckKeys(auth, "proxy.basicAuth", {"username", "password"}));
  DF_RETURN_IF_ERROR(Read(auth, "proxy.basicAuth", "username", &p->basic_auth_username));
  DF_RETURN_IF_ERROR(Read(auth, "proxy.basicAuth", "password", &p->basic_auth_password));
  const YAML::Node hijack = node["hijackHTTPS"];
  DF_RETURN_IF_ERROR(CheckKeys(hijack, "proxy.hijackHTTPS", {"cert", "key", "hosts"}));
  DF_RETURN_IF_ERROR(Read(hijack, "proxy.hijackHTTPS", "cert", &p->hijack_https.cert));
  DF_RETURN_IF_ERROR(Read(hijack, "proxy.hijackHTTPS", "key", &p->hijack_https.key));
  if (p->hijack_https.cert.empty() != p->hijack_https.key.empty()) {
    return InvalidArgument("config keys 'proxy.hijackHTTPS.cert' and 'key' go together");
  }
  if (const YAML::Node hosts = hijack && hijack.IsMap() ? hijack["hosts"] : YAML::Node();
      hosts && !hosts.IsNull()) {
    if (!hosts.IsSequence()) {
      return InvalidArgument("config key 'proxy.hijackHTTPS.hosts' must be a list");
    }
    for (size_t i = 0; i < hosts.size(); ++i) {
      std::string prefix = "proxy.hijackHTTPS.hosts[" + std::to_string(i) + "]";
      std::string regex;
      if (hosts[i].IsScalar()) {
        regex = hosts[i].as<std::string>();
      } else {
        // Go dfdaemon's form: {regx: "host:443"}.
        DF_RETURN_IF_ERROR(CheckKeys(hosts[i], prefix, {"regx"}));
        DF_RETURN_IF_ERROR(Read(hosts[i], prefix, "regx", &regex));
      }
      try {
        std::regex re(regex);
      } catch (const std::regex_error& e) {
        return InvalidArgument("config key '" + prefix + "': " + e.what());
      }
      if (regex.empty()) {
        return InvalidArgument("config key '" + prefix + "' is empty");
      }
      p->hijack_https.hosts.push_back(regex);
    }
  }
  if (const YAML::Node allow = node["allowHosts"]; allow) {
    for (const auto& a : allow) {
      p->allow_hosts.push_back(a.as<std::string>());
    }
  }
  return Status::Ok();
}

// A list of host:port at `prefix.key`; absent leaves *out unchanged.
Status ReadAddrs(const YAML::Node& map, const std::string& prefix, const char* key,
                 std::vector<std::string>* out) {
  if (!map || !map.IsMap() || !map[key]) {
    return Status::Ok();
  }
  const std::string name = "config key '" + prefix + "." + key + "'";
  const YAML::Node list = map[key];
  if (!list.IsSequence()) {
    return InvalidArgument(name + " must be a list of host:port");
  }
  out->clear();
  for (const auto& a : list) {
    if (!a.IsScalar()) {
      return InvalidArgument(name + " must be a list of host:port");
    }
    std::string addr = a.as<std::string>();
    DF_RETURN_IF_ERROR(SplitHostPort(addr).status().Annotate(name));
    out->push_back(addr);
  }
  return Status::Ok();
}

Status ParseManager(const YAML::Node& node, DaemonConfig::Manager* m) {
  DF_RETURN_IF_ERROR(
      CheckKeys(node, "manager", {"addrs", "refreshInterval", "keepAliveInterval", "token"}));
  DF_RETURN_IF_ERROR(Read(node, "manager", "token", &m->token));
  if (!node || node.IsNull()) {
    return Status::Ok();
  }
  DF_RETURN_IF_ERROR(ReadAddrs(node, "manager", "addrs", &m->addrs));
  DF_RETURN_IF_ERROR(Read(node, "manager", "refreshInterval", &m->refresh_interval));
  DF_RETURN_IF_ERROR(Read(node, "manager", "keepAliveInterval", &m->keep_alive_interval));
  if (m->refresh_interval < milliseconds(1000)) {
    return InvalidArgument("config key 'manager.refreshInterval' must be at least 1s");
  }
  if (m->keep_alive_interval < milliseconds(100) ||
      m->keep_alive_interval > std::chrono::minutes(5)) {
    return InvalidArgument("config key 'manager.keepAliveInterval' must be in [100ms, 5m]");
  }
  return Status::Ok();
}

Status ParseNode(const YAML::Node& root, DaemonConfig* c) {
  DF_RETURN_IF_ERROR(CheckKeys(
      root, "",
      {"host", "server", "scheduler", "manager", "seedPeer", "upload", "download", "storage", "gc",
       "backSource", "proxy", "metrics", "log", "testing", "security", "tracing"}));
  if (!root || root.IsNull()) {
    return Status::Ok();
  }
  DF_RETURN_IF_ERROR(security::ReadTlsSettings(root["security"], &c->tls));
  DF_RETURN_IF_ERROR(tracing::ReadTracingConfig(root["tracing"], "tracing", &c->tracing));
  const YAML::Node host = root["host"];
  DF_RETURN_IF_ERROR(CheckKeys(host, "host", {"hostname", "ip", "ips", "idc", "location"}));
  DF_RETURN_IF_ERROR(Read(host, "host", "hostname", &c->host.hostname));
  DF_RETURN_IF_ERROR(Read(host, "host", "ip", &c->host.ip));
  if (host && host.IsMap() && host["ips"]) {
    if (!host["ips"].IsSequence()) {
      return InvalidArgument("config key 'host.ips' must be a list of IP addresses");
    }
    for (const auto& ip : host["ips"]) {
      if (!ip.IsScalar()) {
        return InvalidArgument("config key 'host.ips' must be a list of IP addresses");
      }
      c->host.ips.push_back(ip.as<std::string>());
    }
  }
  DF_RETURN_IF_ERROR(Read(host, "host", "idc", &c->host.idc));
  DF_RETURN_IF_ERROR(Read(host, "host", "location", &c->host.location));

  const YAML::Node server = root["server"];
  DF_RETURN_IF_ERROR(CheckKeys(server, "server", {"socketPath"}));
  DF_RETURN_IF_ERROR(Read(server, "server", "socketPath", &c->server.socket_path));

  const YAML::Node sched = root["scheduler"];
  DF_RETURN_IF_ERROR(CheckKeys(sched, "scheduler",
                               {"addrs", "announceInterval", "rpcTimeout", "scheduleTimeout",
                                "backToSourceWhenUnreachable"}));
  DF_RETURN_IF_ERROR(ReadAddrs(sched, "scheduler", "addrs", &c->scheduler.addrs));
  DF_RETURN_IF_ERROR(Read(sched, "scheduler", "announceInterval", &c->scheduler.announce_interval));
  DF_RETURN_IF_ERROR(Read(sched, "scheduler", "rpcTimeout", &c->scheduler.rpc_timeout));
  DF_RETURN_IF_ERROR(Read(sched, "scheduler", "scheduleTimeout", &c->scheduler.schedule_timeout));
  DF_RETURN_IF_ERROR(Read(sched, "scheduler", "backToSourceWhenUnreachable",
                          &c->scheduler.back_to_source_when_unreachable));

  DF_RETURN_IF_ERROR(ParseManager(root["manager"], &c->manager));

  const YAML::Node seed = root["seedPeer"];
  DF_RETURN_IF_ERROR(CheckKeys(seed, "seedPeer", {"enable", "clusterID"}));
  DF_RETURN_IF_ERROR(Read(seed, "seedPeer", "enable", &c->seed_peer.enable));
  int64_t cluster_id = 0;
  DF_RETURN_IF_ERROR(Read(seed, "seedPeer", "clusterID", &cluster_id));
  if (cluster_id < 0) {
    return InvalidArgument("config key 'seedPeer.clusterID' must not be negative");
  }
  c->seed_peer.cluster_id = static_cast<uint64_t>(cluster_id);

  const YAML::Node up = root["upload"];
  DF_RETURN_IF_ERROR(
      CheckKeys(up, "upload", {"listen", "rpcListen", "maxConnections", "slots", "rateLimit"}));
  DF_RETURN_IF_ERROR(Read(up, "upload", "listen", &c->upload.listen));
  DF_RETURN_IF_ERROR(Read(up, "upload", "rpcListen", &c->upload.rpc_listen));
  DF_RETURN_IF_ERROR(Read(up, "upload", "maxConnections", &c->upload.max_connections));
  DF_RETURN_IF_ERROR(Read(up, "upload", "slots", &c->upload.slots));
  DF_RETURN_IF_ERROR(ReadBytes(up, "upload", "rateLimit", &c->upload.rate_limit));

  const YAML::Node down = root["download"];
  DF_RETURN_IF_ERROR(
      CheckKeys(down, "download", {"concurrentPieceCount", "pieceTimeout", "stallTimeout"}));
  DF_RETURN_IF_ERROR(
      Read(down, "download", "concurrentPieceCount", &c->download.concurrent_piece_count));
  DF_RETURN_IF_ERROR(Read(down, "download", "pieceTimeout", &c->download.piece_timeout));
  DF_RETURN_IF_ERROR(Read(down, "download", "stallTimeout", &c->download.stall_timeout));

  const YAML::Node storage = root["storage"];
  DF_RETURN_IF_ERROR(CheckKeys(storage, "storage", {"dir"}));
  DF_RETURN_IF_ERROR(Read(storage, "storage", "dir", &c->storage.dir));

  const YAML::Node gc = root["gc"];
  DF_RETURN_IF_ERROR(CheckKeys(
      gc, "gc",
      {"interval", "taskTTL", "diskHighThresholdPercent", "diskLowThresholdPercent", "capacity"}));
  DF_RETURN_IF_ERROR(Read(gc, "gc", "interval", &c->gc.interval));
  DF_RETURN_IF_ERROR(Read(gc, "gc", "taskTTL", &c->gc.task_ttl));
  DF_RETURN_IF_ERROR(Read(gc, "gc", "diskHighThresholdPercent", &c->gc.disk_high_percent));
  DF_RETURN_IF_ERROR(Read(gc, "gc", "diskLowThresholdPercent", &c->gc.disk_low_percent));
  DF_RETURN_IF_ERROR(ReadBytes(gc, "gc", "capacity", &c->gc.capacity));

  const YAML::Node bs = root["backSource"];
  DF_RETURN_IF_ERROR(CheckKeys(bs, "backSource",
                               {"caCert", "insecure", "maxRetries", "s3", "azure", "huggingFace"}));
  DF_RETURN_IF_ERROR(Read(bs, "backSource", "caCert", &c->back_source.ca_cert));
  DF_RETURN_IF_ERROR(Read(bs, "backSource", "insecure", &c->back_source.insecure));
  DF_RETURN_IF_ERROR(Read(bs, "backSource", "maxRetries", &c->back_source.max_retries));
  const YAML::Node s3 = bs ? bs["s3"] : YAML::Node();
  auto& o = c->back_source.s3;
  DF_RETURN_IF_ERROR(CheckKeys(
      s3, "backSource.s3",
      {"endpoint", "region", "forcePathStyle", "accessKeyID", "secretAccessKey", "sessionToken"}));
  DF_RETURN_IF_ERROR(Read(s3, "backSource.s3", "endpoint", &o.endpoint));
  DF_RETURN_IF_ERROR(Read(s3, "backSource.s3", "region", &o.region));
  DF_RETURN_IF_ERROR(Read(s3, "backSource.s3", "forcePathStyle", &o.force_path_style));
  DF_RETURN_IF_ERROR(Read(s3, "backSource.s3", "accessKeyID", &o.access_key_id));
  DF_RETURN_IF_ERROR(Read(s3, "backSource.s3", "secretAccessKey", &o.secret_access_key));
  DF_RETURN_IF_ERROR(Read(s3, "backSource.s3", "sessionToken", &o.session_token));
  DF_RETURN_IF_ERROR(backend::ValidateS3Options(o).Annotate("backSource.s3"));
  const YAML::Node azure = bs ? bs["azure"] : YAML::Node();
  auto& a = c->back_source.azure;
  DF_RETURN_IF_ERROR(
      CheckKeys(azure, "backSource.azure", {"endpoint", "accountName", "accountKey", "sasToken"}));
  DF_RETURN_IF_ERROR(Read(azure, "backSource.azure", "endpoint", &a.endpoint));
  DF_RETURN_IF_ERROR(Read(azure, "backSource.azure", "accountName", &a.account_name));
  DF_RETURN_IF_ERROR(Read(azure, "backSource.azure", "accountKey", &a.account_key));
  DF_RETURN_IF_ERROR(Read(azure, "backSource.azure", "sasToken", &a.sas_token));
  DF_RETURN_IF_ERROR(backend::ValidateAzureOptions(a).Annotate("backSource.azure"));
  const YAML::Node hf = bs ? bs["huggingFace"] : YAML::Node();
  auto& h = c->back_source.hugging_face;
  DF_RETURN_IF_ERROR(CheckKeys(hf, "backSource.huggingFace", {"endpoint", "token"}));
  DF_RETURN_IF_ERROR(Read(hf, "backSource.huggingFace", "endpoint", &h.endpoint));
  DF_RETURN_IF_ERROR(Read(hf, "backSource.huggingFace", "token", &h.token));
  DF_RETURN_IF_ERROR(backend::ValidateHubOptions(h).Annotate("backSource.huggingFace"));

  DF_RETURN_IF_ERROR(ParseProxy(root["proxy"], &c->proxy));

  const YAML::Node metrics = root["metrics"];
  DF_RETURN_IF_ERROR(CheckKeys(metrics, "metrics", {"listen"}));
  DF_RETURN_IF_ERROR(Read(metrics, "metrics", "listen", &c->metrics.listen));

  const YAML::Node log = root["log"];
  DF_RETURN_IF_ERROR(CheckKeys(log, "log", {"level", "file", "format"}));
  DF_RETURN_IF_ERROR(Read(log, "log", "level", &c->log.level));
  DF_RETURN_IF_ERROR(Read(log, "log", "file", &c->log.file));
  DF_RETURN_IF_ERROR(Read(log, "log", "format", &c->log.format));
  DF_RETURN_IF_ERROR(ValidateLogFormat(c->log.format).Annotate("log.format"));

  const YAML::Node testing = root["testing"];
  DF_RETURN_IF_ERROR(CheckKeys(testing, "testing", {"corruptUploadPieces"}));
  if (testing && testing["corruptUploadPieces"]) {
    for (const auto& n : testing["corruptUploadPieces"]) {
      c->testing.corrupt_upload_pieces.push_back(n.as<uint32_t>());
    }
  }
  return Status::Ok();
}

// host.ip and host.ips: canonical IP literals, ip first in ips. Unset, they are the addresses
// of the piece server's listen host (its interfaces' addresses for a wildcard).
Status ResolveHostAddresses(DaemonConfig::Host* h, const std::string& piece_listen_host) {
  constexpr size_t kMaxIps = 8;
  std::vector<std::string> ips;
  if (!h->ip.empty()) {
    DF_ASSIGN_OR_RETURN(std::string ip, net::CanonicalIp(h->ip).Annotate("config key 'host.ip'"));
    ips.push_back(ip);
  }
  for (const std::string& raw : h->ips) {
    DF_ASSIGN_OR_RETURN(std::string ip, net::CanonicalIp(raw).Annotate("config key 'host.ips'"));
    if (std::find(ips.begin(), ips.end(), ip) == ips.end()) {
      ips.push_back(ip);
    }
  }
  if (ips.empty()) {
    ips = net::AdvertisedAddresses(piece_listen_host);
  }
  if (ips.empty()) {
    ips.push_back(net::LiteralFamily(piece_listen_host) == net::Family::kIPv6 ? "::1"
                                                                              : "127.0.0.1");
  }
  if (ips.size() > kMaxIps) {
    ips.resize(kMaxIps);
  }
  h->ip = ips.front();
  h->ips = std::move(ips);
  return Status::Ok();
}

Status Validate(DaemonConfig* c) {
  if (c->host.hostname.empty()) {
    char name[256] = {};
    ::gethostname(name, sizeof(name) - 1);
    c->host.hostname = name;
  }
  DF_ASSIGN_OR_RETURN(net::HostPort piece_listen,
                      SplitHostPort(c->upload.listen).Annotate("config key 'upload.listen'"));
  DF_RETURN_IF_ERROR(ResolveHostAddresses(&c->host, piece_listen.host));
  DF_RETURN_IF_ERROR(
      SplitHostPort(c->upload.rpc_listen).status().Annotate("config key 'upload.rpcListen'"));
  if (!c->proxy.listen.empty()) {
    DF_RETURN_IF_ERROR(
        SplitHostPort(c->proxy.listen).status().Annotate("config key 'proxy.listen'"));
  }
  if (!c->metrics.listen.empty()) {
    DF_RETURN_IF_ERROR(
        SplitHostPort(c->metrics.listen).status().Annotate("config key 'metrics.listen'"));
  }
  if (c->upload.slots == 0 || c->upload.slots > 256) {
    return InvalidArgument("config key 'upload.slots' must be in [1, 256]");
  }
  if (c->download.concurrent_piece_count == 0 || c->download.concurrent_piece_count > 64) {
    return InvalidArgument("config key 'download.concurrentPieceCount' must be in [1, 64]");
  }
  if (c->gc.disk_low_percent > c->gc.disk_high_percent || c->gc.disk_high_percent > 100) {
    return InvalidArgument(
        "config keys 'gc.diskLowThresholdPercent' <= 'gc.diskHighThresholdPercent' <= 100");
  }
  if (c->storage.dir.empty()) {
    return InvalidArgument("config key 'storage.dir' must not be empty");
  }
  if (c->server.socket_path.empty()) {
    return InvalidArgument("config key 'server.socketPath' must not be empty");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<DaemonConfig> ParseDaemonConfig(const std::string& yaml) {
  DaemonConfig c;
  try {
    DF_RETURN_IF_ERROR(ParseNode(YAML::Load(yaml), &c));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string("config: ") + e.what());
  }
  DF_RETURN_IF_ERROR(Validate(&c));
  return c;
}

StatusOr<DaemonConfig> LoadDaemonConfig(const std::string& path) {
  DF_ASSIGN_OR_RETURN(YAML::Node root, config::LoadFile(path));
  DaemonConfig c;
  try {
    DF_RETURN_IF_ERROR(ParseNode(root, &c).Annotate(path));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(path + ": " + e.what());
  }
  DF_RETURN_IF_ERROR(Validate(&c).Annotate(path));
  return c;
}

}  // namespace df::daemon
