// Azure Blob (abs://) and model hub (hf://) backends against canned answers: what they ask for,
// how they sign, how they page, and what they refuse. Their real servers (Azurite, a hub) are in
// test/e2e (test_azure.py, test_hub.py).
#include <gtest/gtest.h>
#include <stdlib.h>

#include "backend/canned_http.h"
#include "backend/response_headers.h"
#include "dragonfly/backend/azure.h"
#include "dragonfly/backend/hub.h"
#include "dragonfly/backend/origin.h"
#include "dragonfly/common/task_id.h"

namespace df::backend {
namespace {

using testutil::CannedHttp;

constexpr char kKey[] =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

AzureOptions Azurite() {
  return {"http://127.0.0.1:10000/devstoreaccount1", "devstoreaccount1", kKey, ""};
}

Status Drain(HttpBackend& b, const std::string& url, std::string* body = nullptr) {
  FetchRequest r;
  r.url = url;
  return b.Fetch(
      r, [](const ResponseInfo&) { return Status::Ok(); },
      [&](const char* d, size_t n) {
        if (body != nullptr) {
          body->append(d, n);
        }
        return Status::Ok();
      });
}

TEST(AzureTest, SharedKeySignsTheAccountPathAndTheRange) {
  const std::string date = "Mon, 07 Dec 2026 11:00:00 GMT";
  auto r = SignAzure(Azurite(), "models", "llama/w 1.bin", "", "bytes=0-99", date);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->url, "http://127.0.0.1:10000/devstoreaccount1/models/llama/w%201.bin");
  EXPECT_EQ(r->headers.at("x-ms-date"), date);
  EXPECT_EQ(r->headers.at("x-ms-version"), "2021-08-06");
  const std::string auth = r->headers.at("Authorization");
  EXPECT_EQ(auth.rfind("SharedKey devstoreaccount1:", 0), 0u) << auth;
  // The signature covers the Range and the time: another of either is another signature.
  auto other_range = SignAzure(Azurite(), "models", "llama/w 1.bin", "", "bytes=100-", date);
  auto other_time = SignAzure(Azurite(), "models", "llama/w 1.bin", "", "bytes=0-99",
                              "Mon, 07 Dec 2026 11:20:00 GMT");
  EXPECT_NE(other_range->headers.at("Authorization"), auth);
  EXPECT_NE(other_time->headers.at("Authorization"), auth);
  // Without an endpoint: the account's host on Azure.
  AzureOptions cloud{"", "acct1", kKey, ""};
  EXPECT_EQ(SignAzure(cloud, "c01", "x", "", "", date)->url,
            "https://acct1.blob.core.windows.net/c01/x");
}

TEST(AzureTest, ASasGoesIntoTheQueryAndIsNotPartOfTheTaskId) {
  AzureOptions sas{"http://127.0.0.1:10000/devstoreaccount1", "devstoreaccount1", "",
                   "sv=2021-08-06&sr=c&sp=rl&se=2030-01-01&sig=abc%2B"};
  auto r = SignAzure(sas, "models", "a.bin", "", "", "Mon, 07 Dec 2026 11:00:00 GMT");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->url,
            "http://127.0.0.1:10000/devstoreaccount1/models/a.bin?"
            "sv=2021-08-06&sr=c&sp=rl&se=2030-01-01&sig=abc%2B");
  EXPECT_FALSE(r->headers.contains("Authorization"));
  // A SAS written into the abs:// URL itself does not change the task.
  auto plain = MakeTaskId({.url = "abs://models/a.bin"});
  auto with_sas =
      MakeTaskId({.url = "abs://models/a.bin?sv=2021-08-06&sp=r&se=2030-01-01&sig=xyz"});
  ASSERT_TRUE(plain.ok() && with_sas.ok());
  EXPECT_EQ(*plain, *with_sas);
}

