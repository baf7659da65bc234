#include "dragonfly/manager/config.h"

#include <unistd.h>

#include "dragonfly/common/config.h"
#include "dragonfly/common/logging.h"
#include "dragonfly/common/net.h"

namespace df::manager {
namespace {

using config::CheckKeys;
using config::Read;

Status ReadAddr(const YAML::Node& server, const char* section, std::string* out) {
  const YAML::Node n = server ? server[section] : YAML::Node();
  std::string prefix = std::string("server.") + section;
  DF_RETURN_IF_ERROR(CheckKeys(n, prefix, {"addr"}));
  return Read(n, prefix, "addr", out);
}

Status ReadDatabase(const YAML::Node& n, db::Config* c) {
  DF_RETURN_IF_ERROR(CheckKeys(n, "database", {"type", "sqlite", "postgres", "mysql"}));
  if (!n || n.IsNull()) {
    return Status::Ok();
  }
  std::string type = "sqlite";
  DF_RETURN_IF_ERROR(Read(n, "database", "type", &type));
  if (type == "sqlite") {
    c->dialect = db::Dialect::kSqlite;
    const YAML::Node s = n["sqlite"];
    DF_RETURN_IF_ERROR(CheckKeys(s, "database.sqlite", {"path"}));
    return Read(s, "database.sqlite", "path", &c->sqlite_path);
  }
  if (type != "postgres" && type != "mysql") {
    return InvalidArgument("config key 'database.type' must be sqlite, postgres or mysql");
  }
  c->dialect = type == "postgres" ? db::Dialect::kPostgres : db::Dialect::kMysql;
  const YAML::Node s = n[type];
  std::string p = "database." + type;
  DF_RETURN_IF_ERROR(CheckKeys(s, p, {"host", "port", "user", "password", "dbname", "unixSocket"}));
  uint32_t port = 0;
  DF_RETURN_IF_ERROR(Read(s, p, "host", &c->host));
  DF_RETURN_IF_ERROR(Read(s, p, "port", &port));
  DF_RETURN_IF_ERROR(Read(s, p, "user", &c->user));
  DF_RETURN_IF_ERROR(Read(s, p, "password", &c->password));
  DF_RETURN_IF_ERROR(Read(s, p, "dbname", &c->dbname));
  DF_RETURN_IF_ERROR(Read(s, p, "unixSocket", &c->unix_socket));
  if (port > 65535) {
    return InvalidArgument("config key '" + p + ".port' must be a port number");
  }
  c->port = static_cast<uint16_t>(port);
  if (c->dbname.empty() || c->user.empty()) {
    return InvalidArgument("config keys '" + p + ".user' and '" + p + ".dbname' are required");
  }
  return Status::Ok();
}

Status ParseRoot(const YAML::Node& root, ManagerConfig* c) {
  DF_RETURN_IF_ERROR(CheckKeys(root, "",
                               {"server", "database", "auth", "job", "keepAlive", "metrics", "log",
                                "security", "ca", "console", "tracing"}));
  if (!root || root.IsNull()) {
    return Status::Ok();
  }
  DF_RETURN_IF_ERROR(security::ReadTlsSettings(root["security"], &c->tls));
  DF_RETURN_IF_ERROR(tracing::ReadTracingConfig(root["tracing"], "tracing", &c->tracing));
  const YAML::Node ca = root["ca"];
  DF_RETURN_IF_ERROR(CheckKeys(ca, "ca", {"cert", "key", "certTTL"}));
  DF_RETURN_IF_ERROR(Read(ca, "ca", "cert", &c->ca.cert));
  DF_RETURN_IF_ERROR(Read(ca, "ca", "key", &c->ca.key));
  DF_RETURN_IF_ERROR(Read(ca, "ca", "certTTL", &c->ca.cert_ttl));
  if (c->ca.cert.empty() != c->ca.key.empty()) {
    return InvalidArgument("ca.cert and ca.key go together");
  }
  if (c->ca.cert_ttl < std::chrono::seconds(10) || c->ca.cert_ttl > std::chrono::hours(24 * 366)) {
    return InvalidArgument("ca.certTTL must be in [10s, 366d]");
  }
  if (!c->ca.cert.empty() && c->tls.insecure) {
    return InvalidArgument("ca and security.insecure exclude each other");
  }
  const YAML::Node console = root["console"];
  DF_RETURN_IF_ERROR(CheckKeys(console, "console", {"dir"}));
  DF_RETURN_IF_ERROR(Read(console, "console", "dir", &c->console.dir));
  const YAML::Node server = root["server"];
  DF_RETURN_IF_ERROR(
      CheckKeys(server, "server", {"rest", "grpc", "name", "maxBodySize", "requestTimeout"}));
  DF_RETURN_IF_ERROR(Read(server, "server", "requestTimeout", &c->server.request_timeout));
  if (c->server.request_timeout < std::chrono::seconds(1)) {
    return InvalidArgument("config key 'server.requestTimeout' must be at least 1s");
  }
  DF_RETURN_IF_ERROR(ReadAddr(server, "rest", &c->server.rest_listen));
  DF_RETURN_IF_ERROR(ReadAddr(server, "grpc", &c->server.grpc_listen));
  DF_RETURN_IF_ERROR(Read(server, "server", "name", &c->server.name));
  DF_RETURN_IF_ERROR(config::ReadBytes(server, "server", "maxBodySize", &c->server.max_body_bytes));
  DF_RETURN_IF_ERROR(ReadDatabase(root["database"], &c->database));

  const YAML::Node auth = root["auth"];
  DF_RETURN_IF_ERROR(CheckKeys(
      auth, "auth",
      {"rootPassword", "jwtTimeout", "openAPIAnonymous", "componentToken", "allowSignUp"}));
  DF_RETURN_IF_ERROR(Read(auth, "auth", "allowSignUp", &c->auth.allow_sign_up));
  DF_RETURN_IF_ERROR(Read(auth, "auth", "componentToken", &c->auth.component_token));
  DF_RETURN_IF_ERROR(Read(auth, "auth", "rootPassword", &c->auth.root_password));
  DF_RETURN_IF_ERROR(Read(auth, "auth", "jwtTimeout", &c->auth.jwt_timeout));
  DF_RETURN_IF_ERROR(Read(auth, "auth", "openAPIAnonymous", &c->auth.open_api_anonymous));
  if (!c->auth.root_password.empty() &&
      (c->auth.root_password.size() < 8 || c->auth.root_password.size() > 64)) {
    return InvalidArgument("config key 'auth.rootPassword' must have 8 to 64 characters");
  }

  const YAML::Node job = root["job"];
  DF_RETURN_IF_ERROR(
      CheckKeys(job, "job",
                {"workers", "pollInterval", "lease", "registryTimeout", "registryCACert",
                 "registryInsecure", "defaultTimeout", "allowedNetworks", "deniedNetworks"}));
  DF_RETURN_IF_ERROR(Read(job, "job", "workers", &c->job.workers));
  DF_RETURN_IF_ERROR(Read(job, "job", "pollInterval", &c->job.poll_interval));
  DF_RETURN_IF_ERROR(Read(job, "job", "lease", &c->job.lease));
  DF_RETURN_IF_ERROR(Read(job, "job", "registryTimeout", &c->job.registry_timeout));
  DF_RETURN_IF_ERROR(Read(job, "job", "registryCACert", &c->job.registry_ca_cert));
  DF_RETURN_IF_ERROR(Read(job, "job", "registryInsecure", &c->job.registry_insecure));
  DF_RETURN_IF_ERROR(Read(job, "job", "defaultTimeout", &c->job.default_timeout));
  DF_RETURN_IF_ERROR(Read(job, "job", "allowedNetworks", &c->job.allowed_networks));
  DF_RETURN_IF_ERROR(Read(job, "job", "deniedNetworks", &c->job.denied_networks));
  for (const auto* list : {&c->job.allowed_networks, &c->job.denied_networks}) {
    for (const auto& cidr : *list) {
      std::string ip = cidr.substr(0, cidr.find('/'));
      if (!net::IsIpLiteral(ip) || !net::InCidr(ip, cidr)) {
        return InvalidArgument(
            "config key 'job.allowedNetworks' / 'job.deniedNetworks': bad "
            "network '" +
            cidr + "': want 10.0.0.0/8, fd00::/8 or one address");
      }
    }
  }
  if (c->job.workers < 1 || c->job.workers > 256) {
    return InvalidArgument("config key 'job.workers' must be in [1, 256]");
  }
  if (c->job.lease.count() < 2000 || c->job.poll_interval.count() < 10) {
    return InvalidArgument("config key 'job.lease' must be at least 2s, pollInterval 10ms");
  }

  const YAML::Node ka = root["keepAlive"];
  DF_RETURN_IF_ERROR(CheckKeys(ka, "keepAlive", {"interval", "timeout"}));
  DF_RETURN_IF_ERROR(Read(ka, "keepAlive", "interval", &c->keep_alive.interval));
  DF_RETURN_IF_ERROR(Read(ka, "keepAlive", "timeout", &c->keep_alive.timeout));
  if (c->keep_alive.timeout <= c->keep_alive.interval) {
    return InvalidArgument("config key 'keepAlive.timeout' must exceed keepAlive.interval");
  }
  const YAML::Node metrics = root["metrics"];
  DF_RETURN_IF_ERROR(CheckKeys(metrics, "metrics", {"addr"}));
  DF_RETURN_IF_ERROR(Read(metrics, "metrics", "addr", &c->metrics_listen));
  const YAML::Node log = root["log"];
  DF_RETURN_IF_ERROR(CheckKeys(log, "log", {"level", "format"}));
  DF_RETURN_IF_ERROR(Read(log, "log", "level", &c->log_level));
  DF_RETURN_IF_ERROR(Read(log, "log", "format", &c->log_format));
  DF_RETURN_IF_ERROR(ValidateLogFormat(c->log_format).Annotate("log.format"));
  return Status::Ok();
}

StatusOr<ManagerConfig> FromNode(const YAML::Node& root) {
  ManagerConfig c;
  DF_RETURN_IF_ERROR(ParseRoot(root, &c));
  DF_RETURN_IF_ERROR(
      net::SplitHostPort(c.server.rest_listen).status().Annotate("config key 'server.rest.addr'"));
  DF_RETURN_IF_ERROR(
      net::SplitHostPort(c.server.grpc_listen).status().Annotate("config key 'server.grpc.addr'"));
  if (!c.metrics_listen.empty()) {
    DF_RETURN_IF_ERROR(
        net::SplitHostPort(c.metrics_listen).status().Annotate("config key 'metrics.addr'"));
  }
  if (c.tracing.service_name.empty()) {
    c.tracing.service_name = "manager";
  }
  if (c.server.name.empty()) {
    char host[256] = "manager";
    ::gethostname(host, sizeof(host) - 1);
    c.server.name = std::string(host) + "-" + std::to_string(::getpid());
  }
  return c;
}

}  // namespace

StatusOr<ManagerConfig> ParseManagerConfig(const std::string& yaml) {
  try {
    return FromNode(YAML::Load(yaml));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string("bad YAML: ") + e.what());
  }
}

StatusOr<ManagerConfig> LoadManagerConfig(const std::string& path, bool allow_missing) {
  auto root = config::LoadFile(path);
  if (!root.ok()) {
    if (allow_missing && root.status().code() == StatusCode::kNotFound) {
      return FromNode(YAML::Node());
    }
    return root.status();
  }
  return FromNode(*root);
}

}  // namespace df::manager
