#include "dragonfly/backend/azure.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "backend/listing.h"
#include "backend/sigv4.h"
#include "backend/url_util.h"
#include "backend/xml.h"
#include "dragonfly/common/strings.h"

namespace df::backend {
namespace {

// The Blob service version we speak (Shared Key string-to-sign of 2015-02-21 and later).
constexpr char kApiVersion[] = "2021-08-06";
constexpr size_t kMaxListPage = 8u << 20;  // bytes of one List Blobs answer

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

std::string HttpDateNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// Strict: a multiple of 4 characters of the base64 alphabet, padding only at the end.
std::optional<std::string> Unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > 1024) {
    return std::nullopt;
  }
  size_t pad = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '=') {
      if (i + 2 < text.size()) {
        return std::nullopt;
      }
      ++pad;
    } else if (pad > 0 || !(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/')) {
      return std::nullopt;
    }
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) {
    return std::nullopt;
  }
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

bool ValidAzureAccount(std::string_view name) {
  return name.size() >= 3 && name.size() <= 24 &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") == std::string_view::npos;
}

// "…\nname:value" for each query parameter, names lower-cased and sorted, values decoded (several
// values of one name sorted and joined with commas), as the Shared Key's canonicalized resource
// ends.
std::string CanonicalQuery(const std::string& query) {
  std::map<std::string, std::vector<std::string>> params;
  for (const std::string& kv : Split(query, '&')) {
    if (kv.empty()) {
      continue;
    }
    const size_t eq = kv.find('=');
    std::string name = sigv4::PercentDecode(kv.substr(0, eq));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    params[name].push_back(eq == std::string::npos ? "" : sigv4::PercentDecode(kv.substr(eq + 1)));
  }
  std::string out;
  for (auto& [name, values] : params) {
    std::sort(values.begin(), values.end());
    out += "\n" + name + ":";
    for (size_t i = 0; i < values.size(); ++i) {
      out += (i == 0 ? "" : ",") + values[i];
    }
  }
  return out;
}

class AzureBackend : public HttpBackend {
 public:
  AzureBackend(HttpBackend& http, AzureOptions o) : http_(http), o_(std::move(o)) {}

  Status Fetch(const FetchRequest& request,
               const std::function<Status(const ResponseInfo&)>& on_response,
               const std::function<Status(const char* data, size_t n)>& on_data) override {
    DF_ASSIGN_OR_RETURN(AzureLocation l, ParseAbsUrl(request.url));
    if (l.blob.empty()) {
      return InvalidArgument("abs URL " + RedactUrl(request.url) +
                             ": want abs://container/blob (a container downloads with -r)");
    }
    DF_ASSIGN_OR_RETURN(AzureOptions o, OptionsFor(request));
    DF_ASSIGN_OR_RETURN(SignedRequest first,
                        SignAzure(o, l.container, l.blob, l.query, "", HttpDateNow()));
    FetchRequest r = request;
    r.url = first.url;
    // Signed for every request of the fetch: the signature covers its time and its Range.
    r.sign = [o, l](const std::string& range) -> StatusOr<std::map<std::string, std::string>> {
      DF_ASSIGN_OR_RETURN(SignedRequest again,
                          SignAzure(o, l.container, l.blob, l.query, range, HttpDateNow()));
      return std::move(again.headers);
    };
    return http_.Fetch(r, on_response, on_data);
  }

