// make_dataset: reads each dataset's options from JSON with type checks that name the
// key, then constructs the dataset.
#include "data/registry.h"

#include <algorithm>

#include "data/cifar.h"
#include "data/idx.h"
#include "data/imagenet.h"
#include "data/synthetic.h"
#include "engine/core/error.h"

namespace sprout::data {

namespace {

using nlohmann::json;

class OptionReader {
 public:
  OptionReader(const std::string& dataset, const json& options, std::vector<std::string> known)
      : dataset_(dataset), options_(options), known_(std::move(known)) {
    SPROUT_CHECK(options_.is_object() || options_.is_null(), "options for dataset '", dataset_,
                 "' must be a JSON object, got ", options_.dump());
    if (options_.is_null()) return;
    for (auto it = options_.begin(); it != options_.end(); ++it) {
      if (std::find(known_.begin(), known_.end(), it.key()) == known_.end()) {
        std::string list;
        for (const auto& k : known_) list += (list.empty() ? "" : ", ") + k;
        SPROUT_FAIL("unknown option '", it.key(), "' for dataset '", dataset_, "' (known: ", list, ")");
      }
    }
  }
  bool has(const std::string& key) const { return options_.is_object() && options_.contains(key); }
  const json& at(const std::string& key) const { return options_.at(key); }

  bool get_bool(const std::string& key, bool def) const {
    if (!has(key)) return def;
    check(at(key).is_boolean(), key, "a boolean");
    return at(key).get<bool>();
  }
  double get_number(const std::string& key, double def) const {
    if (!has(key)) return def;
    check(at(key).is_number(), key, "a number");
    return at(key).get<double>();
  }
  int64_t get_int(const std::string& key, int64_t def) const {
    if (!has(key)) return def;
    check(at(key).is_number_integer(), key, "an integer");
    return at(key).get<int64_t>();
  }
  // A list of `n` numbers; a single number stands for all of them.
  std::vector<double> get_numbers(const std::string& key, size_t n, std::vector<double> def) const {
    if (!has(key)) return def;
    const json& v = at(key);
    if (v.is_number()) return std::vector<double>(n, v.get<double>());
    check(v.is_array() && v.size() == n, key, detail::concat("a list of ", n, " numbers"));
    std::vector<double> out;
    for (const auto& e : v) {
      check(e.is_number(), key, detail::concat("a list of ", n, " numbers"));
      out.push_back(e.get<double>());
    }
    return out;
  }

 private:
  void check(bool ok, const std::string& key, const std::string& what) const {
    if (!ok) SPROUT_FAIL("option '", key, "' for dataset '", dataset_, "' must be ", what, ", got ", at(key).dump());
  }
  std::string dataset_;
  const json& options_;
  std::vector<std::string> known_;
};

void read_norm(const OptionReader& r, Normalization& norm) {
  auto mean = r.get_numbers("mean", 3, {norm.mean[0], norm.mean[1], norm.mean[2]});
  auto std = r.get_numbers("std", 3, {norm.std[0], norm.std[1], norm.std[2]});
  for (int c = 0; c < 3; ++c) {
    norm.mean[c] = (float)mean[(size_t)c];
    norm.std[c] = (float)std[(size_t)c];
    SPROUT_CHECK(norm.std[c] > 0, "option 'std' must be positive, got ", std[(size_t)c]);
  }
}

}  // namespace

std::vector<std::string> dataset_names() {
  return {"fashion-mnist", "mnist", "cifar10", "cifar100", "imagenet", "synthetic"};
}

DatasetPtr make_dataset(const std::string& name, const std::string& root, const std::string& split,
                        const nlohmann::json& options) {
  if (name == "fashion-mnist" || name == "mnist") {
    OptionReader r(name, options, {"flatten", "mean", "std"});
    IdxOptions o = idx_defaults(name);
    o.flatten = r.get_bool("flatten", o.flatten);
    o.mean = (float)r.get_number("mean", o.mean);
    o.std = (float)r.get_number("std", o.std);
    return std::make_shared<IdxDataset>(root, split, o);
  }
  if (name == "cifar10" || name == "cifar100") {
    bool c100 = name == "cifar100";
    std::vector<std::string> keys = {"augment", "padding", "check_counts", "mean", "std"};
    if (c100) keys.push_back("coarse");
    OptionReader r(name, options, keys);
    CifarOptions o = cifar_defaults(c100);
    o.augment = r.get_bool("augment", o.augment);
    o.padding = (int)r.get_int("padding", o.padding);
    o.check_counts = r.get_bool("check_counts", o.check_counts);
    o.coarse = r.get_bool("coarse", false);
    read_norm(r, o.norm);
    return std::make_shared<CifarDataset>(root, split, o);
  }
  if (name == "imagenet") {
    OptionReader r(name, options,
                   {"image_size", "resize_size", "augment", "scaled_decode", "scale", "ratio", "mean", "std"});
    ImageNetOptions o;
    o.image_size = (int)r.get_int("image_size", o.image_size);
    o.resize_size = (int)r.get_int("resize_size", o.resize_size);
    o.augment = r.get_bool("augment", o.augment);
    o.scaled_decode = r.get_bool("scaled_decode", o.scaled_decode);
    auto scale = r.get_numbers("scale", 2, {o.crop.scale_min, o.crop.scale_max});
    auto ratio = r.get_numbers("ratio", 2, {o.crop.ratio_min, o.crop.ratio_max});
    SPROUT_CHECK(scale[0] > 0 && scale[0] <= scale[1], "option 'scale' must be 0 < min <= max, got [", scale[0],
                 ", ", scale[1], "]");
    SPROUT_CHECK(ratio[0] > 0 && ratio[0] <= ratio[1], "option 'ratio' must be 0 < min <= max, got [", ratio[0],
                 ", ", ratio[1], "]");
    o.crop = RandomResizedCropParams{scale[0], scale[1], ratio[0], ratio[1]};
    read_norm(r, o.norm);
    return std::make_shared<ImageNetDataset>(root, split, o);
  }
  if (name == "synthetic") {
    OptionReader r(name, options, {"shape", "classes", "size", "seed", "noise"});
    SyntheticOptions o;
    if (r.has("shape")) {
      const auto& s = r.at("shape");
      SPROUT_CHECK(s.is_array() && !s.empty(), "option 'shape' for dataset 'synthetic' must be a list of "
                   "positive integers, got ", s.dump());
      o.shape.clear();
      for (const auto& e : s) {
        SPROUT_CHECK(e.is_number_integer() && e.get<int64_t>() > 0, "option 'shape' for dataset 'synthetic' "
                     "must be a list of positive integers, got ", s.dump());
        o.shape.push_back(e.get<int64_t>());
      }
    }
    o.classes = (int)r.get_int("classes", o.classes);
    o.size = r.get_int("size", o.size);
    o.seed = (uint64_t)r.get_int("seed", (int64_t)o.seed);
    o.noise = (float)r.get_number("noise", o.noise);
    SPROUT_CHECK(split == "train" || split == "test" || split == "val", "unknown split '", split,
                 "' for synthetic (expected train or test)");
    // The test split is another draw, so train and test samples differ.
    if (split != "train") o.seed ^= 0x7465737473706c74ull;
    return std::make_shared<SyntheticDataset>(o);
  }
  std::string list;
  for (const auto& n : dataset_names()) list += (list.empty() ? "" : ", ") + n;
  SPROUT_FAIL("unknown dataset '", name, "' (known: ", list, ")");
}

}  // namespace sprout::data
