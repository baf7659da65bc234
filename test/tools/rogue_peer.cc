// rogue_peer: plays a host that lies to the cluster, for test/e2e/test_trust.py. It speaks the
// scheduler's and a seed peer's gRPC directly, as any process that can reach those ports can:
//   rogue_peer register SCHEDULER TASK_ID URL [PEER_ID...]
//       announce a host, register a peer of TASK_ID (each PEER_ID, default one) naming URL as
//       its source; prints "accepted <action> <peer_id> <piece token, hex>" per peer
//   rogue_peer trigger SEED_RPC TASK_ID URL     ask a seed peer to fetch URL as TASK_ID
// Prints "accepted <detail>" or "refused <grpc code name>: <message>" and exits 0 either way;
// any other failure (cannot connect) exits 2.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <string>
#include <vector>

#include "api/dfdaemon.grpc.pb.h"
#include "api/scheduler.grpc.pb.h"
#include "dragonfly/rpc/status.h"

namespace {

namespace sched = ::dragonfly::api::scheduler;
namespace dfd = ::dragonfly::api::dfdaemon;

int Report(const grpc::Status& s, const std::string& detail) {
  if (s.ok()) {
    std::printf("accepted %s\n", detail.c_str());
    return 0;
  }
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::fprintf(stderr, "rogue_peer: %s\n", s.error_message().c_str());
    return 2;
  }
  df::Status st = df::rpc::FromGrpc(s);
  std::printf("refused %s\n", st.ToString().c_str());
  return 0;
}

std::shared_ptr<grpc::Channel> Dial(const std::string& addr) {
  return grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
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
  sched::AnnounceHostRequest announce;
  sched::Host* h = announce.mutable_host();
  h->set_id("127.0.0.1-rogue");
  h->set_hostname("rogue");
  h->set_ip("127.0.0.1");
  h->set_piece_port(9);
  h->set_rpc_port(9);
  sched::AnnounceHostResponse announced;
  grpc::ClientContext c1;
  c1.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status s = stub->AnnounceHost(&c1, announce, &announced);
  if (!s.ok()) {
    return Report(s, "");
  }
  if (peers.empty()) {
    peers.push_back("127.0.0.1-rogue-peer");
  }
  for (const std::string& peer : peers) {
    sched::RegisterPeerRequest req;
    req.set_host_id(h->id());
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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: rogue_peer register|trigger ADDR TASK_ID URL [PEER_ID...]\n");
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "register") {
    return Register(argv[2], argv[3], argv[4], std::vector<std::string>(argv + 5, argv + argc));
  }
  if (cmd == "trigger") {
    return Trigger(argv[2], argv[3], argv[4]);
  }
  std::fprintf(stderr, "rogue_peer: unknown command %s\n", cmd.c_str());
  return 2;
}
