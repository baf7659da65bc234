// dfcert: the cluster CA and component certificates from files, for a deployment that does not
// get them from the manager (docs/security.md, "Certificates").
//   dfcert ca --out DIR [--ttl 87600h]           DIR/ca.crt, DIR/ca.key (0600)
//   dfcert issue --ca DIR --role ROLE --name NAME --out DIR [--ttl 720h] [--host H]...
//                                                 DIR/tls.crt, DIR/tls.key, DIR/ca.crt
//   dfcert show FILE                              the identity and expiry of a certificate
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "dragonfly/cli/cli.h"
#include "dragonfly/cli/client_config.h"
#include "dragonfly/common/config.h"
#include "dragonfly/common/file.h"
#include "dragonfly/security/identity.h"

namespace sec = df::security;

namespace {

int Fail(const std::string& what, const df::Status& s) {
  std::cerr << "dfcert: " << what << ": " << s.message() << std::endl;
  return df::cli::kExitFailed;
}

// A bad flag value (--ttl, --role): kExitUsage.
int Usage(const std::string& what, const df::Status& s) {
  std::cerr << "dfcert: " << what << ": " << s.message() << std::endl;
  return df::cli::kExitUsage;
}

df::StatusOr<std::chrono::seconds> Ttl(const std::string& text) {
  DF_ASSIGN_OR_RETURN(auto ms, df::config::ParseDuration(text));
  if (ms < std::chrono::minutes(1)) {
    return df::InvalidArgument("--ttl must be at least 1m");
  }
  return std::chrono::duration_cast<std::chrono::seconds>(ms);
}

df::Status WriteAll(const std::string& dir,
                    const std::vector<std::pair<std::string, std::string>>& files) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return df::PermissionDenied("cannot create " + dir + ": " + ec.message());
  }
  ::chmod(dir.c_str(), 0700);
  for (const auto& [name, data] : files) {
    DF_RETURN_IF_ERROR(sec::WriteSecretFile(dir + "/" + name, data));
  }
  return df::Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dfcert: the cluster CA and component certificates"};
  std::string out, ca_dir, role, name, ttl, file;
  std::vector<std::string> hosts;
  auto* ca = app.add_subcommand("ca", "Make a cluster CA");
  ca->add_option("--out", out, "directory for ca.crt and ca.key")->required();
  ca->add_option("--ttl", ttl, "validity (default: caTTL of the config, 87600h)");
  auto* issue = app.add_subcommand("issue", "Issue a component certificate");
  issue->add_option("--ca", ca_dir, "directory with ca.crt and ca.key")->required();
  issue->add_option("--role", role, "scheduler, seed-peer, daemon or manager")->required();
  issue->add_option("--name", name, "host name (daemons, seed peers) or component name")
      ->required();
  issue->add_option("--out", out, "directory for tls.crt, tls.key and ca.crt")->required();
  issue->add_option("--ttl", ttl, "validity (default: certTTL of the config, 720h)");
  issue->add_option("--host", hosts, "extra DNS name or IP SAN");
  auto* show = app.add_subcommand("show", "Print a certificate's identity and expiry");
  show->add_option("file", file)->required();
  app.require_subcommand(1);
  df::cli::OptionalConfigFile<df::cli::DfcertConfig> config_file(
      app, "dfcert", df::cli::kDfcertConfigPath, df::cli::DefaultDfcertConfigYaml(),
      df::cli::LoadDfcertConfig, "dfcert config: default validities");
  df::cli::Setup(
      app, "dfcert",
      "  dfcert ca --out /etc/dragonfly/ca\n"
      "  dfcert issue --ca /etc/dragonfly/ca --role daemon --name node-1 --out /etc/dragonfly/tls\n"
      "  dfcert show /etc/dragonfly/tls/tls.crt\n");
  if (auto code = df::cli::Parse(app, argc, argv)) {
    return *code;
  }
  if (auto code = config_file.Load()) {  // it fills what the flags leave out
    return *code;
  }
  const df::cli::DfcertConfig* config = &config_file.value();
  auto ttl_of = [&](std::chrono::milliseconds from_config) {  // --ttl, or the config's
    return ttl.empty() ? std::to_string(from_config.count() / 1000) + "s" : ttl;
  };

  if (ca->parsed()) {
    auto t = Ttl(ttl_of(config->ca_ttl));
    if (!t.ok()) {
      return Usage("ca", t.status());
    }
    auto kp = sec::MakeCa("Dragonfly cluster CA", *t);
    if (!kp.ok()) {
      return Fail("ca", kp.status());
    }
    if (df::Status s = WriteAll(out, {{"ca.crt", kp->cert_pem}, {"ca.key", kp->key_pem}});
        !s.ok()) {
      return Fail("ca", s);
    }
    std::cout << "wrote " << out << "/ca.crt and " << out << "/ca.key" << std::endl;
    return 0;
  }
  if (issue->parsed()) {
    auto t = Ttl(ttl_of(config->cert_ttl));
    auto r = sec::ParseRole(role);
    for (const df::Status& s : {t.status(), r.status()}) {
      if (!s.ok()) {
        return Usage("issue", s);
      }
    }
    auto cert = df::ReadSmallFile(ca_dir + "/ca.crt");
    auto key = df::ReadSmallFile(ca_dir + "/ca.key");
    for (const df::Status& s : {cert.status(), key.status()}) {
      if (!s.ok()) {
        return Fail("issue", s);
      }
    }
    auto kp = sec::IssueCertificate({*key, *cert}, {*r, name}, *t, hosts);
    if (!kp.ok()) {
      return Fail("issue", kp.status());
    }
    if (df::Status s =
            WriteAll(out, {{"tls.crt", kp->cert_pem}, {"tls.key", kp->key_pem}, {"ca.crt", *cert}});
        !s.ok()) {
      return Fail("issue", s);
    }
    std::cout << "wrote " << out << "/tls.crt for " << sec::Identity{*r, name}.SpiffeId()
              << std::endl;
    return 0;
  }
  auto pem = df::ReadSmallFile(file);
  if (!pem.ok()) {
    return Fail("show", pem.status());
  }
  auto info = sec::InspectCertificate(*pem);
  if (!info.ok()) {
    return Fail("show", info.status());
  }
  std::time_t t = static_cast<std::time_t>(info->not_after_unix_s);
  char when[64];
  std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  std::cout << info->identity.SpiffeId() << " expires " << when << std::endl;
  return 0;
}
