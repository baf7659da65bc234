#include "dragonfly/backend/origin.h"

#include "backend/url_util.h"

namespace df::backend {
namespace {

class OriginBackend : public HttpBackend {
 public:
  OriginBackend(std::unique_ptr<HttpBackend> http, OriginOptions o)
      : http_(std::move(http)),
        s3_(NewS3Backend(*http_, std::move(o.s3))),
        azure_(NewAzureBackend(*http_, std::move(o.azure))),
        hub_(NewHubBackend(*http_, std::move(o.hub))) {}

  Status Fetch(const FetchRequest& request,
               const std::function<Status(const ResponseInfo&)>& on_response,
               const std::function<Status(const char* data, size_t n)>& on_data) override {
    DF_ASSIGN_OR_RETURN(HttpBackend * b, For(request.url));
    return b->Fetch(request, on_response, on_data);
  }

  StatusOr<std::vector<ListedObject>> List(const FetchRequest& where, size_t max) override {
    DF_ASSIGN_OR_RETURN(HttpBackend * b, For(where.url));
    return b->List(where, max);
  }

 private:
  StatusOr<HttpBackend*> For(const std::string& url) {
    const std::string scheme = url.substr(0, url.find("://"));
    if (scheme == "http" || scheme == "https") {
      return http_.get();
    }
    if (scheme == "s3") {
      return s3_.get();
    }
    if (scheme == "abs") {
      return azure_.get();
    }
    if (scheme == "hf") {
      return hub_.get();
    }
    return InvalidArgument("unsupported URL " + RedactUrl(url) +
                           ": want http://, https://, s3://, abs:// or hf:// (docs/backends.md)");
  }

  std::unique_ptr<HttpBackend> http_;
  std::unique_ptr<HttpBackend> s3_;
  std::unique_ptr<HttpBackend> azure_;
  std::unique_ptr<HttpBackend> hub_;
};

}  // namespace

Status PrepareOriginOptions(OriginOptions* o) {
  FillS3OptionsFromEnvironment(&o->s3);
  DF_RETURN_IF_ERROR(ValidateS3Options(o->s3).Annotate("s3 credentials"));
  FillAzureOptionsFromEnvironment(&o->azure);
  DF_RETURN_IF_ERROR(ValidateAzureOptions(o->azure).Annotate("azure credentials"));
  FillHubOptionsFromEnvironment(&o->hub);
  return ValidateHubOptions(o->hub).Annotate("hugging face hub");
}

bool IsOriginScheme(const std::string& scheme) {
  return scheme == "http" || scheme == "https" || scheme == "s3" || scheme == "abs" ||
         scheme == "hf";
}

std::unique_ptr<HttpBackend> NewOriginBackend(std::unique_ptr<HttpBackend> http, OriginOptions o) {
  return std::make_unique<OriginBackend>(std::move(http), std::move(o));
}

}  // namespace df::backend