// The attacker: a download naming another account (whose blob would be stored under the task ID
// of the daemon's account's blob) is refused; its own key for the daemon's account is taken.
TEST(AzureTest, ADownloadCannotNameAnotherAccount) {
  CannedHttp http;
  AzureOptions cloud{"", "acct1", "", ""};
  auto azure = NewAzureBackend(http, cloud);
  http.answers = {{"bytes"}};
  FetchRequest r;
  r.url = "abs://models/w.bin";
  r.storage = StorageCredentials{"evilacct", "", "", ""};
  auto none = [](const ResponseInfo&) { return Status::Ok(); };
  auto sink = [](const char*, size_t) { return Status::Ok(); };
  EXPECT_EQ(azure->Fetch(r, none, sink).code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(http.asked.empty());
  r.storage = StorageCredentials{"acct1", kKey, "", ""};
  ASSERT_TRUE(azure->Fetch(r, none, sink).ok());
  EXPECT_EQ(http.asked[0].url, "https://acct1.blob.core.windows.net/models/w.bin");
  EXPECT_EQ(http.asked[0].headers.at("Authorization").rfind("SharedKey acct1:", 0), 0u);
}

TEST(AzureTest, SettingsAreCheckedAndReadFromAConnectionString) {
  EXPECT_TRUE(ValidateAzureOptions(Azurite()).ok());
  EXPECT_FALSE(ValidateAzureOptions({"", "", kKey, ""}).ok());  // key without account
  EXPECT_FALSE(ValidateAzureOptions({"", "acct1", "not base64!", ""}).ok());
  EXPECT_FALSE(ValidateAzureOptions({"", "Bad_Name", "", ""}).ok());
  EXPECT_FALSE(ValidateAzureOptions({"ftp://h", "acct1", "", ""}).ok());
  for (const char* bad : {"abs://", "abs://AB/x", "abs://a/x", "s3://bucket/x"}) {
    EXPECT_FALSE(ParseAbsUrl(bad).ok()) << bad;
  }
  const std::string cs =
      "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + std::string(kKey) +
      ";BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;";
  ::setenv("AZURE_STORAGE_CONNECTION_STRING", cs.c_str(), 1);
  AzureOptions o;
  FillAzureOptionsFromEnvironment(&o);
  ::unsetenv("AZURE_STORAGE_CONNECTION_STRING");
  EXPECT_EQ(o.account_name, "devstoreaccount1");
  EXPECT_EQ(o.account_key, kKey);
  EXPECT_EQ(o.endpoint, "http://127.0.0.1:10000/devstoreaccount1");
}

std::string BlobPage(const std::vector<std::pair<std::string, int>>& blobs,
                     const std::string& next) {
  std::string xml = "<?xml version=\"1.0\"?><EnumerationResults><Blobs>";
  for (const auto& [name, size] : blobs) {
    xml += "<Blob><Name>" + name + "</Name><Properties><Content-Length>" + std::to_string(size) +
           "</Content-Length><BlobType>BlockBlob</BlobType></Properties></Blob>";
  }
  return xml + "</Blobs>" +
         (next.empty() ? "<NextMarker/>" : "<NextMarker>" + next + "</NextMarker>") +
         "</EnumerationResults>";
}

TEST(AzureTest, ListingFollowsMarkersAndRefusesEscapes) {
  CannedHttp http;
  auto azure = NewAzureBackend(http, Azurite());
  http.answers = {{BlobPage({{"data/a.bin", 3}, {"data/sub/b c.bin", 5}}, "m+1")},
                  {BlobPage({{"data/sub/d.bin", 7}}, "")}};
  auto listed = azure->List({.url = "abs://models/data"}, 100);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[1].url, "abs://models/data/sub/b%20c.bin");
  EXPECT_EQ((*listed)[1].path, "sub/b c.bin");
  EXPECT_EQ((*listed)[2].size, 7);
  ASSERT_EQ(http.asked.size(), 2u);
  EXPECT_EQ(
      http.asked[0].url,
      "http://127.0.0.1:10000/devstoreaccount1/models?restype=container&comp=list&prefix=data%2F");
  EXPECT_EQ(
      http.asked[1].url,
      "http://127.0.0.1:10000/devstoreaccount1/models?restype=container&comp=list&prefix=data%2F"
      "&marker=m%2B1");
  EXPECT_EQ(http.asked[1].headers.at("Authorization").rfind("SharedKey devstoreaccount1:", 0), 0u);

  CannedHttp hostile;
  auto azure2 = NewAzureBackend(hostile, Azurite());
  hostile.answers = {{BlobPage({{"data/../../etc/passwd", 1}}, "")}};
  EXPECT_EQ(azure2->List({.url = "abs://models/data/"}, 100).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(HubTest, UrlsParseAndPrint) {
  auto l = ParseHubUrl("hf://datasets/org/set-1/data/train%20a.parquet?revision=refs%2Fpr%2F1");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->kind, "datasets");
  EXPECT_EQ(l->repo, "org/set-1");
  EXPECT_EQ(l->path, "data/train a.parquet");
  EXPECT_EQ(l->revision, "refs/pr/1");
  EXPECT_EQ(HubUrl(*l), "hf://datasets/org/set-1/data/train%20a.parquet?revision=refs%2Fpr%2F1");
  auto m = ParseHubUrl("hf://owner/model/");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->kind, "models");
  EXPECT_EQ(m->path, "");
  EXPECT_EQ(m->revision, "main");
  for (const char* bad : {"hf://", "hf://owner", "hf://owner/..", "hf://owner/m/../x",
                          "hf://owner/m//x", "hf://own er/m", "hf://o/m?token=x", "s3://b/k"}) {
    EXPECT_FALSE(ParseHubUrl(bad).ok()) << bad;
  }
}

