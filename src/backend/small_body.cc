#include "backend/small_body.h"

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

}  // namespace df::backend
