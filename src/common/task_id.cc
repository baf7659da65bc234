#include "dragonfly/common/task_id.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <regex>

#include "dragonfly/common/digest.h"

namespace df {

const std::vector<std::string>& DefaultFilteredQueryParams() {
  static const std::vector<std::string> kParams = {
      // S3
      "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
      "X-Amz-Signature", "X-Amz-Security-Token", "X-Amz-User-Agent",
      // GCS
      "X-Goog-Algorithm", "X-Goog-Credential", "X-Goog-Date", "X-Goog-Expires",
      "X-Goog-SignedHeaders", "X-Goog-Signature",
      // OSS
      "OSSAccessKeyId", "Expires", "Signature", "SecurityToken",
      // OBS
      "AccessKeyId", "X-Obs-Date", "X-Obs-Security-Token",
      // COS
      "q-sign-algorithm", "q-ak", "q-sign-time", "q-key-time", "q-header-list", "q-url-param-list",
      "q-signature", "x-cos-security-token",
      // containerd
      "ns"};
  return kParams;
}

namespace {

// The query parameters of an Azure SAS (service, account and user delegation).
bool IsAzureSasParam(const std::string& key) {
  static const char* const kSas[] = {"sv",    "ss",   "srt",  "sp",    "se",    "st",   "spr",
                                     "sig",   "sr",   "si",   "sip",   "ses",   "sdd",  "skoid",
                                     "sktid", "skt",  "ske",  "sks",   "skv",   "rscc", "rscd",
                                     "rsce",  "rscl", "rsct", "saoid", "suoid", "scid"};
  return std::any_of(std::begin(kSas), std::end(kSas), [&](const char* p) { return key == p; });
}

}  // namespace

StatusOr<std::string> FilterUrl(const std::string& url, const std::vector<std::string>& filtered) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos || scheme_end == 0 || scheme_end + 3 >= url.size()) {
    return InvalidArgument("malformed URL '" + url + "': want scheme://host/path");
  }
  for (size_t i = 0; i < scheme_end; ++i) {
    char c = url[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.')) {
      return InvalidArgument("malformed URL '" + url + "': bad scheme");
    }
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return InvalidArgument("malformed URL: contains whitespace or control characters");
    }
  }
  std::string base = url;
  std::string fragment;
  if (auto hash = base.find('#'); hash != std::string::npos) {
    fragment = base.substr(hash);
    base.resize(hash);
  }
  std::string query;
  if (auto q = base.find('?'); q != std::string::npos) {
    query = base.substr(q + 1);
    base.resize(q);
  }
  size_t authority = scheme_end + 3;
  if (base.find('/', authority) == authority || authority >= base.size()) {
    return InvalidArgument("malformed URL '" + url + "': missing host");
  }
  // An abs:// URL's SAS is a credential, whatever the filter list says.
  const bool azure = url.compare(0, scheme_end, "abs") == 0;
  std::string kept;
  size_t pos = 0;
  while (pos <= query.size() && !query.empty()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string::npos) {
      amp = query.size();
    }
    std::string pair = query.substr(pos, amp - pos);
    std::string key = pair.substr(0, pair.find('='));
    if (!pair.empty() && std::find(filtered.begin(), filtered.end(), key) == filtered.end() &&
        !(azure && IsAzureSasParam(key))) {
      if (!kept.empty()) {
        kept += '&';
      }
      kept += pair;
    }
    pos = amp + 1;
  }
  // A root path's trailing "/" is trimmed: "http://h/" and "http://h" are one task.
  if (base.size() > authority && base.back() == '/' &&
      base.find('/', authority) == base.size() - 1) {
    base.pop_back();
  }
  if (!kept.empty()) {
    base += '?' + kept;
  }
  return base + fragment;
}

StatusOr<std::string> MakeTaskId(const TaskIdInput& in) {
  const auto& filter =
      in.filtered_query_params.empty() ? DefaultFilteredQueryParams() : in.filtered_query_params;
  DF_ASSIGN_OR_RETURN(std::string filtered, FilterUrl(in.url, filter));
  std::string material = filtered + in.tag + in.application;
  if (in.piece_length) {
    material += std::to_string(*in.piece_length);
  }
  material += "STANDARD";
  return Sha256Hex(material.data(), material.size());
}

struct PersistentCacheTaskId::State {
  Sha256Stream sha;
};

PersistentCacheTaskId::PersistentCacheTaskId() : state_(std::make_unique<State>()) {}

PersistentCacheTaskId::~PersistentCacheTaskId() = default;

void PersistentCacheTaskId::Update(const void* data, size_t n) { state_->sha.Update(data, n); }

std::string PersistentCacheTaskId::Finish(const std::string& tag, const std::string& application,
                                          std::optional<uint32_t> piece_length) {
  std::string rest = tag + application;
  if (piece_length) {
    rest += std::to_string(*piece_length);
  }
  rest += "PERSISTENT_CACHE";
  Update(rest.data(), rest.size());
  return state_->sha.HexDigest();
}

bool IsPersistentCacheUrl(const std::string& url) {
  return url.rfind(kPersistentCacheScheme, 0) == 0;
}

std::string PersistentCacheUrl(const std::string& task_id) {
  return kPersistentCacheScheme + task_id;
}

std::string BlobDigest(const std::string& url) {
  static const std::regex kBlob(R"(/v2/.+/blobs/(sha256:[0-9a-f]{64})$)");
  std::smatch m;
  std::string path = url.substr(0, url.find_first_of("?#"));
  return std::regex_search(path, m, kBlob) ? m[1].str() : std::string();
}

std::string ContentDigestOf(const std::string& task_id, const std::string& url) {
  std::string digest = BlobDigest(url);
  return !digest.empty() && digest.compare(7, std::string::npos, task_id) == 0 ? digest : "";
}

std::string MakeHostId(const std::string& ip, const std::string& hostname, bool seed) {
  return ip + "-" + hostname + (seed ? "-seed" : "");
}

std::string MakePeerId(const std::string& ip, const std::string& hostname, bool seed) {
  unsigned char b[16];
  RAND_bytes(b, sizeof(b));
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char uuid[37];
  std::snprintf(uuid, sizeof(uuid),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return ip + "-" + hostname + "-" + uuid + (seed ? "-seed" : "");
}

}  // namespace df
