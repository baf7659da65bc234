#include "manager/registry/manifest.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace df::manager::registry {
namespace {

using Json = nlohmann::json;

std::string D(char c) { return "sha256:" + std::string(64, c); }

Json ImageManifest(const std::string& media_type) {
  Json m = {{"schemaVersion", 2},
            {"config",
             {{"mediaType", "application/vnd.oci.image.config.v1+json"},
              {"digest", D('c')},
              {"size", 123}}},
            {"layers", Json::array({{{"mediaType", "l1"}, {"digest", D('1')}, {"size", 10}},
                                    {{"mediaType", "l2"}, {"digest", D('2')}, {"size", 20}}})}};
  if (!media_type.empty()) {
    m["mediaType"] = media_type;
  }
  return m;
}

Json Entry(char c, const std::string& os, const std::string& arch, const std::string& variant) {
  Json platform = {{"os", os}, {"architecture", arch}};
  if (!variant.empty()) {
    platform["variant"] = variant;
  }
  return {{"mediaType", kOciManifest}, {"digest", D(c)}, {"size", 500}, {"platform", platform}};
}

Json Index() {
  return {{"schemaVersion", 2},
          {"mediaType", kOciIndex},
          {"manifests",
           Json::array({Entry('a', "linux", "amd64", ""), Entry('b', "linux", "arm64", "v8"),
                        Entry('c', "linux", "arm", "v7"), Entry('d', "unknown", "unknown", "")})}};
}

TEST(ManifestAcceptTest, ListsTheFourTypes) {
  EXPECT_EQ(ManifestAccept(),
            "application/vnd.oci.image.manifest.v1+json, "
            "application/vnd.oci.image.index.v1+json, "
            "application/vnd.docker.distribution.manifest.v2+json, "
            "application/vnd.docker.distribution.manifest.list.v2+json");
}

TEST(ParseManifestTest, OciAndDockerImageManifests) {
  for (auto type : {kOciManifest, kDockerManifest}) {
    auto m = ParseManifest(ImageManifest(std::string(type)).dump(), "application/json");
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->kind, Manifest::Kind::kImage);
    EXPECT_EQ(m->media_type, type);
    EXPECT_EQ(m->config.digest, D('c'));
    EXPECT_EQ(m->config.size, 123);
    ASSERT_EQ(m->layers.size(), 2u);
    EXPECT_EQ(m->layers[0].digest, D('1'));
    EXPECT_EQ(m->layers[0].media_type, "l1");
    EXPECT_EQ(m->layers[1].size, 20);
  }
}

TEST(ParseManifestTest, MediaTypeFromContentTypeOrStructure) {
  auto from_header =
      ParseManifest(ImageManifest("").dump(), std::string(kDockerManifest) + "; charset=utf-8");
  ASSERT_TRUE(from_header.ok()) << from_header.status().ToString();
  EXPECT_EQ(from_header->media_type, kDockerManifest);
  auto inferred = ParseManifest(ImageManifest("").dump(), "");
  ASSERT_TRUE(inferred.ok());
  EXPECT_EQ(inferred->media_type, kOciManifest);
  Json index = Index();
  index.erase("mediaType");
  auto inferred_index = ParseManifest(index.dump(), "application/octet-stream");
  ASSERT_TRUE(inferred_index.ok());
  EXPECT_EQ(inferred_index->kind, Manifest::Kind::kIndex);
}

TEST(ParseManifestTest, Index) {
  auto m = ParseManifest(Index().dump(), kOciIndex);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->kind, Manifest::Kind::kIndex);
  ASSERT_EQ(m->manifests.size(), 4u);
  ASSERT_TRUE(m->manifests[1].platform.has_value());
  EXPECT_EQ(m->manifests[1].platform->ToString(), "linux/arm64/v8");
}

TEST(ParseManifestTest, RejectsSchema1) {
  auto by_header = ParseManifest("{}", "application/vnd.docker.distribution.manifest.v1+prettyjws");
  EXPECT_EQ(by_header.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(by_header.status().message().find("schema 1"), std::string::npos);
  auto by_body = ParseManifest(R"({"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]})",
                               "application/json");
  EXPECT_EQ(by_body.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(by_body.status().message().find("schema 1"), std::string::npos);
}

TEST(ParseManifestTest, RejectsUnsupportedAndMalformed) {
  auto artifact = ParseManifest(
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.artifact.manifest.v1+json"})", "");
  EXPECT_EQ(artifact.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(artifact.status().message().find("unsupported manifest media type"), std::string::npos);

  std::vector<std::string> bad = {"", "not json", "[]", R"({"schemaVersion":3})"};
  Json no_config = ImageManifest(std::string(kOciManifest));
  no_config.erase("config");
  bad.push_back(no_config.dump());
  Json bad_digest = ImageManifest(std::string(kOciManifest));
  bad_digest["layers"][1]["digest"] = "sha256:../../x";
  bad.push_back(bad_digest.dump());
  Json bad_size = ImageManifest(std::string(kOciManifest));
  bad_size["layers"][0]["size"] = -1;
  bad.push_back(bad_size.dump());
  Json string_size = ImageManifest(std::string(kOciManifest));
  string_size["config"]["size"] = "12";
  bad.push_back(string_size.dump());
  Json no_layers = ImageManifest(std::string(kOciManifest));
  no_layers["layers"] = "x";
  bad.push_back(no_layers.dump());
  Json index_no_list = Index();
  index_no_list["manifests"] = Json::object();
  bad.push_back(index_no_list.dump());
  for (const auto& body : bad) {
    EXPECT_EQ(ParseManifest(body, "").status().code(), StatusCode::kInvalidArgument) << body;
  }
}

TEST(SelectPlatformTest, PicksTheMatchingEntry) {
  auto index = ParseManifest(Index().dump(), "");
  ASSERT_TRUE(index.ok());
  auto pick = [&](const char* spec) {
    auto p = ParsePlatform(spec);
    EXPECT_TRUE(p.ok());
    return SelectPlatform(*index, *p);
  };
  EXPECT_EQ(pick("linux/amd64")->digest, D('a'));
  EXPECT_EQ(pick("linux/arm64")->digest, D('b'));
  EXPECT_EQ(pick("linux/aarch64/8")->digest, D('b'));
  EXPECT_EQ(pick("linux/arm")->digest, D('c'));
}

TEST(SelectPlatformTest, VariantlessRequestFallsBackToAnyVariant) {
  Json j = {{"manifests", Json::array({Entry('e', "linux", "amd64", "v3")})}};
  auto index = ParseManifest(j.dump(), "");
  ASSERT_TRUE(index.ok());
  auto got = SelectPlatform(*index, *ParsePlatform("linux/amd64"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->digest, D('e'));
  EXPECT_FALSE(SelectPlatform(*index, *ParsePlatform("linux/amd64/v2")).ok());
}

TEST(SelectPlatformTest, NotFoundListsAvailablePlatforms) {
  auto index = ParseManifest(Index().dump(), "");
  ASSERT_TRUE(index.ok());
  auto got = SelectPlatform(*index, *ParsePlatform("linux/s390x"));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
  EXPECT_NE(got.status().message().find("linux/s390x"), std::string::npos);
  EXPECT_NE(got.status().message().find(
                "available: linux/amd64, linux/arm64/v8, linux/arm/v7, unknown/unknown"),
            std::string::npos)
      << got.status().message();
  auto arm6 = SelectPlatform(*index, *ParsePlatform("linux/arm/v6"));
  EXPECT_EQ(arm6.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace df::manager::registry
