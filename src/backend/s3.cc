#include "dragonfly/backend/s3.h"

#include <cstdlib>
#include <ctime>

#include "backend/sigv4.h"
#include "backend/url_util.h"

namespace df::backend {
namespace {

constexpr char kUnsignedPayload[] = "UNSIGNED-PAYLOAD";

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

std::string AmzDateNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[20];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

struct Endpoint {
  std::string scheme;  // http or https
  std::string host;    // host[:port] as written
};

StatusOr<Endpoint> ParseEndpoint(const std::string& endpoint) {
  size_t sep = endpoint.find("://");
  if (sep == std::string::npos) {
    return InvalidArgument("s3 endpoint '" + endpoint + "': want http(s)://host[:port]");
  }
  Endpoint e{endpoint.substr(0, sep), endpoint.substr(sep + 3)};
  while (!e.host.empty() && e.host.back() == '/') {
    e.host.pop_back();
  }
  if ((e.scheme != "http" && e.scheme != "https") || e.host.empty() ||
      e.host.find_first_of("/?#@ ") != std::string::npos) {
    return InvalidArgument("s3 endpoint '" + endpoint + "': want http(s)://host[:port]");
  }
  return e;
}

class OriginBackend : public HttpBackend {
 public:
  OriginBackend(std::unique_ptr<HttpBackend> http, S3Options s3)
      : http_(std::move(http)), s3_(std::move(s3)) {}

  Status Fetch(const FetchRequest& request,
               const std::function<Status(const ResponseInfo&)>& on_response,
               const std::function<Status(const char* data, size_t n)>& on_data) override {
    if (request.url.rfind("s3://", 0) != 0) {
      return http_->Fetch(request, on_response, on_data);
    }
    DF_ASSIGN_OR_RETURN(S3Request signed_get, SignS3Get(s3_, request.url, AmzDateNow()));
    FetchRequest r = request;
    r.url = signed_get.url;
    for (auto& [k, v] : signed_get.headers) {
      r.headers[k] = std::move(v);
    }
    return http_->Fetch(r, on_response, on_data);
  }

 private:
  std::unique_ptr<HttpBackend> http_;
  const S3Options s3_;
};

}  // namespace

void FillS3OptionsFromEnvironment(S3Options* o) {
  if (o->access_key_id.empty() && o->secret_access_key.empty()) {
    o->access_key_id = Env("AWS_ACCESS_KEY_ID");
    o->secret_access_key = Env("AWS_SECRET_ACCESS_KEY");
    if (o->session_token.empty()) {
      o->session_token = Env("AWS_SESSION_TOKEN");
    }
  }
  if (o->region.empty()) {
    o->region = Env("AWS_REGION").empty() ? Env("AWS_DEFAULT_REGION") : Env("AWS_REGION");
  }
  if (o->endpoint.empty()) {
    o->endpoint =
        Env("AWS_ENDPOINT_URL_S3").empty() ? Env("AWS_ENDPOINT_URL") : Env("AWS_ENDPOINT_URL_S3");
  }
}

Status ValidateS3Options(const S3Options& o) {
  if (!o.endpoint.empty()) {
    DF_RETURN_IF_ERROR(ParseEndpoint(o.endpoint).status());
  }
  if (o.access_key_id.empty() != o.secret_access_key.empty()) {
    return InvalidArgument(
        "s3 credentials: accessKeyID and secretAccessKey go together (one of them is empty)");
  }
  return Status::Ok();
}

StatusOr<S3Request> SignS3Get(const S3Options& o, const std::string& s3_url,
                              const std::string& amz_date) {
  const std::string rest = s3_url.substr(5);  // after "s3://"
  const size_t slash = rest.find('/');
  const size_t query_at = rest.find('?');
  const std::string bucket = rest.substr(0, std::min(slash, query_at));
  if (bucket.empty() || slash == std::string::npos || slash + 1 >= rest.size() ||
      slash + 1 == query_at) {
    return InvalidArgument("s3 URL " + RedactUrl(s3_url) + ": want s3://bucket/key");
  }
  const std::string key = rest.substr(
      slash + 1, query_at == std::string::npos ? std::string::npos : query_at - slash - 1);
  const std::string query = query_at == std::string::npos ? "" : rest.substr(query_at + 1);
  const std::string region = o.region.empty() ? "us-east-1" : o.region;
  DF_ASSIGN_OR_RETURN(
      Endpoint e,
      ParseEndpoint(o.endpoint.empty() ? "https://s3." + region + ".amazonaws.com" : o.endpoint));
  sigv4::Request req;
  req.method = "GET";
  std::string host = e.host;
  const std::string encoded_key = sigv4::UriEncode(sigv4::PercentDecode(key), true);
  if (o.force_path_style) {
    req.path = "/" + sigv4::UriEncode(bucket, false) + "/" + encoded_key;
  } else {
    host = bucket + "." + e.host;
    req.path = "/" + encoded_key;
  }
  req.query = query;
  req.payload_hash = kUnsignedPayload;
  S3Request out;
  out.url = e.scheme + "://" + host + req.path + (query.empty() ? "" : "?" + query);
  if (o.access_key_id.empty()) {
    return out;  // anonymous: a public bucket
  }
  req.headers = {
      {"host", host}, {"x-amz-content-sha256", kUnsignedPayload}, {"x-amz-date", amz_date}};
  if (!o.session_token.empty()) {
    req.headers.emplace_back("x-amz-security-token", o.session_token);
  }
  sigv4::Credentials c{o.access_key_id, o.secret_access_key, o.session_token};
  for (const auto& [k, v] : req.headers) {
    if (k != "host") {
      out.headers[k] = v;
    }
  }
  out.headers["Authorization"] = sigv4::Authorization(c, req, amz_date, region, "s3");
  return out;
}

std::unique_ptr<HttpBackend> NewOriginBackend(std::unique_ptr<HttpBackend> http, S3Options s3) {
  return std::make_unique<OriginBackend>(std::move(http), std::move(s3));
}

}  // namespace df::backend
