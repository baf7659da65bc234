#include "dragonfly/backend/s3.h"

#include <cstdlib>
#include <ctime>
#include <string_view>
#include <vector>

#include "backend/sigv4.h"
#include "backend/url_util.h"
#include "backend/xml.h"
#include "dragonfly/common/file.h"

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

// A key as it goes into an s3:// URL: what would end the path or start an escape is escaped
// (SignS3Get decodes it again).
std::string KeyForUrl(std::string_view key) {
  std::string out;
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '%' || c == '?' || c == '#' || u <= ' ' || u == 0x7f) {
      out += sigv4::UriEncode(std::string_view(&c, 1), false);
    } else {
      out += c;
    }
  }
  return out;
}

constexpr size_t kMaxListPage = 8u << 20;  // bytes of one ListObjectsV2 answer

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

  // ListObjectsV2, page by page (continuation tokens), under the URL's key taken as a directory.
  StatusOr<std::vector<ListedObject>> List(const std::string& url, size_t max) override {
    if (url.rfind("s3://", 0) != 0) {
      return http_->List(url, max);
    }
    DF_ASSIGN_OR_RETURN(S3Location l, ParseS3Url(url));
    std::string prefix = sigv4::PercentDecode(l.key);
    if (!prefix.empty() && prefix.back() != '/') {
      prefix += '/';
    }
    std::vector<ListedObject> out;
    std::string token;
    while (true) {
      std::string query = "list-type=2&prefix=" + sigv4::UriEncode(prefix, false);
      if (!token.empty()) {
        query += "&continuation-token=" + sigv4::UriEncode(token, false);
      }
      DF_ASSIGN_OR_RETURN(S3Request req, SignS3(s3_, l.bucket, "", query, AmzDateNow()));
      FetchRequest r;
      r.url = req.url;
      r.headers.insert(req.headers.begin(), req.headers.end());
      std::string body;
      DF_RETURN_IF_ERROR(http_->Fetch(
          r, [](const ResponseInfo&) { return Status::Ok(); },
          [&](const char* data, size_t n) {
            if (body.size() + n > kMaxListPage) {
              return ResourceExhausted("a listing page of " + RedactUrl(url) + " over 8 MiB");
            }
            body.append(data, n);
            return Status::Ok();
          }));
      for (std::string_view contents : XmlElements(body, "Contents")) {
        const std::string key = XmlText(contents, "Key");
        if (key.empty() || key.back() == '/') {
          continue;  // a "folder" marker
        }
        if (key.rfind(prefix, 0) != 0 || !SafeRelativePath(key.substr(prefix.size()))) {
          return InvalidArgument("object '" + key + "' under " + RedactUrl(url) +
                                 " cannot be a file under the output directory");
        }
        if (out.size() == max) {
          return ResourceExhausted("more than " + std::to_string(max) + " objects under " +
                                   RedactUrl(url));
        }
        ListedObject o;
        o.url = "s3://" + l.bucket + "/" + KeyForUrl(key);
        o.path = key.substr(prefix.size());
        o.size = std::strtoll(XmlText(contents, "Size").c_str(), nullptr, 10);
        out.push_back(std::move(o));
      }
      token = XmlText(body, "NextContinuationToken");
      if (XmlText(body, "IsTruncated") != "true" || token.empty()) {
        return out;
      }
    }
  }

 private:
  std::unique_ptr<HttpBackend> http_;
  const S3Options s3_;
};

}  // namespace

StatusOr<S3Location> ParseS3Url(const std::string& s3_url) {
  if (s3_url.rfind("s3://", 0) != 0) {
    return InvalidArgument("not an s3:// URL: " + RedactUrl(s3_url));
  }
  const std::string rest = s3_url.substr(5);
  const size_t query_at = rest.find('?');
  const std::string path = rest.substr(0, query_at);
  const size_t slash = path.find('/');
  S3Location l;
  l.bucket = path.substr(0, slash);
  l.key = slash == std::string::npos ? "" : path.substr(slash + 1);
  l.query = query_at == std::string::npos ? "" : rest.substr(query_at + 1);
  if (l.bucket.empty()) {
    return InvalidArgument("s3 URL " + RedactUrl(s3_url) + ": want s3://bucket/key");
  }
  return l;
}

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
  DF_ASSIGN_OR_RETURN(S3Location l, ParseS3Url(s3_url));
  if (l.key.empty()) {
    return InvalidArgument("s3 URL " + RedactUrl(s3_url) + ": want s3://bucket/key");
  }
  return SignS3(o, l.bucket, l.key, l.query, amz_date);
}

StatusOr<S3Request> SignS3(const S3Options& o, const std::string& bucket, const std::string& key,
                           const std::string& query, const std::string& amz_date) {
  const std::string region = o.region.empty() ? "us-east-1" : o.region;
  DF_ASSIGN_OR_RETURN(
      Endpoint e,
      ParseEndpoint(o.endpoint.empty() ? "https://s3." + region + ".amazonaws.com" : o.endpoint));
  sigv4::Request req;
  req.method = "GET";
  std::string host = e.host;
  const std::string encoded_key = sigv4::UriEncode(sigv4::PercentDecode(key), true);
  if (o.force_path_style) {
    // The bucket itself (a listing) is "/bucket", an object "/bucket/key".
    req.path = "/" + sigv4::UriEncode(bucket, false) + (key.empty() ? "" : "/" + encoded_key);
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
