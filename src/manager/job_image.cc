#include "manager/job_image.h"

#include <map>

#include "manager/job_util.h"

namespace df::manager {

StatusOr<registry::ResolveResult> ResolveImageOf(const json& a, const ManagerConfig::Job& job) {
  registry::ResolveRequest rr;
  rr.manifest_url = Str(a, "url");
  const json headers = a.value("headers", json::object());  // (kept alive for the loop)
  for (const auto& [k, v] : headers.items()) {
    rr.headers.emplace_back(k, v.get<std::string>());
  }
  rr.username = Str(a, "username");
  rr.password = Str(a, "password");
  rr.platform = Str(a, "platform");
  rr.tls.ca_file = job.registry_ca_cert;
  rr.tls.insecure = job.registry_insecure;
  rr.timeout_s = static_cast<long>(job.registry_timeout.count() / 1000);
  auto image = registry::ResolveImage(rr);
  if (!image.ok()) {
    return image.status().Annotate("resolve image");
  }
  return image;
}

json ImageDistribution(
    const json& a, const registry::ResolveResult& image,
    const std::vector<std::pair<dragonfly::api::dfdaemon::DownloadRequest, Target>>& work,
    const std::vector<json>& held, const std::vector<TaskOutcome>& outcomes) {
  json layers = json::array();
  for (const auto& blob : image.blobs) {
    layers.push_back({{"url", blob.url},
                      {"digest", blob.digest},
                      {"media_type", blob.media_type},
                      {"task_id", blob.digest.substr(blob.digest.find(':') + 1)}});
  }
  std::map<std::pair<std::string, std::string>, json> hosts;  // (hostname, ip) -> host
  json errors = json::array();  // hosts that could not be asked (not: hosts without the blob)
  for (size_t i = 0; i < work.size(); ++i) {
    if (held[i].is_null()) {
      if (!outcomes[i].ok && outcomes[i].description != kAbsent) {
        errors.push_back({{"hostname", work[i].second.hostname},
                          {"ip", work[i].second.ip},
                          {"digest", work[i].first.digest()},
                          {"description", outcomes[i].description}});
      }
      continue;
    }
    const auto& [req, target] = work[i];
    json& h = hosts[{target.hostname, target.ip}];
    if (h.is_null()) {
      h = {{"hostname", target.hostname},
           {"ip", target.ip},
           {"host_type", target.host_type},
           {"scheduler_cluster_id", target.cluster_id},
           {"layers", json::array()}};
    }
    h["layers"].push_back({{"url", req.url()},
                           {"digest", req.digest()},
                           {"task_id", req.task_id()},
                           {"finished_pieces", held[i]["finished_pieces"]},
                           {"done", held[i]["done"]}});
  }
  json peers = json::array();
  for (auto& [key, h] : hosts) {
    peers.push_back(std::move(h));
  }
  return {{"image",
           {{"manifest_url", Str(a, "url")},
            {"platform", Str(a, "platform")},
            {"manifest_digest", image.manifest_digest},
            {"layers", layers}}},
          {"peers", peers},
          {"errors", errors}};
}

}  // namespace df::manager
