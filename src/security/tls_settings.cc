#include "dragonfly/security/tls_settings.h"

#include <yaml-cpp/yaml.h>

#include <cctype>

#include "dragonfly/common/config.h"
#include "dragonfly/common/file.h"
#include "dragonfly/common/net.h"
#include "dragonfly/security/bootstrap_token.h"
#include "dragonfly/security/identity.h"

namespace df::security {
namespace {

StatusOr<std::string> ReadFile(const std::string& path, const char* key) {
  StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) {
    return InvalidArgument(std::string("security.") + key + ": " + text.status().message());
  }
  return text;
}

Status ReadJoin(const YAML::Node& n, JoinSettings* out) {
  const std::string p = "security.join";
  DF_RETURN_IF_ERROR(config::CheckKeys(n, p, {"manager", "token", "tokenFile"}));
  DF_RETURN_IF_ERROR(config::Read(n, p, "manager", &out->manager));
  DF_RETURN_IF_ERROR(config::Read(n, p, "token", &out->token));
  std::string file;
  DF_RETURN_IF_ERROR(config::Read(n, p, "tokenFile", &file));
  if (!file.empty()) {
    if (!out->token.empty()) {
      return InvalidArgument("security.join: token and tokenFile exclude each other");
    }
    DF_ASSIGN_OR_RETURN(out->token, ReadFile(file, "join.tokenFile"));
    while (!out->token.empty() && std::isspace(static_cast<unsigned char>(out->token.back()))) {
      out->token.pop_back();
    }
  }
  if (out->manager.empty()) {
    return InvalidArgument("security.join.manager (the manager's gRPC address) is required");
  }
  DF_RETURN_IF_ERROR(net::SplitHostPort(out->manager).status().Annotate("security.join.manager"));
  return ParseBootstrapToken(out->token).status().Annotate("security.join.token");
}

}  // namespace

Status ReadTlsSettings(const YAML::Node& n, TlsSettings* out) {
  const std::string p = "security";
  DF_RETURN_IF_ERROR(
      config::CheckKeys(n, p, {"caCert", "cert", "key", "insecure", "reloadInterval", "join"}));
  if (n && n["join"]) {
    DF_RETURN_IF_ERROR(ReadJoin(n["join"], &out->join));
  }
  DF_RETURN_IF_ERROR(config::Read(n, p, "caCert", &out->ca_cert));
  DF_RETURN_IF_ERROR(config::Read(n, p, "cert", &out->cert));
  DF_RETURN_IF_ERROR(config::Read(n, p, "key", &out->key));
  DF_RETURN_IF_ERROR(config::Read(n, p, "insecure", &out->insecure));
  std::chrono::milliseconds reload = out->reload_interval;
  DF_RETURN_IF_ERROR(config::Read(n, p, "reloadInterval", &reload));
  if (reload < std::chrono::seconds(1) || reload > std::chrono::hours(1)) {
    return InvalidArgument("security.reloadInterval must be in [1s, 1h]");
  }
  out->reload_interval = std::chrono::duration_cast<std::chrono::seconds>(reload);
  const int set = !out->ca_cert.empty() + !out->cert.empty() + !out->key.empty();
  if (set == 0 && out->join.manager.empty()) {
    return Status::Ok();
  }
  if (set != 3) {
    return InvalidArgument(
        out->join.manager.empty()
            ? "security.caCert, cert and key go together"
            : "security.join needs caCert (the manager's CA), cert and key (where the issued "
              "certificate is kept)");
  }
  if (out->insecure) {
    return InvalidArgument("security.insecure and certificates exclude each other");
  }
  if (!out->join.manager.empty()) {
    // The CA must be there (it is how the manager is recognised); cert and key come from it.
    return ReadFile(out->ca_cert, "caCert").status();
  }
  DF_ASSIGN_OR_RETURN(std::string cert, ReadFile(out->cert, "cert"));
  DF_RETURN_IF_ERROR(ReadFile(out->key, "key").status());
  DF_ASSIGN_OR_RETURN(std::string ca, ReadFile(out->ca_cert, "caCert"));
  DF_RETURN_IF_ERROR(InspectCertificate(cert).status().Annotate("security.cert " + out->cert));
  DF_RETURN_IF_ERROR(CheckIssuedBy(cert, ca).Annotate("security.cert " + out->cert));
  return Status::Ok();
}

Status CheckExposure(const TlsSettings& settings,
                     const std::vector<std::pair<std::string, std::string>>& listens) {
  if (settings.secure() || settings.insecure) {
    return Status::Ok();
  }
  for (const auto& [key, listen] : listens) {
    StatusOr<net::HostPort> hp = net::SplitHostPort(listen);
    if (!hp.ok()) {
      continue;  // the component reports a bad address itself
    }
    bool loopback = hp->host == "localhost";
    if (StatusOr<std::string> ip = net::CanonicalIp(hp->host); ip.ok()) {
      loopback = *ip == "::1" || ip->rfind("127.", 0) == 0;
    }
    if (!loopback) {
      return FailedPrecondition(
          key + " " + listen +
          " is reachable from other hosts: configure security.caCert, cert and key (dfcert; "
          "docs/security.md), or set security.insecure: true to run without authentication");
    }
  }
  return Status::Ok();
}

}  // namespace df::security
