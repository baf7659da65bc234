#include "dragonfly/rpc/status.h"

#include <gtest/gtest.h>

namespace df::rpc {
namespace {

TEST(RpcStatusTest, RoundTripsEveryCode) {
  for (int c = 0; c <= static_cast<int>(StatusCode::kInternal); ++c) {
    Status s(static_cast<StatusCode>(c), c == 0 ? "" : "boom");
    Status back = FromGrpc(ToGrpc(s));
    EXPECT_EQ(back.code(), s.code());
    EXPECT_EQ(back.message(), s.message());
  }
  EXPECT_EQ(FromGrpc(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"), "scheduler x").message(),
            "scheduler x: down");
  EXPECT_EQ(ToGrpc(DataLoss("bad")).error_code(), grpc::StatusCode::DATA_LOSS);
}

}  // namespace
}  // namespace df::rpc
