// Test helper: an HTTP backend that answers from canned bodies, in order, and records what it
// was asked (headers as sent: a request's signer is applied, with no Range).
#pragma once

#include <string>
#include <vector>

#include "dragonfly/backend/http_backend.h"

namespace df::backend::testutil {

class CannedHttp : public HttpBackend {
 public:
  struct Answer {
    std::string body;
    std::string next_page;  // ResponseInfo::next_page
    int status = 200;       // >= 400: the fetch fails as the HTTP backend would
  };
  std::vector<Answer> answers;
  std::vector<FetchRequest> asked;

  Status Fetch(const FetchRequest& request,
               const std::function<Status(const ResponseInfo&)>& on_response,
               const std::function<Status(const char*, size_t)>& on_data) override {
    asked.push_back(request);
    if (request.sign) {
      DF_ASSIGN_OR_RETURN(auto signed_headers, request.sign(""));
      asked.back().headers.insert(signed_headers.begin(), signed_headers.end());
    }
    if (asked.size() > answers.size()) {
      return Internal("no more canned answers");
    }
    const Answer& a = answers[asked.size() - 1];
    if (a.status == 404) {
      return NotFound("origin returned 404 (" + a.body + ")");
    }
    if (a.status >= 400) {
      return PermissionDenied("origin returned " + std::to_string(a.status) + " (" + a.body + ")");
    }
    ResponseInfo info{a.status, static_cast<int64_t>(a.body.size()), request.url, "", a.next_page};
    DF_RETURN_IF_ERROR(on_response(info));
    return on_data(a.body.data(), a.body.size());
  }
};

}  // namespace df::backend::testutil
