// Top-k accuracy counts against hand-worked rows.
#include "engine/ops/loss.h"
#include "testing.h"

namespace sprout {
namespace {

TEST(Accuracy, TopOneAndTopKCounts) {
  // Row 0: label 2 is the max. Row 1: label 0 is 3rd of 6. Row 2: label 5 is last.
  Tensor logits = Tensor::from_vector<float>({0.1f, 0.2f, 0.9f, 0.0f, 0.3f, 0.4f,
                                              0.5f, 0.9f, 0.1f, 0.8f, 0.2f, 0.3f,
                                              0.6f, 0.5f, 0.4f, 0.3f, 0.2f, 0.1f}, {3, 6});
  Tensor labels = Tensor::from_vector<int32_t>({2, 0, 5}, {3});
  EXPECT_EQ(ops::count_correct(logits, labels, 1), 1);
  EXPECT_EQ(ops::count_correct(logits, labels, 2), 1);
  EXPECT_EQ(ops::count_correct(logits, labels, 3), 2);
  EXPECT_EQ(ops::count_correct(logits, labels, 5), 2);
  EXPECT_EQ(ops::count_correct(logits, labels, 6), 3);
}

// Labels of the wrong type are refused, not read as int32 (on a GPU, labels left on the
// host would hand the kernel a host pointer: the same check refuses them).
TEST(Accuracy, LabelsMustBeInt32OnTheLogitsDevice) {
  Tensor logits = Tensor::from_vector<float>({0.1f, 0.9f, 0.8f, 0.2f}, {2, 2});
  EXPECT_THROW(ops::count_correct(logits, Tensor::from_vector<float>({1.f, 0.f}, {2}), 1), Error);
  EXPECT_THROW(ops::count_correct(logits, Tensor::from_vector<int64_t>({1, 0}, {2}), 1), Error);
  EXPECT_EQ(ops::count_correct(logits, Tensor::from_vector<int32_t>({1, 0}, {2}), 1), 2);
}

}  // namespace
}  // namespace sprout