  // List Blobs, page by page (markers), under the URL's blob name taken as a directory.
  StatusOr<std::vector<ListedObject>> List(const FetchRequest& where, size_t max) override {
    const std::string& url = where.url;
    DF_ASSIGN_OR_RETURN(AzureOptions o, OptionsFor(where));
    DF_ASSIGN_OR_RETURN(AzureLocation l, ParseAbsUrl(url));
    const std::string prefix = DirectoryPrefix(l.blob);
    std::vector<ListedObject> out;
    std::string marker;
    while (true) {
      std::string query = "restype=container&comp=list";
      if (!prefix.empty()) {
        query += "&prefix=" + sigv4::UriEncode(prefix, false);
      }
      if (!marker.empty()) {
        query += "&marker=" + sigv4::UriEncode(marker, false);
      }
      DF_ASSIGN_OR_RETURN(SignedRequest req,
                          SignAzure(o, l.container, "", query, "", HttpDateNow()));
      FetchRequest r;
      r.url = req.url;
      r.headers = std::move(req.headers);
      DF_ASSIGN_OR_RETURN(std::string body, FetchSmallBody(http_, r, kMaxListPage,
                                                           "a listing page of " + RedactUrl(url)));
      for (std::string_view blob : XmlElements(body, "Blob")) {
        DF_RETURN_IF_ERROR(AddListed(
            &out, XmlText(blob, "Name"), prefix, "abs://" + l.container + "/",
            std::strtoll(XmlText(blob, "Content-Length").c_str(), nullptr, 10), max, url));
      }
      marker = XmlText(body, "NextMarker");
      if (marker.empty()) {
        return out;
      }
    }
  }

 private:
  // The daemon's settings, with the download's own credentials (dfget --storage-*: the account
  // name and key, or a SAS) if it has any.
  StatusOr<AzureOptions> OptionsFor(const FetchRequest& request) const {
    AzureOptions o = o_;
    if (const auto& c = request.storage) {
      // The account names the store (its host, or its path on an emulator), and the task ID
      // names only container and blob: a download may bring its own key or SAS for the
      // daemon's account, never another account.
      if (!c->access_key_id.empty() && c->access_key_id != o.account_name) {
        return PermissionDenied(
            "a download's azure account must be the daemon's (" +
            (o.account_name.empty() ? std::string("none configured") : o.account_name) +
            "): the account names the store");
      }
      o.account_key = c->access_key_secret;
      o.sas_token = c->session_token;
      if (!o.sas_token.empty() && o.sas_token.front() == '?') {
        o.sas_token.erase(0, 1);
      }
      DF_RETURN_IF_ERROR(ValidateAzureOptions(o).Annotate("the download's azure credentials"));
    }
    return o;
  }

  HttpBackend& http_;
  const AzureOptions o_;
};

}  // namespace

void FillAzureOptionsFromEnvironment(AzureOptions* o) {
  // A connection string first ("Key=Value;…"), as the SDKs read it; then the single variables.
  std::map<std::string, std::string> cs;
  for (const std::string& part : Split(Env("AZURE_STORAGE_CONNECTION_STRING"), ';')) {
    const size_t eq = part.find('=');
    if (eq != std::string::npos) {
      cs[part.substr(0, eq)] = part.substr(eq + 1);
    }
  }
  auto fill = [](std::string* field, const std::string& value) {
    if (field->empty()) {
      *field = value;
    }
  };
  fill(&o->account_name, cs["AccountName"]);
  fill(&o->account_name, Env("AZURE_STORAGE_ACCOUNT"));
  if (o->account_key.empty() && o->sas_token.empty()) {
    fill(&o->account_key, cs["AccountKey"]);
    fill(&o->sas_token, cs["SharedAccessSignature"]);
    fill(&o->account_key, Env("AZURE_STORAGE_KEY"));
    if (o->account_key.empty()) {
      fill(&o->sas_token, Env("AZURE_STORAGE_SAS_TOKEN"));
    }
  }
  fill(&o->endpoint, cs["BlobEndpoint"]);
  if (o->endpoint.empty() && !cs["EndpointSuffix"].empty() && !o->account_name.empty()) {
    const std::string scheme =
        cs["DefaultEndpointsProtocol"].empty() ? "https" : cs["DefaultEndpointsProtocol"];
    o->endpoint = scheme + "://" + o->account_name + ".blob." + cs["EndpointSuffix"];
  }
  if (!o->sas_token.empty() && o->sas_token.front() == '?') {
    o->sas_token.erase(0, 1);
  }
}

