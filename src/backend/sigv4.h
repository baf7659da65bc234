// AWS Signature Version 4
// (docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html), as S3 and
// S3-compatible stores (MinIO, Ceph RGW, OSS, OBS, COS, GCS interoperability) check it: the path is
// encoded once and not normalised. Internal to df_backend.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace df::backend::sigv4 {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials (STS); sent as x-amz-security-token
};

struct Request {
  std::string method = "GET";
  std::string path = "/";  // as sent: percent-encoded or not (it is decoded, then encoded once)
  std::string query;       // as sent, without '?'
  // The headers to sign, host and x-amz-date included (x-amz-content-sha256 for S3).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_hash;  // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

// Raw HMAC-SHA256 of `data` under `key` (also Azure's Shared Key).
std::string Hmac(std::string_view key, std::string_view data);

// RFC 3986 encoding of everything but the unreserved characters (A-Z a-z 0-9 - _ . ~), upper-case
// hex; '/' kept when `keep_slash`. Input is taken as raw bytes.
std::string UriEncode(std::string_view s, bool keep_slash);
// Decodes %XX sequences (a malformed one is kept as it is); '+' stays '+'.
std::string PercentDecode(std::string_view s);

std::string CanonicalRequest(const Request& r);
std::string SignedHeaders(const Request& r);
// "AWS4-HMAC-SHA256\n<amz_date>\n<date>/<region>/<service>/aws4_request\n<hex sha256(creq)>".
std::string StringToSign(std::string_view amz_date, std::string_view region,
                         std::string_view service, std::string_view canonical_request);
// Hex HMAC-SHA256 of `string_to_sign` under the key derived from the secret, date, region and
// service.
std::string Signature(std::string_view secret, std::string_view amz_date, std::string_view region,
                      std::string_view service, std::string_view string_to_sign);
// The Authorization header's value for `r` signed at `amz_date` (YYYYMMDDTHHMMSSZ).
std::string Authorization(const Credentials& c, const Request& r, std::string_view amz_date,
                          std::string_view region, std::string_view service);

}  // namespace df::backend::sigv4
