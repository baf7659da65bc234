#include "backend/listing.h"

#include "backend/sigv4.h"
#include "backend/url_util.h"
#include "dragonfly/common/file.h"

namespace df::backend {

StatusOr<std::string> FetchSmallBody(HttpBackend& http, const FetchRequest& request, size_t limit,
                                     const std::string& what, ResponseInfo* info) {
  std::string body;
  DF_RETURN_IF_ERROR(http.Fetch(
      request,
      [info](const ResponseInfo& r) {
        if (info != nullptr) {
          *info = r;
        }
        return Status::Ok();
      },
      [&](const char* data, size_t n) {
        if (body.size() + n > limit) {
          return ResourceExhausted(what + " is over " + std::to_string(limit >> 10) + " KiB");
        }
        body.append(data, n);
        return Status::Ok();
      }));
  return body;
}

std::string DirectoryPrefix(std::string_view written) {
  std::string prefix = sigv4::PercentDecode(written);
  if (!prefix.empty() && prefix.back() != '/') {
    prefix += '/';
  }
  return prefix;
}

std::string NameForUrl(std::string_view name) {
  std::string out;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '%' || c == '?' || c == '#' || u <= ' ' || u == 0x7f) {
      out += sigv4::UriEncode(std::string_view(&c, 1), false);
    } else {
      out += c;
    }
  }
  return out;
}

Status AddListed(std::vector<ListedObject>* out, const std::string& name, const std::string& prefix,
                 const std::string& url_base, int64_t size, size_t max, const std::string& listed) {
  if (name.empty() || name.back() == '/') {
    return Status::Ok();  // a "folder" marker
  }
  if (name.rfind(prefix, 0) != 0 || !SafeRelativePath(name.substr(prefix.size()))) {
    return InvalidArgument("object '" + name + "' under " + RedactUrl(listed) +
                           " cannot be a file under the output directory");
  }
  if (out->size() == max) {
    return ResourceExhausted("more than " + std::to_string(max) + " objects under " +
                             RedactUrl(listed));
  }
  out->push_back({url_base + NameForUrl(name), name.substr(prefix.size()), size});
  return Status::Ok();
}

}  // namespace df::backend
