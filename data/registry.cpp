// make_dataset: each data set declares the options it reads from data.options (type,
// default, range, help) as an Options<> bound to its options struct, rejects keys it
// does not declare, reads them once, then constructs the data set. Defaults come from
// the data sets' own (idx_defaults, cifar_defaults, ImageNetOptions, SyntheticOptions),
// except flatten, which is off: the MLP flattens its input itself.
#include "data/registry.h"

#include "data/cifar.h"
#include "data/idx.h"
#include "data/imagenet.h"
#include "data/synthetic.h"
#include "engine/core/error.h"

namespace sprout::data {

namespace {

using nlohmann::json;
using option_check::decimal;

// Errors name the key as a config writes it: "data.options.padding must be >= 0, got -1".
const std::string kPrefix = "data.options.";
// One synthetic sample's values at most (2^30: 4 GB of float32).
constexpr int64_t kMaxSampleValues = int64_t{1} << 30;

std::string where(const std::string& name) { return "dataset '" + name + "'"; }

// mean and std as read (3 numbers each; one number stands for all three), turned into
// a Normalization once read.
template <class S>
void declare_normalization(Options<S>& o, const Normalization& d) {
  o.numbers_n("mean", &S::mean, {decimal(d.mean[0]), decimal(d.mean[1]), decimal(d.mean[2])}, 3, Range::any(),
              "per-channel mean: samples are (x / 255 - mean) / std")
      .numbers_n("std", &S::std, {decimal(d.std[0]), decimal(d.std[1]), decimal(d.std[2])}, 3, Range::above(0),
                 "per-channel standard deviation");
}

Normalization normalization(const std::vector<double>& mean, const std::vector<double>& std) {
  Normalization n;
  for (size_t c = 0; c < 3; ++c) {
    n.mean[c] = option_check::narrow<float>(mean[c], kPrefix + "mean");
    n.std[c] = option_check::narrow<float>(std[c], kPrefix + "std");
  }
  return n;
}

// fashion-mnist, mnist: defaults are each one's published statistics.
const Options<IdxOptions>& idx_options(const std::string& name) {
  static const auto declare = [](const std::string& n) {
    const IdxOptions d = idx_defaults(n);
    return Options<IdxOptions>()
        .flag("flatten", &IdxOptions::flatten, false, "samples [784] instead of [1, 28, 28]")
        .number("mean", &IdxOptions::mean, d.mean, Range::any(), "samples are (x / 255 - mean) / std")
        .number("std", &IdxOptions::std, d.std, Range::above(0), "standard deviation of x / 255");
  };
  static const Options<IdxOptions> fashion = declare("fashion-mnist"), mnist = declare("mnist");
  return name == "mnist" ? mnist : fashion;
}

DatasetPtr make_idx(const std::string& name, const std::string& root, const std::string& split,
                    const json& options) {
  idx_options(name).check_known(options, where(name));
  IdxOptions o = idx_options(name).read(options, kPrefix);
  o.name = name;
  return std::make_shared<IdxDataset>(root, split, o);
}

// CifarOptions with mean and std as read, put into norm once read.
struct CifarRead : CifarOptions {
  std::vector<double> mean, std;
};

// cifar10, cifar100 (which alone has `coarse`): defaults are each one's statistics.
const Options<CifarRead>& cifar_options(bool cifar100) {
  static const auto declare = [](bool c100) {
    const CifarOptions d = cifar_defaults(c100);
    Options<CifarRead> o;
    o.flag("augment", &CifarRead::augment, d.augment, "train split: random crop with padding and horizontal flip")
        .integer("padding", &CifarRead::padding, d.padding, Range::closed(0, 32), "pixels of padding for the random crop")
        .flag("check_counts", &CifarRead::check_counts, d.check_counts,
              "the files must hold the published record counts");
    declare_normalization(o, d.norm);
    if (c100) o.flag("coarse", &CifarRead::coarse, d.coarse, "the 20 superclasses as labels, not the 100 classes");
    return o;
  };
  static const Options<CifarRead> c10 = declare(false), c100 = declare(true);
  return cifar100 ? c100 : c10;
}

DatasetPtr make_cifar(const std::string& name, const std::string& root, const std::string& split,
                      const json& options) {
  const bool c100 = name == "cifar100";
  cifar_options(c100).check_known(options, where(name));
  CifarRead r = cifar_options(c100).read(options, kPrefix);
  CifarOptions o = r;
  o.cifar100 = c100;
  o.norm = normalization(r.mean, r.std);
  return std::make_shared<CifarDataset>(root, split, o);
}

// ImageNetOptions with the crop's scale and ratio and the normalisation as read.
struct ImageNetRead : ImageNetOptions {
  std::vector<double> scale, ratio, mean, std;
};

const Options<ImageNetRead>& imagenet_options() {
  static const Options<ImageNetRead> o = [] {
    const ImageNetOptions d{};
    Options<ImageNetRead> o;
    o.integer("image_size", &ImageNetRead::image_size, d.image_size, Range::closed(1, 8192), "side of the square samples")
        .integer("resize_size", &ImageNetRead::resize_size, d.resize_size, Range::closed(0, 65535),
                 "val: shorter side before the centre crop (0: image_size / 0.875)")
        .flag("augment", &ImageNetRead::augment, d.augment,
              "train split: random resized crop and horizontal flip (else the val transform)")
        .flag("scaled_decode", &ImageNetRead::scaled_decode, d.scaled_decode,
              "let the JPEG decoder shrink large images by k/8")
        .integer("max_pixels", &ImageNetRead::max_pixels, d.max_pixels, Range::closed(1, 4294967296.0),
                 "a file whose JPEG header claims more pixels (width x height) is skipped with a warning, "
                 "never decoded")
        .numbers_n("scale", &ImageNetRead::scale, {d.crop.scale_min, d.crop.scale_max}, 2, Range::above(0),
                   "random resized crop: [min, max] fraction of the image's area")
        .numbers_n("ratio", &ImageNetRead::ratio, {d.crop.ratio_min, d.crop.ratio_max}, 2, Range::above(0),
                   "random resized crop: [min, max] aspect ratio");
    declare_normalization(o, d.norm);
    return o;
  }();
  return o;
}

// A [min, max] pair read by numbers_n (each already > 0).
void check_min_max(const std::vector<double>& v, const char* key) {
  if (v[0] > v[1]) SPROUT_FAIL(kPrefix, key, " must be 0 < min <= max, got [", v[0], ", ", v[1], "]");
}

DatasetPtr make_imagenet(const std::string& root, const std::string& split, const json& options) {
  imagenet_options().check_known(options, where("imagenet"));
  ImageNetRead r = imagenet_options().read(options, kPrefix);
  check_min_max(r.scale, "scale");
  check_min_max(r.ratio, "ratio");
  ImageNetOptions o = r;
  o.crop = RandomResizedCropParams{r.scale[0], r.scale[1], r.ratio[0], r.ratio[1]};
  o.norm = normalization(r.mean, r.std);
  return std::make_shared<ImageNetDataset>(root, split, o);
}

const Options<SyntheticOptions>& synthetic_options() {
  static const Options<SyntheticOptions> o = [] {
    const SyntheticOptions d{};
    return Options<SyntheticOptions>()
        .integers("shape", &SyntheticOptions::shape, d.shape, Range::closed(1, (double)kMaxSampleValues), "sample shape")
        .integer("classes", &SyntheticOptions::classes, d.classes, Range::closed(1, 1e7), "number of classes")
        .integer("size", &SyntheticOptions::size, d.size, Range::closed(1, 1e12), "samples per split")
        .integer("seed", &SyntheticOptions::seed, (int64_t)d.seed, Range::at_least(0),
                 "seeds the samples (the test split draws from another seed)")
        .number("noise", &SyntheticOptions::noise, d.noise, Range::at_least(0),
                "half-width of the uniform noise around each class's offsets");
  }();
  return o;
}

DatasetPtr make_synthetic(const std::string& split, const json& options) {
  synthetic_options().check_known(options, where("synthetic"));
  SyntheticOptions o = synthetic_options().read(options, kPrefix);
  if (o.shape.empty()) SPROUT_FAIL(kPrefix, "shape must be a non-empty list of positive integers, got []");
  double values = 1;  // in double: the product of unchecked sides may overflow int64
  for (int64_t side : o.shape) values *= (double)side;
  if (values > (double)kMaxSampleValues)
    SPROUT_FAIL(kPrefix, "shape holds ", values, " values per sample, more than ", kMaxSampleValues);
  if (split != "train" && split != "test" && split != "val")
    SPROUT_FAIL("unknown split '", split, "' for synthetic (expected train or test)");
  // The test split is another draw, so train and test samples differ.
  if (split != "train") o.seed ^= 0x7465737473706c74ull;
  return std::make_shared<SyntheticDataset>(o);
}

[[noreturn]] void fail_unknown(const std::string& name) {
  std::string list;
  for (const auto& n : dataset_names()) list += (list.empty() ? "" : ", ") + n;
  SPROUT_FAIL("unknown dataset '", name, "' (known: ", list, ")");
}

bool is_idx(const std::string& name) { return name == "fashion-mnist" || name == "mnist"; }
bool is_cifar(const std::string& name) { return name == "cifar10" || name == "cifar100"; }

}  // namespace

std::vector<std::string> dataset_names() {
  return {"fashion-mnist", "mnist", "cifar10", "cifar100", "imagenet", "synthetic"};
}

DatasetPtr make_dataset(const std::string& name, const std::string& root, const std::string& split,
                        const nlohmann::json& options) {
  if (is_idx(name)) return make_idx(name, root, split, options);
  if (is_cifar(name)) return make_cifar(name, root, split, options);
  if (name == "imagenet") return make_imagenet(root, split, options);
  if (name == "synthetic") return make_synthetic(split, options);
  fail_unknown(name);
}

train::DataSpec describe_dataset(const std::string& name, const nlohmann::json& options) {
  if (is_idx(name)) {
    idx_options(name).check_known(options, where(name));
    return {idx_options(name).read(options, kPrefix).flatten ? Shape{784} : Shape{1, 28, 28}, 10};
  }
  if (is_cifar(name)) {
    const bool c100 = name == "cifar100";
    cifar_options(c100).check_known(options, where(name));
    return {Shape{3, 32, 32}, !c100 ? 10 : cifar_options(true).read(options, kPrefix).coarse ? 20 : 100};
  }
  if (name == "imagenet") {
    imagenet_options().check_known(options, where(name));
    const int64_t side = imagenet_options().read(options, kPrefix).image_size;
    return {Shape{3, side, side}, 1000};  // the full data set's classes; a folder may hold fewer
  }
  if (name == "synthetic") {
    DatasetPtr d = make_synthetic("train", options);  // no files to read
    return {d->sample_shape(), d->num_classes()};
  }
  fail_unknown(name);
}

std::vector<OptionInfo> dataset_option_info(const std::string& name) {
  if (is_idx(name)) return idx_options(name).info();
  if (is_cifar(name)) return cifar_options(name == "cifar100").info();
  if (name == "imagenet") return imagenet_options().info();
  if (name == "synthetic") return synthetic_options().info();
  fail_unknown(name);
}

}  // namespace sprout::data
