// rogue_peer: plays a host that lies to the cluster, for test/e2e/test_trust.py. It speaks the
// scheduler's and a seed peer's gRPC directly, as any process that can reach those ports can:
//   rogue_peer register SCHEDULER TASK_ID URL [PEER_ID...]
//       announce a host, register a peer of TASK_ID (each PEER_ID, default one) naming URL as
//       its source; prints "accepted <action> <peer_id> <piece token, hex>" per peer
//   rogue_peer trigger SEED_RPC TASK_ID URL     ask a seed peer to fetch URL as TASK_ID
//   rogue_peer announce SCHEDULER HOSTNAME [seed]   announce 127.0.0.1-HOSTNAME[-seed]
//   rogue_peer leave SCHEDULER HOST_ID          make a host leave
//   rogue_peer keepalive MANAGER scheduler|seed HOSTNAME   register with the manager as one
//   rogue_peer schedulers MANAGER HOSTNAME      ask the manager for schedulers as HOSTNAME
//   rogue_peer join MANAGER TOKEN ROLE NAME     ask the manager's CA for a certificate (with a
//       new key); prints "accepted <identity of the certificate>"
//   rogue_peer renew MANAGER                    ask the manager's CA to renew the caller's
//   rogue_peer stat-task SCHEDULER TASK_ID      what the scheduler knows of the task: prints
//       "accepted known=0|1 pieces=N" then one line per peer: "peer <id> <hostname> <phase>
//       <finished>/<total> [seed] [back-to-source]"
//   rogue_peer inspect-task SCHEDULER TASK_ID   the live swarm view of the task (the manager's):
//       prints "accepted known=0|1 peers=N"
//   rogue_peer list-tasks SCHEDULER             the recently active tasks: "accepted tasks=N"
// Before the command, `--tls DIR` speaks TLS with DIR/ca.crt, DIR/tls.crt and DIR/tls.key (a
// certificate the attacker holds), `--ca FILE` TLS without a client certificate (checking the
// server against FILE, as a joining host does); without, plaintext.
// Prints "accepted <detail>" or "refused <grpc code name>: <message>" and exits 0 either way;
// when the server cannot be reached or the TLS handshake fails, prints "unreachable: <message>"
// and exits 3; a usage error exits 2.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <string>
#include <vector>

#include "api/dfdaemon.grpc.pb.h"
#include "api/manager.grpc.pb.h"
#include "api/scheduler.grpc.pb.h"
#include "dragonfly/common/task_id.h"
#include "dragonfly/rpc/status.h"
#include "dragonfly/rpc/tls.h"
#include "dragonfly/security/identity.h"

namespace {

namespace sched = ::dragonfly::api::scheduler;
namespace dfd = ::dragonfly::api::dfdaemon;

int Report(const grpc::Status& s, const std::string& detail) {
  if (s.ok()) {
    std::printf("accepted %s\n", detail.c_str());
    return 0;
  }
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::printf("unreachable: %s\n", s.error_message().c_str());
    return 3;
  }
  df::Status st = df::rpc::FromGrpc(s);
  std::printf("refused %s\n", st.ToString().c_str());
  return 0;
}

std::shared_ptr<const df::rpc::Credentials> g_creds = df::rpc::Credentials::Insecure();
std::string g_ca_only;  // --ca FILE

std::shared_ptr<grpc::Channel> Dial(const std::string& addr) {
  // The attacker takes any server: it checks nothing about who answers.
  std::vector<df::security::Role> any = {df::security::Role::kScheduler,
                                         df::security::Role::kSeedPeer, df::security::Role::kDaemon,
                                         df::security::Role::kManager};
  if (!g_ca_only.empty()) {
    return df::rpc::DialWithoutCertificate(addr, g_ca_only, any);
  }
  return g_creds->Dial(addr, any);
}

grpc::Status Announce(sched::Scheduler::Stub* stub, const std::string& hostname, bool seed) {
  sched::AnnounceHostRequest announce;
  sched::Host* h = announce.mutable_host();
  h->set_id(df::MakeHostId("127.0.0.1", hostname, seed));
  h->set_hostname(hostname);
  h->set_ip("127.0.0.1");
  h->set_piece_port(9);
  h->set_rpc_port(9);
  h->set_type(seed ? sched::HOST_TYPE_SEED : sched::HOST_TYPE_NORMAL);
  sched::AnnounceHostResponse announced;
  grpc::ClientContext c;
  c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return stub->AnnounceHost(&c, announce, &announced);
}

