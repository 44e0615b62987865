// make_dataset by name and the synthetic dataset: determinism, shapes, and each data
// set's declared options (defaults, unknown keys, types, ranges, one number for a list).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "data/cifar.h"
#include "data/idx.h"
#include "data/registry.h"
#include "data/synthetic.h"
#include "data_testing.h"
#include "engine/core/error.h"

using namespace sprout;
using namespace sprout::data;
using nlohmann::json;
using sprout::testing::TempDir;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// name: default, for each declared option in order.
json defaults_of(const std::string& dataset) {
  json d = json::array();
  for (const auto& o : dataset_option_info(dataset)) d.push_back({o.name, o.default_value});
  return d;
}

// Sample `index` of `ds` as floats.
std::vector<float> sample(const Dataset& ds, int64_t index) {
  std::vector<float> x((size_t)shape_numel(ds.sample_shape()));
  int32_t label;
  Rng rng(0);
  ds.get(index, x.data(), &label, rng);
  return x;
}

// A cifar-10 test split of two records: 1 label byte, then 3x32x32 pixels.
void write_cifar10_test(const std::string& dir) {
  std::vector<uint8_t> b;
  for (int r = 0; r < 2; ++r) {
    b.push_back((uint8_t)r);
    for (int i = 0; i < 3072; ++i) b.push_back((uint8_t)((r * 37 + i * 7) % 256));
  }
  sprout::testing::write_bytes(dir + "/test_batch.bin", b);
}

// An IDX split (train-*-ubyte) of two 28x28 images.
void write_idx_train(const std::string& dir) {
  auto idx = [](std::vector<uint32_t> magic_and_dims, size_t payload) {
    std::vector<uint8_t> b;
    for (uint32_t v : magic_and_dims)
      for (int s = 24; s >= 0; s -= 8) b.push_back((uint8_t)(v >> s));  // big-endian
    for (size_t i = 0; i < payload; ++i) b.push_back((uint8_t)(i % 10));
    return b;
  };
  sprout::testing::write_bytes(dir + "/train-images-idx3-ubyte", idx({0x803, 2, 28, 28}, 2 * 784));
  sprout::testing::write_bytes(dir + "/train-labels-idx1-ubyte", idx({0x801, 2}, 2));
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
  EXPECT_EQ(error_of([] { dataset_option_info("svhn"); }),
            "unknown dataset 'svhn' (known: fashion-mnist, mnist, cifar10, cifar100, imagenet, synthetic)");
  EXPECT_EQ(error_of([] { make_dataset("mnist", "/x", "train", {{"flaten", true}}); }),
            "unknown option 'flaten' for dataset 'mnist' (known: flatten, mean, std)");
  EXPECT_EQ(error_of([] { make_dataset("cifar10", "/x", "train", {{"coarse", true}}); }),
            "unknown option 'coarse' for dataset 'cifar10' (known: augment, padding, check_counts, mean, std)");
  EXPECT_EQ(error_of([] { make_dataset("synthetic", "", "train", json::array({1})); }),
            "options for dataset 'synthetic' must be a JSON object, got [1]");
  EXPECT_NE(error_of([] { make_dataset("cifar10", "/nonexistent", "train"); }).find("error reading /nonexistent/"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_dataset("imagenet", "/nonexistent", "val"); }).find("error reading /nonexistent/val"),
            std::string::npos);
  EXPECT_EQ(error_of([] { make_dataset("synthetic", "", "dev"); }),
            "unknown split 'dev' for synthetic (expected train or test)");
  EXPECT_EQ(dataset_names().size(), 6u);
}

TEST(Registry, WrongTypeNamesTheKey) {
  EXPECT_EQ(error_of([] { make_dataset("synthetic", "", "train", {{"size", "ten"}}); }),
            "data.options.size must be an integer, got \"ten\"");
  EXPECT_EQ(error_of([] { make_dataset("synthetic", "", "train", {{"classes", 2.5}}); }),
            "data.options.classes must be an integer, got 2.5");
  EXPECT_EQ(error_of([] { make_dataset("mnist", "/x", "train", {{"flatten", 1}}); }),
            "data.options.flatten must be true or false, got 1");
  EXPECT_EQ(error_of([] { make_dataset("cifar10", "/x", "train", {{"mean", {0.1, 0.2}}}); }),
            "data.options.mean must be a number or a list of 3 numbers, got [0.1,0.2]");
  EXPECT_EQ(error_of([] { make_dataset("imagenet", "/x", "train", {{"scale", "all"}}); }),
            "data.options.scale must be a number or a list of 2 numbers, got \"all\"");
  EXPECT_EQ(error_of([] { make_dataset("synthetic", "", "train", {{"shape", {3, "8"}}}); }),
            "data.options.shape[1] must be an integer, got \"8\"");
}

