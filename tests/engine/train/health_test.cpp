// Numerical health: a non-finite loss stops the run at the step it happened, between
// logged steps too, with no checkpoint or model written and the last good checkpoint
// kept; evaluation of NaN logits is NaN, not a perfect score; and the check before a
// file is written names the first bad parameter.
#include <cmath>
#include <limits>

#include "engine/train/health.h"
#include "engine/train/train_testing.h"

namespace sprout::train {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

class HealthTest : public TrainTest {};

// lr 1e30 makes step 1's update blow the weights up, so step 2's loss is not finite.
// Logging every 100 steps and stopping at step 3, no progress line reads the loss.
TEST_F(HealthTest, DivergedRunStopsAtTheStepAndKeepsTheLastCheckpoint) {
  const fs::path run = dir_ / "run";
  {
    Trainer good(tiny({"train.epochs=1"}), Device::cpu(), run.string(), true);
    good.fit();
  }
  const std::string checkpoint = bytes_of(run / "checkpoint.safetensors");
  const std::string model = bytes_of(run / "model.safetensors");
  const std::string summary = bytes_of(run / "summary.json");
  Trainer diverged(tiny({"optimizer.lr=1e30", "train.log_every=100", "train.max_steps=5"}), Device::cpu(),
                   run.string(), true);
  EXPECT_EQ(error_of([&] { diverged.fit(); }),
            "loss is not finite at step 3 (epoch 1); the run stops and no checkpoint or model is written");
  EXPECT_EQ(bytes_of(run / "checkpoint.safetensors"), checkpoint);
  EXPECT_EQ(bytes_of(run / "model.safetensors"), model);
  EXPECT_EQ(bytes_of(run / "summary.json"), summary);
}

// One step at lr 1e30: the loss read was finite, the weights it left are not, and the
// evaluation after it sees non-finite logits.
TEST_F(HealthTest, NonFiniteWeightsAfterTheLastStepAreNeverWritten) {
  Trainer t(tiny({"optimizer.lr=1e30", "train.max_steps=2"}), Device::cpu(), (dir_ / "run").string(), true);
  EXPECT_EQ(error_of([&] { t.fit(); }),
            "evaluation after step 2 gives non-finite logits; the run stops and no checkpoint or model is written");
  EXPECT_FALSE(fs::exists(dir_ / "run" / "checkpoint.safetensors"));
  EXPECT_FALSE(fs::exists(dir_ / "run" / "model.safetensors"));
  EXPECT_FALSE(fs::exists(dir_ / "run" / "summary.json"));
}

// One batch, then done.
class OneBatch : public BatchSource {
 public:
  explicit OneBatch(Batch b) : b_(std::move(b)) {}
  int64_t batches_per_epoch() const override { return 1; }
  void start_epoch(int64_t) override { given_ = false; }
  void skip(int64_t) override { given_ = true; }
  bool next(Batch& out) override {
    if (given_) return false;
    out = b_;
    given_ = true;
    return true;
  }

 private:
  Batch b_;
  bool given_ = false;
};

Batch batch_of(int64_t n, int64_t features, int classes) {
  Batch b{Tensor::zeros({n, features}, DType::F32, Device::cpu()), Tensor::zeros({n}, DType::I32, Device::cpu())};
  for (int64_t i = 0; i < n; ++i) b.y.data<int32_t>()[i] = (int32_t)(i % classes);
  return b;
}

TEST_F(HealthTest, EvaluatingNanLogitsGivesNan) {
  Trainer t(tiny(), Device::cpu(), (dir_ / "run").string(), true);
  nn::Module& model = *t.run().model;
  OneBatch source(batch_of(6, 12, 3));
  const EvalResult fine = evaluate(model, source);
  EXPECT_EQ(fine.samples, 6);
  EXPECT_TRUE(std::isfinite(fine.loss) && std::isfinite(fine.accuracy));
  for (auto& p : model.parameters())
    for (int64_t i = 0; i < p.tensor->numel(); ++i) p.tensor->data<float>()[i] = std::nanf("");
  const EvalResult nan = evaluate(model, source);
  EXPECT_EQ(nan.samples, 6);
  EXPECT_TRUE(std::isnan(nan.accuracy)) << nan.accuracy;
  EXPECT_TRUE(std::isnan(nan.loss)) << nan.loss;
  EXPECT_TRUE(std::isnan(nan.top5)) << nan.top5;
}

TEST_F(HealthTest, ModelCheckNamesTheFirstBadParameter) {
  Trainer t(tiny(), Device::cpu(), (dir_ / "run").string(), true);
  nn::Module& model = *t.run().model;
  EXPECT_EQ(error_of([&] { check_finite_model(model, "x"); }), "");
  auto params = model.parameters();
  ASSERT_GE(params.size(), 3u);
  params[2].tensor->data<float>()[0] = std::numeric_limits<float>::infinity();
  params[1].tensor->data<float>()[params[1].tensor->numel() - 1] = std::nanf("");
  EXPECT_EQ(error_of([&] { check_finite_model(model, "not writing f"); }),
            "not writing f: parameter '" + params[1].name + "' holds NaN or infinite values");
}

TEST_F(HealthTest, TheCpuStopsBeforeTheUpdate) {
  Trainer t(tiny(), Device::cpu(), (dir_ / "run").string(), true);
  train::Run& r = t.run();
  Batch b = batch_of(8, 12, 3);
  b.x.data<float>()[5] = std::numeric_limits<float>::infinity();
  const std::vector<float> before = r.model->parameters()[0].tensor->to_vector<float>();
  EXPECT_EQ(error_of([&] { r.step(b, false); }),
            "loss is not finite at step 1 (epoch 1); the run stops and no checkpoint or model is written");
  EXPECT_EQ(r.model->parameters()[0].tensor->to_vector<float>(), before);
}

}  // namespace
}  // namespace sprout::train