Status ValidateAzureOptions(const AzureOptions& o) {
  if (!o.endpoint.empty()) {
    DF_RETURN_IF_ERROR(ParseEndpoint(o.endpoint, "azure endpoint", true).status());
  }
  if (!o.account_name.empty() && !ValidAzureAccount(o.account_name)) {
    return InvalidArgument("azure accountName '" + o.account_name +
                           "': want 3 to 24 lower-case letters and digits");
  }
  if (!o.account_key.empty() && o.account_name.empty()) {
    return InvalidArgument("azure credentials: an accountKey needs its accountName");
  }
  if (!o.account_key.empty() && !Unbase64(o.account_key)) {
    return InvalidArgument("azure accountKey: not base64 (the key as the portal shows it)");
  }
  if (o.sas_token.find_first_of(std::string_view("#\r\n \0", 5)) != std::string::npos) {
    return InvalidArgument("azure sasToken: want the query string \"sv=…&sig=…\"");
  }
  return Status::Ok();
}

StatusOr<AzureLocation> ParseAbsUrl(const std::string& url) {
  if (url.rfind("abs://", 0) != 0) {
    return InvalidArgument("not an abs:// URL: " + RedactUrl(url));
  }
  const std::string rest = url.substr(6);
  const size_t query_at = rest.find('?');
  const std::string path = rest.substr(0, query_at);
  const size_t slash = path.find('/');
  AzureLocation l;
  l.container = path.substr(0, slash);
  l.blob = slash == std::string::npos ? "" : path.substr(slash + 1);
  l.query = query_at == std::string::npos ? "" : rest.substr(query_at + 1);
  // Container names: 3-63 of [a-z0-9-] ("$root" and "$web" are the special ones).
  const bool special = l.container == "$root" || l.container == "$web";
  if (!special && (l.container.size() < 3 || l.container.size() > 63 ||
                   l.container.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") !=
                       std::string::npos)) {
    return InvalidArgument("abs URL " + RedactUrl(url) +
                           ": want abs://container/blob (container: 3 to 63 of a-z, 0-9, -)");
  }
  return l;
}

StatusOr<SignedRequest> SignAzure(const AzureOptions& o, const std::string& container,
                                  const std::string& blob, const std::string& query,
                                  const std::string& range, const std::string& date) {
  if (o.endpoint.empty() && o.account_name.empty()) {
    return InvalidArgument(
        "abs:// needs backSource.azure.accountName or an endpoint (docs/backends.md)");
  }
  DF_ASSIGN_OR_RETURN(Endpoint e, ParseEndpoint(o.endpoint.empty() ? "https://" + o.account_name +
                                                                         ".blob.core.windows.net"
                                                                   : o.endpoint,
                                                "azure endpoint", true));
  std::string path = e.path + "/" + container;
  if (!blob.empty()) {
    path += "/" + sigv4::UriEncode(sigv4::PercentDecode(blob), true);
  }
  std::string sent_query = query;
  if (o.account_key.empty() && !o.sas_token.empty()) {
    sent_query += (sent_query.empty() ? "" : "&") + o.sas_token;
  }
  SignedRequest out;
  out.url = e.scheme + "://" + e.host + path + (sent_query.empty() ? "" : "?" + sent_query);
  out.headers["x-ms-version"] = kApiVersion;
  if (o.account_key.empty()) {
    return out;  // a SAS in the query, or anonymous: a public container
  }
  out.headers["x-ms-date"] = date;
  // VERB, Content-Encoding, -Language, -Length, -MD5, -Type, Date, If-Modified-Since, If-Match,
  // If-None-Match, If-Unmodified-Since, Range; then the x-ms-* headers and the resource.
  std::string to_sign = "GET\n\n\n\n\n\n\n\n\n\n\n" + range + "\n";
  to_sign += "x-ms-date:" + date + "\nx-ms-version:" + kApiVersion + "\n";
  to_sign += "/" + o.account_name + path + CanonicalQuery(query);
  const std::string key = *Unbase64(o.account_key);  // checked by ValidateAzureOptions
  out.headers["Authorization"] =
      "SharedKey " + o.account_name + ":" + Base64(sigv4::Hmac(key, to_sign));
  return out;
}

std::unique_ptr<HttpBackend> NewAzureBackend(HttpBackend& http, AzureOptions o) {
  return std::make_unique<AzureBackend>(http, std::move(o));
}

}  // namespace df::backend