TEST(Registry, RangeErrorsNameTheKey) {
  EXPECT_EQ(error_of([] { make_dataset("synthetic", "", "train", {{"classes", 0}}); }),
            "data.options.classes must be in [1, 1e+07], got 0");
  EXPECT_EQ(error_of([] { make_dataset("synthetic", "", "train", {{"classes", 1e10}}); }),
            "data.options.classes must be in [1, 1e+07], got 10000000000.0");
  EXPECT_EQ(error_of([] { make_dataset("synthetic", "", "train", {{"shape", {3, 0, 8}}}); }),
            "data.options.shape[1] must be in [1, 1.07374e+09], got 0");
  EXPECT_EQ(error_of([] { make_dataset("synthetic", "", "train", {{"shape", {10000000, 10000000, 10000000}}}); }),
            "data.options.shape holds 1e+21 values per sample, more than 1073741824");
  EXPECT_EQ(error_of([] { make_dataset("synthetic", "", "train", {{"shape", {100000, 100000}}}); }),
            "data.options.shape holds 1e+10 values per sample, more than 1073741824");
  EXPECT_EQ(error_of([] { make_dataset("imagenet", "/x", "train", {{"image_size", 1000000000}}); }),
            "data.options.image_size must be in [1, 8192], got 1000000000");
  EXPECT_EQ(error_of([] { make_dataset("synthetic", "", "train", {{"shape", json::array()}}); }),
            "data.options.shape must be a non-empty list of positive integers, got []");
  EXPECT_EQ(error_of([] { make_dataset("synthetic", "", "train", {{"seed", -1}}); }),
            "data.options.seed must be >= 0, got -1");
  EXPECT_EQ(error_of([] { make_dataset("imagenet", "/x", "train", {{"image_size", -5}}); }),
            "data.options.image_size must be in [1, 8192], got -5");
  EXPECT_EQ(error_of([] { make_dataset("cifar10", "/x", "train", {{"padding", -1}}); }),
            "data.options.padding must be in [0, 32], got -1");
  EXPECT_EQ(error_of([] { make_dataset("cifar100", "/x", "train", {{"std", {0.2, 0, 0.2}}}); }),
            "data.options.std[1] must be > 0, got 0");
  EXPECT_EQ(error_of([] { make_dataset("mnist", "/x", "train", {{"std", -0.5}}); }),
            "data.options.std must be > 0, got -0.5");
  EXPECT_EQ(error_of([] { make_dataset("imagenet", "/x", "train", {{"scale", {0.5, 0.1}}}); }),
            "data.options.scale must be 0 < min <= max, got [0.5, 0.1]");
  EXPECT_EQ(error_of([] { make_dataset("imagenet", "/x", "train", {{"ratio", 0}}); }),
            "data.options.ratio must be > 0, got 0");
}

TEST(Registry, OptionInfoListsTodaysDefaults) {
  EXPECT_EQ(defaults_of("fashion-mnist"), json::parse(R"([["flatten", false], ["mean", 0.286], ["std", 0.353]])"));
  EXPECT_EQ(defaults_of("mnist"), json::parse(R"([["flatten", false], ["mean", 0.1307], ["std", 0.3081]])"));
  EXPECT_EQ(defaults_of("cifar10"), json::parse(R"([["augment", true], ["padding", 4], ["check_counts", true],
      ["mean", [0.4914, 0.4822, 0.4465]], ["std", [0.247, 0.2435, 0.2616]]])"));
  EXPECT_EQ(defaults_of("cifar100"), json::parse(R"([["augment", true], ["padding", 4], ["check_counts", true],
      ["mean", [0.5071, 0.4865, 0.4409]], ["std", [0.2673, 0.2564, 0.2762]], ["coarse", false]])"));
  json imagenet = json::parse(R"([["image_size", 224], ["resize_size", 0], ["augment", true],
      ["scaled_decode", true], ["max_pixels", 67108864], ["scale", [0.08, 1.0]], ["ratio", [0.75, 0]],
      ["mean", [0.485, 0.456, 0.406]], ["std", [0.229, 0.224, 0.225]]])");
  imagenet[6][1][1] = 4.0 / 3.0;
  EXPECT_EQ(defaults_of("imagenet"), imagenet);
  EXPECT_EQ(defaults_of("synthetic"), json::parse(R"([["shape", [3, 224, 224]], ["classes", 1000],
      ["size", 50000], ["seed", 0], ["noise", 1.0]])"));
  for (const auto& o : dataset_option_info("imagenet")) EXPECT_FALSE(o.help.empty()) << o.name;
  EXPECT_EQ(dataset_option_info("cifar10")[1].range, "[0, 32]");
  EXPECT_EQ(dataset_option_info("cifar10")[3].type, "3 numbers");
}

TEST(Registry, IdxSamplesAreNotFlattenedByDefault) {
  TempDir dir;
  write_idx_train(dir.path());
  EXPECT_EQ(make_dataset("mnist", dir.path(), "train")->sample_shape(), (Shape{1, 28, 28}));
  EXPECT_EQ(make_dataset("mnist", dir.path(), "train", {{"flatten", true}})->sample_shape(), (Shape{784}));
  // Normalised with the published statistics, exactly as the data set's own defaults.
  IdxDataset own(dir.path(), "train", idx_defaults("mnist"));
  EXPECT_EQ(sample(*make_dataset("mnist", dir.path(), "train"), 1), sample(own, 1));
}

TEST(Registry, OneNumberStandsForEveryChannel) {
  TempDir dir;
  write_cifar10_test(dir.path());
  const json base = {{"check_counts", false}};
  json one = base, three = base;
  one["mean"] = 0.5;
  one["std"] = 0.25;
  three["mean"] = {0.5, 0.5, 0.5};
  three["std"] = {0.25, 0.25, 0.25};
  CifarOptions o = cifar_defaults(false);
  o.check_counts = false;
  o.norm = Normalization{{0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}};
  CifarDataset direct(dir.path(), "test", o);
  auto a = sample(*make_dataset("cifar10", dir.path(), "test", one), 1);
  EXPECT_EQ(a, sample(*make_dataset("cifar10", dir.path(), "test", three), 1));
  EXPECT_EQ(a, sample(direct, 1));
  // The defaults: the published statistics as cifar_defaults holds them, float for float.
  CifarDataset defaults(dir.path(), "test", [] {
    CifarOptions d = cifar_defaults(false);
    d.check_counts = false;
    return d;
  }());
  EXPECT_EQ(sample(*make_dataset("cifar10", dir.path(), "test", base), 0), sample(defaults, 0));
}
