// Checkpoint loading rejects every kind of invalid file before any of it is used: one
// case per way a checkpoint can be wrong (sparse structure, counters, the method and
// model it was written by, non-finite values, bit rot, the safetensors layout), each
// resumed through the Trainer and expected to fail with one line naming the file and
// what is wrong.
#include <cmath>
#include <cstring>
#include <limits>

#include "checkpoint_testing.h"

namespace sprout::testing {
namespace {

class CheckpointLoad : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("sprout_ckpt_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "edits");
    csr_ = write_checkpoint(tiny_run_config(dir_, "rigl", {"train.max_steps=11"}), dir_ / "csr");
    bsr_ = write_checkpoint(tiny_run_config(dir_, "rigl", {"train.max_steps=11", "sparsity.format=bsr"}),
                            dir_ / "bsr");
    static_ = write_checkpoint(tiny_run_config(dir_, "static", {"train.max_steps=3"}), dir_ / "static");
    set_ = write_checkpoint(tiny_run_config(dir_, "set", {"train.max_steps=3"}), dir_ / "set");
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static Json rigl(bool bsr = false) {
    return tiny_run_config(dir_, "rigl", bsr ? std::vector<std::string>{"sparsity.format=bsr"}
                                             : std::vector<std::string>{});
  }
  static std::string out(const std::string& name) { return (dir_ / "edits" / name).string(); }
  static std::string error_of(const std::string& checkpoint, bool bsr = false) {
    return resume_error(rigl(bsr), checkpoint, dir_ / "resumed");
  }
  // Resuming `checkpoint` fails with one line naming the file and every needle.
  static void expect_rejected(const std::string& checkpoint, const std::vector<std::string>& needles,
                              bool bsr = false) {
    const std::string e = error_of(checkpoint, bsr);
    ASSERT_FALSE(e.empty()) << checkpoint << " was accepted";
    EXPECT_EQ(e.rfind("other exception", 0), std::string::npos) << e;
    EXPECT_NE(e.find(checkpoint), std::string::npos) << "the error does not name the file: " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << "the error is not one line: " << e;
    for (const auto& n : needles) EXPECT_NE(e.find(n), std::string::npos) << "'" << n << "' not in: " << e;
  }
  // A row of `layer` with at least two entries.
  static int64_t long_row(CheckpointEdit& c, const std::string& layer) {
    const int32_t* r = c.row_ptr(layer);
    for (int64_t i = 0;; ++i)
      if (r[i + 1] - r[i] >= 2) return i;
  }

  static fs::path dir_;
  static std::string csr_, bsr_, static_, set_;
};
fs::path CheckpointLoad::dir_;
std::string CheckpointLoad::csr_, CheckpointLoad::bsr_, CheckpointLoad::static_, CheckpointLoad::set_;

TEST_F(CheckpointLoad, AcceptsTheCheckpointsItWrites) {
  EXPECT_EQ(error_of(csr_), "");
  EXPECT_EQ(error_of(bsr_, true), "");
}

TEST_F(CheckpointLoad, RejectsANegativeColumnIndex) {
  CheckpointEdit c(csr_);
  const std::string layer = c.layer_with_cols(12);
  c.col_idx(layer)[c.nnz(layer) / 2] = -1;
  expect_rejected(c.save(out("neg_col.safetensors")), {layer, "column -1"});
}

TEST_F(CheckpointLoad, RejectsAnOutOfRangeColumnIndex) {
  CheckpointEdit c(csr_);
  const std::string layer = c.layer_with_cols(12);
  c.col_idx(layer)[c.nnz(layer) - 1] = 12;  // the layer has 12 inputs
  expect_rejected(c.save(out("big_col.safetensors")), {layer, "column 12 outside [0, 12)"});
  c.col_idx(layer)[c.nnz(layer) - 1] = std::numeric_limits<int32_t>::max();
  expect_rejected(c.save(out("max_col.safetensors")), {layer, "outside [0, 12)"});
}

TEST_F(CheckpointLoad, RejectsDuplicateOrUnsortedColumnsInARow) {
  CheckpointEdit c(csr_);
  const std::string layer = c.layer_with_cols(12);
  const int64_t row = long_row(c, layer);
  int32_t* col = c.col_idx(layer) + c.row_ptr(layer)[row];
  std::swap(col[0], col[1]);
  expect_rejected(c.save(out("unsorted.safetensors")), {layer, "unsorted columns"});
  col[0] = col[1];
  expect_rejected(c.save(out("dup_col.safetensors")), {layer, "repeats column"});
}

TEST_F(CheckpointLoad, RejectsRowPointersThatDisagreeWithNnz) {
  const std::string layer = CheckpointEdit(csr_).layer_with_cols(12);
  auto edited = [&](const std::string& name, auto&& edit) {
    CheckpointEdit c(csr_);
    edit(c.row_ptr(layer), c.nnz(layer));
    return c.save(out(name));
  };
  expect_rejected(edited("rp_end.safetensors", [](int32_t* r, int64_t) { r[16] += 1; }), {layer, "row_ptr ends at"});
  expect_rejected(edited("rp_start.safetensors", [](int32_t* r, int64_t) { r[0] = 1; }), {layer, "row_ptr[0] is 1"});
  expect_rejected(edited("rp_down.safetensors", [](int32_t* r, int64_t) { r[5] = r[6] + 1; }), {layer, "row_ptr"});
  // Past nnz in the middle, back to nnz at the end: no column read before the check.
  expect_rejected(edited("rp_over.safetensors", [](int32_t* r, int64_t nnz) { r[1] = (int32_t)nnz + 100000; }),
                  {layer, "row_ptr"});
}

TEST_F(CheckpointLoad, RejectsBlockStructuresThatDoNotFitTheModel) {
  CheckpointEdit c(bsr_);
  const std::string layer = c.layer_with_cols(12);
  c.col_idx(layer)[0] = 3;  // 12 inputs in blocks of 4: block columns 0..2
  expect_rejected(c.save(out("bsr_col.safetensors")), {layer, "outside [0, 3)"}, true);
  CheckpointEdit b(bsr_);
  Json sparse = Json::parse(b.meta.at("sparse"));
  sparse[layer]["block"] = 2;
  b.meta["sparse"] = sparse.dump();
  expect_rejected(b.save(out("bsr_block.safetensors")), {layer, "block"}, true);
}

TEST_F(CheckpointLoad, RejectsNegativeCounters) {
  for (const char* key : {"step", "epoch", "batch_in_epoch", "optimizer_steps"}) {
    CheckpointEdit c(csr_);
    c.meta[key] = "-1";
    expect_rejected(c.save(out(std::string("neg_") + key + ".safetensors")), {key});
  }
}

TEST_F(CheckpointLoad, RejectsCountersTheRunCannotHaveReached) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"step", "1000000"}, {"step", "99999999999999999999"}, {"epoch", "7"}, {"batch_in_epoch", "8"},
      {"batch_in_epoch", "5"}, {"optimizer_steps", "12"}, {"epoch", "9223372036854775807"}};
  int i = 0;
  for (const auto& [key, value] : cases) {
    CheckpointEdit c(csr_);
    c.meta[key] = value;
    expect_rejected(c.save(out("huge_" + std::to_string(i++) + ".safetensors")), {key});
  }
}

