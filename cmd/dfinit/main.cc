// dfinit: points container runtimes (containerd, CRI-O/podman/skopeo, Docker) at the dfdaemon's
// registry mirror, and undoes it (restore).
#include <CLI/CLI.hpp>
#include <iostream>

#include "dragonfly/cli/cli.h"
#include "dragonfly/dfinit/dfinit.h"

namespace {

int Fail(const df::Status& s) {
  std::cerr << "dfinit: " << s.message() << std::endl;
  return 1;
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
  containerd->add_option("--certs-dir", c.certs_dir, "containerd config_path directory")
      ->capture_default_str();
  containerd->add_option("--mirror", c.mirror, "dfdaemon registry mirror URL")
      ->capture_default_str();
  containerd->add_option("--registry", c.registries,
                         "Registry HOST[=SERVER_URL] to pull through the mirror (repeatable; "
                         "default server https://HOST, docker.io: https://registry-1.docker.io)");
  containerd->add_option("--ca", c.cas, "HOST=PATH: CA bundle for a registry (repeatable)");
  containerd->add_option("--skip-verify", c.skip_verify,
                         "HOST: do not verify the registry's TLS certificate (repeatable)");
  containerd->add_flag("--no-default", c.no_default,
                       "Do not write _default/hosts.toml (the catch-all for other registries)");
  containerd->add_flag("--dry-run", c.dry_run, "Print the files and what would change only");

  df::dfinit::CrioOptions r;
  CLI::App* crio =
      app.add_subcommand("crio", "Emit a containers-registries.conf v2 (CRI-O, podman, skopeo)");
  crio->add_option("--mirror", r.mirror, "dfdaemon registry mirror URL")->capture_default_str();
  crio->add_option("--registry", r.registries, "Registry HOST[=SERVER_URL] (repeatable)")
      ->required();
  crio->add_option("-o,--output", r.output, "Write this file (default: stdout)");

  df::dfinit::DockerOptions d;
  CLI::App* docker =
      app.add_subcommand("docker", "Emit a Docker daemon.json with registry-mirrors");
  docker->add_option("--mirror", d.mirror, "dfdaemon registry mirror URL")->capture_default_str();
  docker->add_option("-o,--output", d.output,
                     "Merge into this daemon.json (other keys are kept; default: stdout)");

  std::string restore_dir = df::dfinit::kDefaultCertsDir;
  CLI::App* restore = app.add_subcommand(
      "restore", "Undo dfinit in a directory: put backups back, remove created files");
  restore
      ->add_option("--certs-dir,--dir", restore_dir,
                   "Directory holding .dfinit-state.json (certs dir, or the -o file's directory)")
      ->capture_default_str();

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
