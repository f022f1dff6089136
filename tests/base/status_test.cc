#include "base/status.h"

#include <gtest/gtest.h>

namespace lfm2 {
namespace {

StatusOr<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError("odd value ", x);
  return x / 2;
}

Status Quarter(int x, int* out) {
  LFM2_ASSIGN_OR_RETURN(int half, Half(x));
  LFM2_ASSIGN_OR_RETURN(*out, Half(half));
  return Status::Ok();
}

TEST(StatusTest, PropagatesErrorsAndValues) {
  int out = 0;
  EXPECT_TRUE(Quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  Status status = Quarter(6, &out);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "odd value 3");
  EXPECT_EQ(status.WithContext("file.bin").message(), "file.bin: odd value 3");
  EXPECT_EQ(status.ToString(), "invalid argument: odd value 3");
}

TEST(StatusTest, StatusOrHoldsMoveOnlyValues) {
  StatusOr<std::unique_ptr<int>> value = std::make_unique<int>(5);
  ASSERT_TRUE(value.ok());
  std::unique_ptr<int> taken = std::move(value).value();
  EXPECT_EQ(*taken, 5);
}

}  // namespace
}  // namespace lfm2
