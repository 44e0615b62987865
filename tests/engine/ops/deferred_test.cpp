// Deferred checks: a registered verdict of -1 passes, any other value throws once with
// the message and the value, and a verdict is read only once.
#include <gtest/gtest.h>

#include "engine/core/error.h"
#include "engine/ops/deferred.h"

namespace sprout {
namespace {

TEST(Deferred, ReportsTheFirstFailedVerdictOnce) {
  Tensor ok = ops::make_verdict(Device::cpu());
  EXPECT_EQ(ok.to_vector<int64_t>(), std::vector<int64_t>{-1});
  Tensor bad = ops::make_verdict(Device::cpu());
  bad.data<int64_t>()[0] = 7;
  ops::defer_check(ok, "fine");
  ops::defer_check(bad, "something broke at row");
  try {
    ops::check_deferred();
    FAIL() << "a failed verdict passed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("something broke at row 7"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(ops::check_deferred());
  EXPECT_THROW(ops::defer_check(Tensor::zeros({2}, DType::I64), "two words"), Error);
}

}  // namespace
}  // namespace sprout
