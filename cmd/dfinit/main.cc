// dfinit: points container runtimes (containerd, CRI-O/podman/skopeo, Docker) at the dfdaemon's
// registry mirror, and undoes it (restore).
#include <CLI/CLI.hpp>
#include <iostream>

#include "dragonfly/cli/cli.h"
#include "dragonfly/cli/client_config.h"
#include "dragonfly/dfinit/dfinit.h"

namespace {

// A bad flag value (dfinit's checks say InvalidArgument) is a usage error; anything else failed.
int Fail(const df::Status& s) {
  std::cerr << "dfinit: " << s.message() << std::endl;
  return s.code() == df::StatusCode::kInvalidArgument ? df::cli::kExitUsage : df::cli::kExitFailed;
}

void Print(const df::dfinit::Output& out, bool dry_run = false) {
  for (const auto& c : out.changes) {
    std::cout << c.ToString() << (dry_run ? " (dry run)" : "") << "\n";
  }
  for (const auto& n : out.notes) {
    std::cerr << "dfinit: note: " << n << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dfinit: configure container runtimes to pull images through the dfdaemon"};
  app.require_subcommand(1);

  df::dfinit::ContainerdOptions c;
  CLI::App* containerd =
      app.add_subcommand("containerd", "Write containerd certs.d/<registry>/hosts.toml files");
  CLI::Option* certs_dir_opt =
      containerd->add_option("--certs-dir", c.certs_dir, "containerd config_path directory")
          ->capture_default_str();
  CLI::Option* ctd_mirror_opt =
      containerd->add_option("--mirror", c.mirror, "dfdaemon registry mirror URL")
          ->capture_default_str();
  CLI::Option* ctd_registry_opt = containerd->add_option(
      "--registry", c.registries,
      "Registry HOST[=SERVER_URL] to pull through the mirror (repeatable; "
      "default server https://HOST, docker.io: https://registry-1.docker.io)");
  CLI::Option* ca_opt =
      containerd->add_option("--ca", c.cas, "HOST=PATH: CA bundle for a registry (repeatable)");
  CLI::Option* skip_opt =
      containerd->add_option("--skip-verify", c.skip_verify,
                             "HOST: do not verify the registry's TLS certificate (repeatable)");
  CLI::Option* no_default_opt =
      containerd->add_flag("--no-default", c.no_default,
                           "Do not write _default/hosts.toml (the catch-all for other registries)");
  containerd->add_flag("--dry-run", c.dry_run, "Print the files and what would change only");

  df::dfinit::CrioOptions r;
  CLI::App* crio =
      app.add_subcommand("crio", "Emit a containers-registries.conf v2 (CRI-O, podman, skopeo)");
  CLI::Option* crio_mirror_opt =
      crio->add_option("--mirror", r.mirror, "dfdaemon registry mirror URL")->capture_default_str();
  CLI::Option* crio_registry_opt = crio->add_option(
      "--registry", r.registries,
      "Registry HOST[=SERVER_URL] (repeatable; required here or as crio.registries in the config)");
  crio->add_option("-o,--output", r.output, "Write this file (default: stdout)");

  df::dfinit::DockerOptions d;
  CLI::App* docker =
      app.add_subcommand("docker", "Emit a Docker daemon.json with registry-mirrors");
  CLI::Option* docker_mirror_opt =
      docker->add_option("--mirror", d.mirror, "dfdaemon registry mirror URL")
          ->capture_default_str();
  docker->add_option("-o,--output", d.output,
                     "Merge into this daemon.json (other keys are kept; default: stdout)");

  std::string restore_dir = df::dfinit::kDefaultCertsDir;
  CLI::App* restore = app.add_subcommand(
      "restore", "Undo dfinit in a directory: put backups back, remove created files");
  restore
      ->add_option("--certs-dir,--dir", restore_dir,
                   "Directory holding .dfinit-state.json (certs dir, or the -o file's directory)")
      ->capture_default_str();

  df::cli::OptionalConfigFile<df::cli::DfinitConfig> config_file(
      app, "dfinit", df::cli::kDfinitConfigPath, df::cli::DefaultDfinitConfigYaml(),
      df::cli::LoadDfinitConfig, "dfinit config: the mirror and the registries");
  df::cli::Setup(
      app, "dfinit",
      "  dfinit containerd --registry docker.io --registry harbor.example.com   # then restart "
      "containerd\n"
      "  dfinit containerd --dry-run --registry docker.io\n"
      "  dfinit crio --registry docker.io -o /etc/containers/registries.conf.d/dragonfly.conf\n"
      "  dfinit docker -o /etc/docker/daemon.json\n"
      "  dfinit restore --certs-dir /etc/containerd/certs.d\n");
  if (auto code = df::cli::Parse(app, argc, argv)) {
    return *code;
  }
  if (auto code = config_file.Load()) {  // it fills what the flags leave out
    return *code;
  }
  const df::cli::DfinitConfig* config = &config_file.value();
  auto fill = [](CLI::Option* flag, auto& field, const auto& value) {
    if (flag->count() == 0) {
      field = value;
    }
  };
  fill(certs_dir_opt, c.certs_dir, config->containerd.certs_dir);
  fill(ctd_mirror_opt, c.mirror, config->mirror);
  fill(ctd_registry_opt, c.registries, config->containerd.registries);
  fill(ca_opt, c.cas, config->containerd.cas);
  fill(skip_opt, c.skip_verify, config->containerd.skip_verify);
  fill(no_default_opt, c.no_default, config->containerd.no_default);
  fill(crio_mirror_opt, r.mirror, config->mirror);
  fill(crio_registry_opt, r.registries, config->crio_registries);
  fill(docker_mirror_opt, d.mirror, config->mirror);
  if (*crio && r.registries.empty()) {
    std::cerr << "dfinit: crio needs --registry (or crio.registries in " << config_file.path()
              << ")\n";
    return df::cli::kExitUsage;
  }

  if (*containerd) {
    auto out = df::dfinit::ConfigureContainerd(c);
    if (!out.ok()) {
      return Fail(out.status());
    }
    std::cout << out->text;
    Print(*out, c.dry_run);
    return 0;
  }
  if (*crio || *docker) {
    auto out = *crio ? df::dfinit::ConfigureCrio(r) : df::dfinit::ConfigureDocker(d);
    if (!out.ok()) {
      return Fail(out.status());
    }
    if (out->changes.empty()) {
      std::cout << out->text;
    }
    Print(*out);
    return 0;
  }
  auto changes = df::dfinit::Restore(restore_dir);
  if (!changes.ok()) {
    return Fail(changes.status());
  }
  if (changes->empty()) {
    std::cout << "nothing to restore in " << restore_dir << "\n";
  }
  for (const auto& ch : *changes) {
    std::cout << ch.ToString() << "\n";
    if (ch.action == "kept") {
      std::cerr << "dfinit: warning: the backup of " << ch.path
                << " is missing; the file was left as it is\n";
    }
  }
  return 0;
}
