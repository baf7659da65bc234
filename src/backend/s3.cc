#include "dragonfly/backend/s3.h"

#include <cstdlib>
#include <ctime>
#include <string_view>
#include <vector>

#include "backend/listing.h"
#include "backend/sigv4.h"
#include "backend/url_util.h"
#include "backend/xml.h"

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

constexpr size_t kMaxListPage = 8u << 20;  // bytes of one ListObjectsV2 answer

class S3Backend : public HttpBackend {
 public:
  S3Backend(HttpBackend& http, S3Options s3) : http_(http), s3_(std::move(s3)) {}

  Status Fetch(const FetchRequest& request,
               const std::function<Status(const ResponseInfo&)>& on_response,
               const std::function<Status(const char* data, size_t n)>& on_data) override {
    DF_ASSIGN_OR_RETURN(S3Options o, OptionsFor(request));
    DF_ASSIGN_OR_RETURN(SignedRequest signed_get, SignS3Get(o, request.url, AmzDateNow()));
    FetchRequest r = request;
    r.url = signed_get.url;
    // Signed again for every request of the fetch: a signature is good for 15 minutes.
    r.sign = [o, &s3_url = request.url](
                 const std::string&) -> StatusOr<std::map<std::string, std::string>> {
      DF_ASSIGN_OR_RETURN(SignedRequest again, SignS3Get(o, s3_url, AmzDateNow()));
      return std::move(again.headers);
    };
    return http_.Fetch(r, on_response, on_data);
  }

  // ListObjectsV2, page by page (continuation tokens), under the URL's key taken as a directory.
  StatusOr<std::vector<ListedObject>> List(const FetchRequest& where, size_t max) override {
    const std::string& url = where.url;
    DF_ASSIGN_OR_RETURN(S3Options o, OptionsFor(where));
    DF_ASSIGN_OR_RETURN(S3Location l, ParseS3Url(url));
    const std::string prefix = DirectoryPrefix(l.key);
    std::vector<ListedObject> out;
    std::string token;
    while (true) {
      std::string query = "list-type=2&prefix=" + sigv4::UriEncode(prefix, false);
      if (!token.empty()) {
        query += "&continuation-token=" + sigv4::UriEncode(token, false);
      }
      DF_ASSIGN_OR_RETURN(SignedRequest req, SignS3(o, l.bucket, "", query, AmzDateNow()));
      FetchRequest r;
      r.url = req.url;
      r.headers.insert(req.headers.begin(), req.headers.end());
      DF_ASSIGN_OR_RETURN(std::string body, FetchSmallBody(http_, r, kMaxListPage,
                                                           "a listing page of " + RedactUrl(url)));
      for (std::string_view contents : XmlElements(body, "Contents")) {
        DF_RETURN_IF_ERROR(
            AddListed(&out, XmlText(contents, "Key"), prefix, "s3://" + l.bucket + "/",
                      std::strtoll(XmlText(contents, "Size").c_str(), nullptr, 10), max, url));
      }
      token = XmlText(body, "NextContinuationToken");
      if (XmlText(body, "IsTruncated") != "true" || token.empty()) {
        return out;
      }
    }
  }

 private:
  // The daemon's settings, with the download's own credentials (dfget --storage-*) if it has any.
  StatusOr<S3Options> OptionsFor(const FetchRequest& request) const {
    S3Options o = s3_;
    if (const auto& c = request.storage) {
      if (!c->access_key_id.empty() || !c->access_key_secret.empty()) {
        o.access_key_id = c->access_key_id;
        o.secret_access_key = c->access_key_secret;
        o.session_token = c->session_token;
      }
      if (!c->region.empty()) {
        o.region = c->region;
      }
      DF_RETURN_IF_ERROR(ValidateS3Options(o).Annotate("the download's s3 credentials"));
    }
    return o;
  }

  HttpBackend& http_;
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
    DF_RETURN_IF_ERROR(ParseEndpoint(o.endpoint, "s3 endpoint", false).status());
  }
  if (o.access_key_id.empty() != o.secret_access_key.empty()) {
    return InvalidArgument(
        "s3 credentials: accessKeyID and secretAccessKey go together (one of them is empty)");
  }
  return Status::Ok();
}

StatusOr<SignedRequest> SignS3Get(const S3Options& o, const std::string& s3_url,
                                  const std::string& amz_date) {
  DF_ASSIGN_OR_RETURN(S3Location l, ParseS3Url(s3_url));
  if (l.key.empty()) {
    return InvalidArgument("s3 URL " + RedactUrl(s3_url) + ": want s3://bucket/key");
  }
  return SignS3(o, l.bucket, l.key, l.query, amz_date);
}

StatusOr<SignedRequest> SignS3(const S3Options& o, const std::string& bucket,
                               const std::string& key, const std::string& query,
                               const std::string& amz_date) {
  const std::string region = o.region.empty() ? "us-east-1" : o.region;
  DF_ASSIGN_OR_RETURN(
      Endpoint e,
      ParseEndpoint(o.endpoint.empty() ? "https://s3." + region + ".amazonaws.com" : o.endpoint,
                    "s3 endpoint", false));
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
  SignedRequest out;
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

std::unique_ptr<HttpBackend> NewS3Backend(HttpBackend& http, S3Options s3) {
  return std::make_unique<S3Backend>(http, std::move(s3));
}

}  // namespace df::backend
