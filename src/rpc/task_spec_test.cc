#include "dragonfly/rpc/task_spec.h"

#include <gtest/gtest.h>

#include "dragonfly/common/task_id.h"

namespace df::rpc {
namespace {

using ::dragonfly::api::scheduler::TaskSpec;

TaskSpec Spec(const std::string& url, const std::string& tag = "") {
  TaskSpec s;
  TaskIdInput in;
  in.url = url;
  in.tag = tag;
  s.set_task_id(*MakeTaskId(in));
  s.set_url(url);
  s.set_tag(tag);
  return s;
}

TEST(TaskSpecTest, TheIdMustBeTheOneTheSpecNames) {
  EXPECT_TRUE(VerifyTaskSpec(Spec("http://origin/a.bin")).ok());
  EXPECT_TRUE(VerifyTaskSpec(Spec("http://origin/a.bin", "v2")).ok());
  // Another URL (or tag, or application) under a victim's task ID.
  TaskSpec evil = Spec("http://origin/a.bin");
  evil.set_url("http://attacker/evil.bin");
  EXPECT_EQ(VerifyTaskSpec(evil).code(), StatusCode::kPermissionDenied);
  evil = Spec("http://origin/a.bin");
  evil.set_tag("other");
  EXPECT_EQ(VerifyTaskSpec(evil).code(), StatusCode::kPermissionDenied);
  evil = Spec("http://origin/a.bin");
  evil.set_piece_length(8u << 20);
  EXPECT_EQ(VerifyTaskSpec(evil).code(), StatusCode::kPermissionDenied);
}

TEST(TaskSpecTest, BlobTasksAreNamedByTheDigestInTheirUrl) {
  const std::string hex(64, 'a');
  TaskSpec blob;
  blob.set_task_id(hex);
  blob.set_url("https://registry/v2/library/x/blobs/sha256:" + hex + "?ns=docker.io");
  EXPECT_TRUE(VerifyTaskSpec(blob).ok());
  EXPECT_EQ(ContentDigestOf(hex, blob.url()), "sha256:" + hex);
  blob.set_url("https://registry/v2/library/x/blobs/sha256:" + std::string(64, 'b'));
  EXPECT_EQ(VerifyTaskSpec(blob).code(), StatusCode::kPermissionDenied);
  blob.set_url("https://registry/v2/library/x/manifests/sha256:" + hex);
  EXPECT_FALSE(VerifyTaskSpec(blob).ok());
  EXPECT_EQ(ContentDigestOf(hex, blob.url()), "");
}

TEST(TaskSpecTest, ObjectStorageCredentialsAreBoundedAndOnlyForObjectStores) {
  TaskSpec s3 = Spec("s3://models/a.bin");
  s3.mutable_object_storage()->set_access_key_id("AKID");
  s3.mutable_object_storage()->set_access_key_secret("secret");
  EXPECT_TRUE(VerifyTaskSpec(s3).ok());
  // The credentials are not part of the task: the same object, another key, the same ID.
  EXPECT_EQ(s3.task_id(), Spec("s3://models/a.bin").task_id());
  TaskSpec http = Spec("http://origin/a.bin");
  http.mutable_object_storage()->set_access_key_id("AKID");
  EXPECT_EQ(VerifyTaskSpec(http).code(), StatusCode::kInvalidArgument);
  s3.mutable_object_storage()->set_session_token(std::string(5000, 't'));
  EXPECT_EQ(VerifyTaskSpec(s3).code(), StatusCode::kInvalidArgument);
  s3.mutable_object_storage()->set_session_token("tok\r\nX-Injected: 1");
  EXPECT_EQ(VerifyTaskSpec(s3).code(), StatusCode::kInvalidArgument);
}

TEST(TaskSpecTest, MalformedSpecsAreRefused) {
  TaskSpec s = Spec("http://origin/a.bin");
  s.set_piece_length(1);
  EXPECT_EQ(VerifyTaskSpec(s).code(), StatusCode::kInvalidArgument);
  s = Spec("http://origin/a.bin");
  (*s.mutable_headers())["X-A"] = "1\r\nHost: evil";
  EXPECT_EQ(VerifyTaskSpec(s).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(VerifyTaskSpec(TaskSpec()).ok());
  EXPECT_EQ(VerifyTaskSpec(Spec("http://origin/" + std::string(9000, 'a'))).code(),
            StatusCode::kInvalidArgument);
  s = Spec("http://origin/a.bin");
  for (int i = 0; i < 65; ++i) {
    (*s.mutable_headers())["X-" + std::to_string(i)] = "v";
  }
  EXPECT_EQ(VerifyTaskSpec(s).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace df::rpc
