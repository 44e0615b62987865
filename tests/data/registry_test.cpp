// make_dataset by name and the synthetic dataset: determinism, shapes, option checks.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "data/registry.h"
#include "data/synthetic.h"
#include "engine/core/error.h"

using namespace sprout;
using namespace sprout::data;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Synthetic, DeterministicFromSeedAndIndex) {
  auto a = make_dataset("synthetic", "", "train", {{"shape", {3, 8, 8}}, {"classes", 5}, {"size", 100}, {"seed", 3}});
  auto b = make_dataset("synthetic", "", "train", {{"shape", {3, 8, 8}}, {"classes", 5}, {"size", 100}, {"seed", 3}});
  auto t = make_dataset("synthetic", "", "test", {{"shape", {3, 8, 8}}, {"classes", 5}, {"size", 100}, {"seed", 3}});
  EXPECT_EQ(a->size(), 100);
  EXPECT_EQ(a->sample_shape(), (Shape{3, 8, 8}));
  EXPECT_EQ(a->num_classes(), 5);
  std::vector<float> x(192), y(192), z(192);
  int32_t lx, ly, lz;
  Rng r1(1), r2(2);
  std::vector<int> counts(5);
  for (int64_t i = 0; i < 100; ++i) {
    a->get(i, x.data(), &lx, r1);
    b->get(i, y.data(), &ly, r2);
    t->get(i, z.data(), &lz, r2);
    ASSERT_EQ(x, y);
    ASSERT_EQ(lx, ly);
    ASSERT_NE(x, z);
    ASSERT_GE(lx, 0);
    ASSERT_LT(lx, 5);
    ++counts[(size_t)lx];
    for (float v : x) ASSERT_LT(std::fabs(v), 2.0f);
  }
  for (int c : counts) EXPECT_GT(c, 5);
}

TEST(Synthetic, ClassesAreSeparable) {
  // Same-class samples share per-channel offsets: channel means tell classes apart.
  SyntheticOptions o;
  o.shape = {3, 16, 16};
  o.classes = 3;
  o.size = 60;
  SyntheticDataset ds(o);
  std::vector<float> x(768);
  int32_t label;
  Rng rng(0);
  std::vector<std::vector<double>> first(3);
  for (int64_t i = 0; i < 60; ++i) {
    ds.get(i, x.data(), &label, rng);
    std::vector<double> means(3);
    for (int c = 0; c < 3; ++c) {
      for (int k = 0; k < 256; ++k) means[(size_t)c] += x[(size_t)(c * 256 + k)] / 256.0;
    }
    if (first[(size_t)label].empty()) first[(size_t)label] = means;
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(means[(size_t)c], first[(size_t)label][(size_t)c], 0.15);
  }
}

TEST(Registry, Errors) {
  EXPECT_EQ(error_of([] { make_dataset("svhn", "/x", "train"); }),
            "unknown dataset 'svhn' (known: fashion-mnist, mnist, cifar10, cifar100, imagenet, synthetic)");
  EXPECT_EQ(error_of([] { make_dataset("mnist", "/x", "train", {{"flaten", true}}); }),
            "unknown option 'flaten' for dataset 'mnist' (known: flatten, mean, std)");
  EXPECT_EQ(error_of([] { make_dataset("synthetic", "", "train", {{"size", "ten"}}); }),
            "option 'size' for dataset 'synthetic' must be an integer, got \"ten\"");
  EXPECT_EQ(error_of([] { make_dataset("cifar10", "/x", "train", {{"mean", {0.1, 0.2}}}); }),
            "option 'mean' for dataset 'cifar10' must be a list of 3 numbers, got [0.1,0.2]");
  EXPECT_NE(error_of([] { make_dataset("cifar10", "/nonexistent", "train"); }).find("error reading /nonexistent/"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_dataset("imagenet", "/nonexistent", "val"); }).find("error reading /nonexistent/val"),
            std::string::npos);
  EXPECT_EQ(dataset_names().size(), 6u);
}
