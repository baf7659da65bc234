#include "manager/grpc_service.h"

#include <gtest/gtest.h>

namespace df::manager {
namespace {

ClusterRow Cluster(const json& scopes, bool is_default = false) {
  ClusterRow c;
  c.scopes = ClusterScopes::FromJson(scopes).value();
  c.is_default = is_default;
  return c;
}

TEST(ScoreClusterTest, CidrBeatsHostnameBeatsIdcBeatsLocationBeatsDefault) {
  auto cidr = Cluster({{"cidrs", {"10.1.0.0/16"}}});
  auto host = Cluster({{"hostnames", {"gpu-.*"}}});
  auto idc = Cluster({{"idc", "idc-a|idc-b"}});
  auto loc = Cluster({{"location", "cn|hz|xihu"}});
  auto def = Cluster(json::object(), true);
  EXPECT_GT(ScoreCluster(cidr, "10.1.2.3", "gpu-1", "idc-b", "cn|hz"),
            ScoreCluster(host, "10.1.2.3", "gpu-1", "idc-b", "cn|hz"));
  EXPECT_EQ(ScoreCluster(cidr, "10.2.2.3", "x", "", ""), 0);
  EXPECT_GT(ScoreCluster(host, "1.1.1.1", "gpu-7", "", ""),
            ScoreCluster(idc, "1.1.1.1", "gpu-7", "idc-a", ""));
  EXPECT_EQ(ScoreCluster(idc, "1.1.1.1", "h", "idc-c", ""), 0);
  EXPECT_EQ(ScoreCluster(loc, "1.1.1.1", "h", "", "cn|hz|binjiang"), 20);
  EXPECT_EQ(ScoreCluster(def, "1.1.1.1", "h", "", ""), 1);
  EXPECT_EQ(ScoreCluster(Cluster({{"cidrs", {"fd00::/8"}}}), "fd12::1", "h", "", ""), 1000);
  EXPECT_FALSE(ClusterScopes::FromJson({{"cidrs", {"garbage"}}}).ok());
}

}  // namespace
}  // namespace df::manager