TEST(HubTest, AFileIsFetchedThroughResolveWithTheToken) {
  CannedHttp http;
  auto hub = NewHubBackend(http, {"http://127.0.0.1:9", "hf_daemon"});
  http.answers = {{"{}"}, {"{}"}};
  ASSERT_TRUE(Drain(*hub, "hf://owner/model/sub/w 1.safetensors?revision=v1.0").ok());
  ASSERT_EQ(http.asked.size(), 1u);
  EXPECT_EQ(http.asked[0].url, "http://127.0.0.1:9/owner/model/resolve/v1.0/sub/w%201.safetensors");
  EXPECT_EQ(http.asked[0].headers.at("Authorization"), "Bearer hf_daemon");
  // The request's own token (dfget --hf-token) wins over the daemon's.
  FetchRequest r;
  r.url = "hf://spaces/owner/app/app.py";
  r.headers = {{"authorization", "Bearer hf_user"}};
  ASSERT_TRUE(hub->Fetch(
                     r, [](const ResponseInfo&) { return Status::Ok(); },
                     [](const char*, size_t) { return Status::Ok(); })
                  .ok());
  EXPECT_EQ(http.asked[1].url, "http://127.0.0.1:9/spaces/owner/app/resolve/main/app.py");
  EXPECT_EQ(http.asked[1].headers.size(), 1u);
  EXPECT_EQ(http.asked[1].headers.at("authorization"), "Bearer hf_user");
  EXPECT_EQ(Drain(*hub, "hf://owner/model").code(), StatusCode::kInvalidArgument);
}

TEST(HubTest, ARepositoryListsAtOneCommitPageByPage) {
  CannedHttp http;
  auto hub = NewHubBackend(http, {"http://127.0.0.1:9", ""});
  const std::string sha = "0123456789abcdef0123456789abcdef01234567";
  http.answers = {
      {R"({"id":"owner/model","sha":")" + sha + R"("})"},
      {R"([{"type":"directory","path":"sub","size":0},
           {"type":"file","path":"config.json","size":12},
           {"type":"file","path":"sub/w.bin","size":4096,"lfs":{"oid":"x","size":4096,"pointerSize":134}}])",
       "http://127.0.0.1:9/api/models/owner/model/tree/" + sha + "?recursive=true&cursor=abc"},
      {R"([{"type":"file","path":"sub/x y.bin","size":1}])"}};
  std::map<std::string, std::string> headers = {{"Authorization", "Bearer hf_user"}};
  auto listed = hub->List({.url = "hf://owner/model", .headers = headers}, 100);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].url, "hf://owner/model/config.json?revision=" + sha);
  EXPECT_EQ((*listed)[1].path, "sub/w.bin");
  EXPECT_EQ((*listed)[1].size, 4096);
  EXPECT_EQ((*listed)[2].url, "hf://owner/model/sub/x%20y.bin?revision=" + sha);
  ASSERT_EQ(http.asked.size(), 3u);
  EXPECT_EQ(http.asked[0].url, "http://127.0.0.1:9/api/models/owner/model/revision/main");
  EXPECT_EQ(http.asked[1].url, "http://127.0.0.1:9/api/models/owner/model/tree/" + sha +
                                   "?recursive=true&expand=false");
  EXPECT_EQ(http.asked[2].url,
            "http://127.0.0.1:9/api/models/owner/model/tree/" + sha + "?recursive=true&cursor=abc");
  for (const auto& a : http.asked) {
    EXPECT_EQ(a.headers.at("Authorization"), "Bearer hf_user");
  }
}

TEST(HubTest, HostileListingsAreRefused) {
  const std::string rev = R"({"sha":"0123456789abcdef0123456789abcdef01234567"})";
  {
    CannedHttp http;
    auto hub = NewHubBackend(http, {"http://127.0.0.1:9", ""});
    http.answers = {{rev}, {R"([{"type":"file","path":"../../etc/passwd","size":1}])"}};
    EXPECT_EQ(hub->List({.url = "hf://owner/model"}, 100).status().code(),
              StatusCode::kInvalidArgument);
  }
  {
    CannedHttp http;  // a next page on another server: the token would leave the hub
    auto hub = NewHubBackend(http, {"http://127.0.0.1:9", ""});
    http.answers = {{rev}, {"[]", "http://evil.example/steal"}};
    EXPECT_EQ(hub->List({.url = "hf://owner/model"}, 100).status().code(),
              StatusCode::kUnavailable);
  }
  {
    CannedHttp http;
    auto hub = NewHubBackend(http, {"http://127.0.0.1:9", ""});
    http.answers = {{R"({"sha":"../x"})"}};
    EXPECT_FALSE(hub->List({.url = "hf://owner/model"}, 100).ok());
  }
}

TEST(ResponseHeadersTest, NextLink) {
  EXPECT_EQ(NextLink(R"(<https://hub/api/x?cursor=1>; rel="next")", "https://hub/api/x"),
            "https://hub/api/x?cursor=1");
  EXPECT_EQ(NextLink(R"(<https://h/p?c=0>; rel="prev", </api/x?cursor=2>; rel=next)",
                     "http://127.0.0.1:9/api/x?recursive=true"),
            "http://127.0.0.1:9/api/x?cursor=2");
  EXPECT_EQ(NextLink(R"(<https://h/p>; rel="last")", "https://h/"), "");
  EXPECT_EQ(NextLink("garbage", "https://h/"), "");
}

}  // namespace
}  // namespace df::backend
