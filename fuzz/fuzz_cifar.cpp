// CIFAR reader (data/cifar.*): the bytes as every file of one split, opened by
// CifarDataset without the published-count check, and its first and last samples read
// (with the random crop and flip on the train split). Input: the file's bytes, then a
// mode byte. Mode bit 0: CIFAR-100; bit 1: coarse labels; bit 2: train split (CIFAR-10's
// five batch files all hold the bytes); bit 3: augment; bits 4-7: the crop padding.
#include <cmath>

#include "data/cifar.h"
#include "fuzz_input.h"

using namespace sprout;
using namespace sprout::data;

namespace {

std::vector<std::string> split_names(bool cifar100, bool train) {
  if (cifar100) return {train ? "train.bin" : "test.bin"};
  if (!train) return {"test_batch.bin"};
  std::vector<std::string> names;
  for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
  return names;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Framed in;
  if (!fuzz::unframe(data, size, in)) return 0;
  CifarOptions o = cifar_defaults(in.mode & 1);
  o.coarse = in.mode & 2;
  const bool train = in.mode & 4;
  o.augment = in.mode & 8;
  o.padding = in.mode >> 4;
  o.check_counts = false;
  // A folder per data set and split, so no other split's file is ever beside these.
  const std::string sub = std::string("cifar") + (o.cifar100 ? "100-" : "10-") + (train ? "train" : "test");
  for (const auto& name : split_names(o.cifar100, train)) fuzz::write_input(sub + "/" + name, in.bytes);
  const std::string dir = fuzz::scratch_dir() + "/" + sub;
  fuzz::accepts([&] {
    CifarDataset ds(dir, train ? "train" : "test", o);
    std::vector<float> x((size_t)shape_numel(ds.sample_shape()));
    Rng rng(in.mode);
    for (int64_t i : {int64_t(0), ds.size() - 1}) {
      int32_t label = -1;
      ds.get(i, x.data(), &label, rng);
      if (label < 0 || label >= ds.num_classes()) fuzz::broken("label out of range");
      for (float v : x)
        if (!std::isfinite(v)) fuzz::broken("sample value is not finite");
    }
  });
  return 0;
}
