#include "dragonfly/security/tls_settings.h"

#include <gtest/gtest.h>

namespace df::security {
namespace {

TEST(TlsSettingsTest, APortReachableFromOtherHostsNeedsCertificatesOrInsecure) {
  TlsSettings none;
  for (const char* local : {"127.0.0.1:4000", "[::1]:4000", "localhost:0", "127.8.0.1:1"}) {
    EXPECT_TRUE(CheckExposure(none, {{"upload.rpcListen", local}}).ok()) << local;
  }
  for (const char* exposed : {"0.0.0.0:4000", "[::]:4000", "10.0.0.5:4000", "node-1:4000"}) {
    Status s =
        CheckExposure(none, {{"upload.listen", "127.0.0.1:1"}, {"upload.rpcListen", exposed}});
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << exposed;
    EXPECT_NE(s.message().find("upload.rpcListen"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("security.insecure"), std::string::npos) << s.message();
  }
  TlsSettings insecure;
  insecure.insecure = true;
  EXPECT_TRUE(CheckExposure(insecure, {{"server.listen", "0.0.0.0:8002"}}).ok());
  TlsSettings certified;
  certified.ca_cert = "ca.crt";
  certified.cert = "tls.crt";
  certified.key = "tls.key";
  EXPECT_TRUE(CheckExposure(certified, {{"server.listen", "0.0.0.0:8002"}}).ok());
}

}  // namespace
}  // namespace df::security
