// Object storage as an origin: s3://bucket/key on AWS S3 or any S3-compatible store (MinIO, Ceph
// RGW, OSS, OBS, COS, GCS interoperability), each request signed with AWS Signature V4. The
// credentials are the daemon's (config or environment); they are never logged nor part of a
// task ID (which is computed on the s3:// URL).
#pragma once

#include <memory>
#include <string>

#include "dragonfly/backend/http_backend.h"
#include "dragonfly/common/status.h"

namespace df::backend {

struct S3Options {
  std::string endpoint;           // scheme://host[:port]; empty: https://s3.<region>.amazonaws.com
  std::string region;             // empty: us-east-1
  bool force_path_style = false;  // endpoint/bucket/key (MinIO, RGW); else bucket.endpoint-host
  std::string access_key_id;      // empty: anonymous requests (public buckets)
  std::string secret_access_key;
  std::string session_token;  // temporary credentials (STS)
  bool operator==(const S3Options&) const = default;
};

// Fills what `o` leaves empty from the environment, as the AWS tools read it: AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION (or AWS_DEFAULT_REGION),
// AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL).
void FillS3OptionsFromEnvironment(S3Options* o);
// InvalidArgument naming the field: an endpoint that is not http(s)://host[:port], a secret
// without a key or the other way round.
Status ValidateS3Options(const S3Options& o);

// The HTTP(S) URL and the signed headers for a GET of `s3_url` ("s3://bucket/key[?versionId=…]")
// at `amz_date` (YYYYMMDDTHHMMSSZ). InvalidArgument for a URL without a bucket or a key.
StatusOr<SignedRequest> SignS3Get(const S3Options& o, const std::string& s3_url,
                                  const std::string& amz_date);
// The same for `bucket` (key empty: the bucket itself, e.g. a listing) and `key` (percent-
// encoded or not) with `query` (as sent).
StatusOr<SignedRequest> SignS3(const S3Options& o, const std::string& bucket,
                               const std::string& key, const std::string& query,
                               const std::string& amz_date);

// The parts of "s3://bucket[/key][?query]". InvalidArgument without a bucket.
struct S3Location {
  std::string bucket;
  std::string key;  // as written (may be empty)
  std::string query;
};
StatusOr<S3Location> ParseS3Url(const std::string& s3_url);

// s3:// URLs signed with `s3` (every request of a fetch signed anew) and fetched over `http`
// (not owned; outlives the backend). Lists with ListObjectsV2.
std::unique_ptr<HttpBackend> NewS3Backend(HttpBackend& http, S3Options s3);

}  // namespace df::backend