int AnnounceCmd(const std::string& addr, const std::string& hostname, bool seed) {
  auto stub = sched::Scheduler::NewStub(Dial(addr));
  return Report(Announce(stub.get(), hostname, seed), df::MakeHostId("127.0.0.1", hostname, seed));
}

int KeepAlive(const std::string& addr, const std::string& kind, const std::string& hostname) {
  namespace mgr = ::dragonfly::api::manager;
  auto stub = mgr::Manager::NewStub(Dial(addr));
  grpc::ClientContext c;
  c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = stub->KeepAlive(&c);
  mgr::KeepAliveRequest req;
  req.set_source_type(kind == "scheduler" ? mgr::SOURCE_TYPE_SCHEDULER
                                          : mgr::SOURCE_TYPE_SEED_PEER);
  req.set_hostname(hostname);
  req.set_ip("127.0.0.1");
  req.set_port(9);
  mgr::KeepAliveResponse resp;
  if (stream->Write(req) && stream->Read(&resp)) {
    c.TryCancel();
    return Report(grpc::Status::OK, "id " + std::to_string(resp.id()));
  }
  stream->WritesDone();
  return Report(stream->Finish(), "");
}

int Schedulers(const std::string& addr, const std::string& hostname) {
  namespace mgr = ::dragonfly::api::manager;
  auto stub = mgr::Manager::NewStub(Dial(addr));
  mgr::ListSchedulersRequest req;
  req.set_hostname(hostname);
  req.set_ip("127.0.0.1");
  mgr::ListSchedulersResponse resp;
  grpc::ClientContext c;
  c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status s = stub->ListSchedulers(&c, req, &resp);
  return Report(s, std::to_string(resp.schedulers_size()) + " schedulers");
}

// Join (token non-empty) or renew; reports the identity of the certificate got.
int Certificate(const std::string& addr, const std::string& token, const std::string& role,
                const std::string& name) {
  namespace mgr = ::dragonfly::api::manager;
  auto key = df::security::MakePrivateKey();
  auto pub = key.ok() ? df::security::PublicKeyOf(*key) : key;
  if (!pub.ok()) {
    std::fprintf(stderr, "rogue_peer: %s\n", pub.status().ToString().c_str());
    return 2;
  }
  auto stub = mgr::ClusterCa::NewStub(Dial(addr));
  grpc::ClientContext c;
  c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  mgr::CertificateResponse resp;
  grpc::Status s;
  if (!token.empty()) {
    mgr::JoinRequest req;
    req.set_token(token);
    req.set_role(role);
    req.set_name(name);
    req.set_public_key(*pub);
    s = stub->Join(&c, req, &resp);
  } else {
    mgr::RenewRequest req;
    req.set_public_key(*pub);
    s = stub->Renew(&c, req, &resp);
  }
  auto info = df::security::InspectCertificate(resp.certificate());
  return Report(s, info.ok() ? info->identity.SpiffeId() : "?");
}

int Leave(const std::string& addr, const std::string& host_id) {
  auto stub = sched::Scheduler::NewStub(Dial(addr));
  sched::LeaveHostRequest req;
  req.set_host_id(host_id);
  sched::LeaveHostResponse resp;
  grpc::ClientContext c;
  c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return Report(stub->LeaveHost(&c, req, &resp), "");
}

sched::TaskSpec Spec(const std::string& task_id, const std::string& url) {
  sched::TaskSpec spec;
  spec.set_task_id(task_id);
  spec.set_url(url);
  return spec;
}