TEST_F(CheckpointLoad, RejectsCountersThatAreNotPlainIntegers) {
  int i = 0;
  for (const char* value : {"11abc", "1e1", " 11", "+11", "0x0b", "11.0", "", "11 "}) {
    CheckpointEdit c(csr_);
    c.meta["step"] = value;
    expect_rejected(c.save(out("text_" + std::to_string(i++) + ".safetensors")), {"step"});
  }
}

TEST_F(CheckpointLoad, RejectsACheckpointOfAnotherMethod) {
  expect_rejected(static_, {"'static'", "'rigl'"});
  expect_rejected(set_, {"'set'", "'rigl'"});
}

TEST_F(CheckpointLoad, RejectsACheckpointOfAnotherModel) {
  CheckpointEdit c(csr_);
  Json cfg = c.config();
  cfg["model"]["hidden"] = {32};
  c.meta["config"] = cfg.dump();
  expect_rejected(c.save(out("model.safetensors")), {"model"});
}

TEST_F(CheckpointLoad, RejectsNonFiniteValues) {
  const double bad[] = {std::nan(""), INFINITY, -INFINITY};
  int i = 0;
  for (double v : bad) {
    CheckpointEdit c(csr_);
    for (auto& [name, t] : c.tensors) {
      if (t.dtype() != DType::F32 || t.numel() == 0) continue;
      CheckpointEdit d = c;
      for (auto& [n, u] : d.tensors) u = u.clone();
      d.tensors.at(name).data<float>()[d.tensors.at(name).numel() - 1] = (float)v;
      expect_rejected(d.save(out("nonfinite_" + std::to_string(i++) + ".safetensors")), {name, "finite"});
    }
  }
}