std::string Hex(const std::string& bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

int Register(const std::string& addr, const std::string& task_id, const std::string& url,
             std::vector<std::string> peers) {
  auto stub = sched::Scheduler::NewStub(Dial(addr));
  if (grpc::Status s = Announce(stub.get(), "rogue", false); !s.ok()) {
    return Report(s, "");
  }
  if (peers.empty()) {
    peers.push_back("127.0.0.1-rogue-peer");
  }
  for (const std::string& peer : peers) {
    sched::RegisterPeerRequest req;
    req.set_host_id(df::MakeHostId("127.0.0.1", "rogue", false));
    req.set_peer_id(peer);
    *req.mutable_task() = Spec(task_id, url);
    sched::RegisterPeerResponse resp;
    grpc::ClientContext c2;
    c2.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status rs = stub->RegisterPeer(&c2, req, &resp);
    if (int rc = Report(
            rs, sched::Action_Name(resp.action()) + " " + peer + " " + Hex(resp.piece_token()));
        rc != 0 || !rs.ok()) {
      return rc;
    }
  }
  return 0;
}

int Trigger(const std::string& addr, const std::string& task_id, const std::string& url) {
  auto stub = dfd::DfdaemonUpload::NewStub(Dial(addr));
  dfd::TriggerSeedRequest req;
  *req.mutable_task() = Spec(task_id, url);
  req.set_peer_id("127.0.0.1-rogue-seed-peer");
  dfd::TriggerSeedResponse resp;
  grpc::ClientContext c;
  c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return Report(stub->TriggerSeed(&c, req, &resp), "");
}

int StatTask(const std::string& addr, const std::string& task_id) {
  auto stub = sched::Scheduler::NewStub(Dial(addr));
  sched::StatTaskRequest req;
  req.set_task_id(task_id);
  req.set_with_peers(true);
  sched::StatTaskResponse resp;
  grpc::ClientContext c;
  c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status s = stub->StatTask(&c, req, &resp);
  int rc = Report(s, "known=" + std::to_string(resp.known() ? 1 : 0) +
                         " pieces=" + std::to_string(resp.total_pieces()));
  for (const sched::TaskPeer& p : resp.peers()) {
    std::printf("peer %s %s %s %u/%u%s%s\n", p.peer_id().c_str(), p.hostname().c_str(),
                p.phase().c_str(), p.finished_pieces(), p.total_pieces(), p.seed() ? " seed" : "",
                p.back_to_source() ? " back-to-source" : "");
  }
  return rc;
}

int InspectTask(const std::string& addr, const std::string& task_id) {
  auto stub = sched::Scheduler::NewStub(Dial(addr));
  sched::InspectTaskRequest req;
  req.set_task_id(task_id);
  sched::InspectTaskResponse resp;
  grpc::ClientContext c;
  c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status s = stub->InspectTask(&c, req, &resp);
  return Report(s, "known=" + std::to_string(resp.known() ? 1 : 0) +
                       " peers=" + std::to_string(resp.peers_size()));
}

int ListTasks(const std::string& addr) {
  auto stub = sched::Scheduler::NewStub(Dial(addr));
  sched::ListTasksResponse resp;
  grpc::ClientContext c;
  c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status s = stub->ListTasks(&c, sched::ListTasksRequest(), &resp);
  return Report(s, "tasks=" + std::to_string(resp.tasks_size()));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() >= 2 && args[0] == "--tls") {
    df::rpc::TlsSettings tls;
    tls.ca_cert = args[1] + "/ca.crt";
    tls.cert = args[1] + "/tls.crt";
    tls.key = args[1] + "/tls.key";
    auto creds = df::rpc::Credentials::Make(tls, "rogue_peer");
    if (!creds.ok()) {
      std::fprintf(stderr, "rogue_peer: %s\n", creds.status().ToString().c_str());
      return 2;
    }
    g_creds = *creds;
    args.erase(args.begin(), args.begin() + 2);
  } else if (args.size() >= 2 && args[0] == "--ca") {
    g_ca_only = args[1];
    args.erase(args.begin(), args.begin() + 2);
  }
  const std::string cmd = args.empty() ? "" : args[0];
  if (cmd == "register" && args.size() >= 4) {
    return Register(args[1], args[2], args[3],
                    std::vector<std::string>(args.begin() + 4, args.end()));
  }
  if (cmd == "trigger" && args.size() == 4) {
    return Trigger(args[1], args[2], args[3]);
  }
  if (cmd == "announce" && (args.size() == 3 || (args.size() == 4 && args[3] == "seed"))) {
    return AnnounceCmd(args[1], args[2], args.size() == 4);
  }
  if (cmd == "keepalive" && args.size() == 4) {
    return KeepAlive(args[1], args[2], args[3]);
  }
  if (cmd == "schedulers" && args.size() == 3) {
    return Schedulers(args[1], args[2]);
  }
  if (cmd == "join" && args.size() == 5) {
    return Certificate(args[1], args[2], args[3], args[4]);
  }
  if (cmd == "renew" && args.size() == 2) {
    return Certificate(args[1], "", "", "");
  }
  if (cmd == "stat-task" && args.size() == 3) {
    return StatTask(args[1], args[2]);
  }
  if (cmd == "inspect-task" && args.size() == 3) {
    return InspectTask(args[1], args[2]);
  }
  if (cmd == "list-tasks" && args.size() == 2) {
    return ListTasks(args[1]);
  }
  if (cmd == "leave" && args.size() == 3) {
    return Leave(args[1], args[2]);
  }
  std::fprintf(stderr,
               "usage: rogue_peer [--tls DIR | --ca FILE] COMMAND ADDR ... (see the "
               "source)\n");
  return 2;
}