TEST_F(CheckpointLoad, RejectsBitRotInATensor) {
  CheckpointEdit c(csr_);
  const std::string layer = c.layer_with_cols(12);
  const Tensor& v = c.tensors.at("model." + layer + ".values");
  std::string bytes = file_bytes(csr_);
  // The lowest mantissa bit of a stored value: still finite, still plausible.
  const float x = v.data<float>()[0];
  std::string pattern(reinterpret_cast<const char*>(&x), 4);
  const size_t at = bytes.rfind(pattern);
  ASSERT_NE(at, std::string::npos);
  bytes[at] ^= 1;
  write_bytes(out("rot.safetensors"), bytes);
  expect_rejected(out("rot.safetensors"), {"checksum"});
}

TEST_F(CheckpointLoad, RejectsTensorsWithoutAPlaceAndMissingOnes) {
  CheckpointEdit c(csr_);
  c.tensors["model.extra"] = Tensor::zeros({2}, DType::F32);
  expect_rejected(c.save(out("extra.safetensors")), {"'model.extra' has no place in this run"});
  CheckpointEdit d(csr_);
  const std::string layer = d.layer_with_cols(12);
  d.tensors.erase("optim." + layer + ".momentum");
  expect_rejected(d.save(out("missing.safetensors")), {"no tensor 'optim." + layer + ".momentum'"});
  CheckpointEdit e(csr_);
  e.tensors["model." + layer + ".values"] = Tensor::zeros({3, 2}, DType::F32);
  expect_rejected(e.save(out("values2d.safetensors")), {layer, "values has shape [3, 2]"});
}

TEST_F(CheckpointLoad, RejectsBrokenRngAndMethodState) {
  CheckpointEdit c(csr_);
  c.meta["init_rng"] = "[0,0,0,0]";
  expect_rejected(c.save(out("rng0.safetensors")), {"init_rng", "not all zero"});
  CheckpointEdit d(csr_);
  d.meta["sparsifier"] = R"({"rng": [1, 2, 3]})";
  expect_rejected(d.save(out("rng3.safetensors")), {"sparsifier", "rigl.rng"});
  d.meta["sparsifier"] = R"({"rng": [1, 2, 3, 4], "extra": 1})";
  expect_rejected(d.save(out("rngx.safetensors")), {"sparsifier"});
  d.meta["sparsifier"] = std::string(100000, '[') + std::string(100000, ']');
  expect_rejected(d.save(out("deep.safetensors")), {"sparsifier", "nested deeper than"});
}

TEST_F(CheckpointLoad, ARejectedCheckpointLeavesTheRunUnchanged) {
  train::Trainer t(rigl(), Device::cpu(), (dir_ / "unchanged").string(), true);
  auto snapshot = [&] {
    std::vector<std::vector<float>> v;
    for (auto& p : t.run().model->parameters()) v.push_back(p.tensor->to_vector<float>());
    for (auto& [name, s] : t.run().optimizer->named_state()) v.push_back(s->to_vector<float>());
    return v;
  };
  const auto before = snapshot();
  CheckpointEdit c(csr_);
  c.tensors["model.extra"] = Tensor::zeros({2}, DType::F32);  // found only after every tensor is matched
  EXPECT_THROW(t.resume(c.save(out("late.safetensors"))), Error);
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(t.run().step_count, 0);
}

TEST_F(CheckpointLoad, LoadsAnOlderCheckpointWithoutChecksums) {
  // The format before checksums, written as it was: no "checksums" metadata at all.
  const std::string bytes = file_bytes(csr_);
  Json h = header_of(bytes);
  h["__metadata__"].erase(io::kChecksumsKey);
  h["__metadata__"]["format"] = "sprout-checkpoint-v1";
  write_bytes(out("v1.safetensors"), with_header_text(bytes, h.dump()));
  EXPECT_EQ(error_of(out("v1.safetensors")), "");
  // The current format always carries them.
  h["__metadata__"]["format"] = "sprout-checkpoint-v2";
  write_bytes(out("v2.safetensors"), with_header_text(bytes, h.dump()));
  expect_rejected(out("v2.safetensors"), {"no checksums"});
}

TEST_F(CheckpointLoad, AcceptsACheckpointFromTheEndOfARun) {
  const std::string end = write_checkpoint(rigl(), dir_ / "end");
  EXPECT_EQ(error_of(end), "");
  CheckpointEdit c(end);
  c.meta["batch_in_epoch"] = "1";
  c.meta["step"] = "17";
  expect_rejected(c.save(out("past_end.safetensors")), {"batch_in_epoch"});
}

}  // namespace
}  // namespace sprout::testing
