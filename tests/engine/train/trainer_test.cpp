// The Trainer and the config it is built from: defaults assembled from every
// component's declared options, errors that name the key, the run folder's files, and
// a resumed run bit-identical to one that never stopped (in process, on the CPU).
#include <cmath>

#include "engine/train/train_testing.h"

namespace sprout::train {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

class TrainerTest : public TrainTest {
 protected:
  // The step lines (those with a loss) of a run's metrics.jsonl.
  std::vector<Json> step_lines(const std::string& run) {
    std::vector<Json> out;
    std::ifstream m(dir_ / run / "metrics.jsonl");
    for (std::string line; std::getline(m, line);) {
      Json r = Json::parse(line);
      if (r.contains("loss")) out.push_back(r);
    }
    return out;
  }
  std::string error_of(const std::vector<std::string>& sets) {
    return TrainTest::error_of([&] { tiny(sets); });
  }
};

TEST_F(TrainerTest, DefaultConfigHoldsEveryComponentsOptions) {
  Json d = default_config();
  for (const char* s : {"model", "data", "train", "optimizer", "schedule", "sparsity"}) EXPECT_TRUE(d.contains(s)) << s;
  EXPECT_EQ(d["model"], (Json{{"name", "mlp"}, {"hidden", {1000, 1000, 1000}}, {"stem", "imagenet"}, {"width", 1.0},
                         {"fused_bn_relu", true}}));
  EXPECT_EQ(d["train"]["batch_size"], 128);
  EXPECT_EQ(d["optimizer"]["lr"], 0.05);
  EXPECT_EQ(d["schedule"]["name"], "cosine");
  EXPECT_EQ(d["sparsity"]["update_every"], 100);
  EXPECT_EQ(d["data"]["options"], Json::object());
}

TEST_F(TrainerTest, ConfigErrorsNameTheKey) {
  EXPECT_NE(error_of({"train.epochs=-1"}).find("train.epochs must be in [1, 1e+06], got -1"), std::string::npos);
  EXPECT_NE(error_of({"model.hidden=[1.7]"}).find("model.hidden[0] must be an integer, got 1.7"), std::string::npos);
  EXPECT_NE(error_of({"train.epochs=9000000000000000000"}).find("train.epochs must be in [1, 1e+06]"),
            std::string::npos);
  EXPECT_NE(error_of({"train.max_steps=-1000000000000"}).find("train.max_steps must be >= 0"), std::string::npos);
  EXPECT_NE(error_of({"train.max_steps=9223372036854775807"}).find("train.max_steps is out of range"),
            std::string::npos);
  EXPECT_NE(error_of({"optimizer.weight_decay=-1"}).find("optimizer.weight_decay must be in [0, 1], got -1"),
            std::string::npos);
  EXPECT_NE(error_of({"optimizer.weight_decay=9223372036854775808"}).find("optimizer.weight_decay must be in [0, 1]"),
            std::string::npos);
  EXPECT_NE(error_of({"sparsity.density=1.5"}).find("sparsity.density must be in (0, 1], got 1.5"), std::string::npos);
  EXPECT_NE(error_of({"model.name=resnet51"}).find("model.name: unknown 'resnet51' (known: mlp"), std::string::npos);
  EXPECT_NE(error_of({"sparsity.method=rigl2"}).find("unknown 'rigl2'"), std::string::npos);
  EXPECT_NE(error_of({"schedule.name=linear"}).find("schedule.name: unknown 'linear'"), std::string::npos);
  EXPECT_EQ(error_of({}), "");
}

TEST_F(TrainerTest, DescribesAComponentsOptions) {
  const std::string rigl = describe_options("sparsity", "rigl");
  EXPECT_NE(rigl.find("update_every"), std::string::npos);
  EXPECT_NE(rigl.find("density"), std::string::npos);
  EXPECT_NE(describe_options("optimizer", "adamw").find("beta2"), std::string::npos);
  EXPECT_NE(describe_options("model", "").find("resnet50"), std::string::npos);
  EXPECT_THROW(describe_options("sparsity", "nope"), Error);
}

TEST_F(TrainerTest, FitWritesTheRunFiles) {
  Trainer t(tiny(), Device::cpu(), (dir_ / "run").string(), true);
  Json s = t.fit();
  EXPECT_EQ(s["steps"], 16);
  EXPECT_EQ(s["epochs_completed"], 2);
  EXPECT_GT(s["test_loss"].get<double>(), 0.0);
  EXPECT_NEAR(s["density"].get<double>(), 0.5, 0.05);
  for (const char* f : {"summary.json", "metrics.jsonl", "checkpoint.safetensors", "model.safetensors"})
    EXPECT_TRUE(fs::exists(dir_ / "run" / f)) << f;
  // Logged steps 3, 6, ... and each epoch's last; the lr is the cosine schedule's.
  const std::vector<Json> lines = step_lines("run");
  for (const Json& r : lines) {
    const double step = r["step"].get<double>() - 1;
    EXPECT_NEAR(r["lr"].get<double>(), 0.5 * 0.05 * (1 + std::cos(M_PI * step / 16)), 1e-12);
  }
  EXPECT_EQ(lines.size(), 7u);  // steps 3, 6, 9, 12, 15 (log_every) and 8, 16 (each epoch's last)
}

// FLOPs per step in summary.json and every logged line: the dense 12-16-3 MLP at batch 8
// is 2 * 8 * (12 * 16 + 16 * 3) per forward pass, the input gradient only for the second
// layer (the first reads the data), and the sparse forward 2 * 8 * the stored weights.
TEST_F(TrainerTest, ReportsFlopsPerStepBesideTheDenseModel) {
  Trainer t(tiny(), Device::cpu(), (dir_ / "run").string(), true);
  Json s = t.fit();
  const Json& f = s["flops_per_step"];
  EXPECT_EQ(f["dense_forward"].get<double>(), 3840);
  EXPECT_EQ(f["dense_input_grad"].get<double>(), 768);
  EXPECT_EQ(f["dense_weight_grad"].get<double>(), 3840);
  double stored = 0;
  for (const Json& l : s["layers"]) stored += l["nnz"].get<double>();
  EXPECT_EQ(f["forward"].get<double>(), 2 * 8 * stored);
  EXPECT_LT(f["ratio"].get<double>(), 1.0);
  // RigL's update steps also form the dense gradient: more weight-gradient work than the
  // stored entries alone.
  EXPECT_GT(f["weight_grad"].get<double>(), 2 * 8 * stored);
  const std::vector<Json> lines = step_lines("run");
  for (const Json& r : lines) EXPECT_EQ(r["flops_per_step"]["dense_forward"].get<double>(), 3840) << r.dump();
  EXPECT_EQ(lines.size(), 7u);
}

TEST_F(TrainerTest, ResumedRunIsBitIdentical) {
  Trainer whole(tiny(), Device::cpu(), (dir_ / "whole").string(), true);
  Json a = whole.fit();
  {
    Trainer first(tiny({"train.max_steps=11"}), Device::cpu(), (dir_ / "part").string(), true);
    first.fit();
  }  // the run ends, and with it its lock on the folder
  Trainer rest(tiny(), Device::cpu(), (dir_ / "part").string(), true);
  rest.resume((dir_ / "part" / "checkpoint.safetensors").string());
  Json b = rest.fit();
  EXPECT_EQ(a["test_loss"], b["test_loss"]);
  EXPECT_EQ(bytes_of(dir_ / "whole" / "model.safetensors"), bytes_of(dir_ / "part" / "model.safetensors"));
}

// A finished run resumed from its last checkpoint trains nothing and leaves every file
// of its folder byte for byte as it was (its summary is not rewritten with no evaluation).
TEST_F(TrainerTest, ResumingAFinishedRunChangesNothing) {
  const fs::path run = dir_ / "run";
  {
    Trainer t(tiny(), Device::cpu(), run.string(), true);
    ASSERT_GT(t.fit()["test_accuracy"].get<double>(), 0.0);
  }
  std::vector<std::string> before;
  for (const auto& name : names_in(run)) before.push_back(bytes_of(run / name));
  Trainer again(tiny(), Device::cpu(), run.string(), true);
  again.resume((run / "checkpoint.safetensors").string());
  EXPECT_TRUE(again.finished());
  EXPECT_EQ(again.fit(), Json::object());
  std::vector<std::string> after;
  for (const auto& name : names_in(run)) after.push_back(bytes_of(run / name));
  EXPECT_EQ(after, before);
  EXPECT_EQ(again.run().step_count, 16);
}

// A run stopped by train.max_steps is finished for the same config, not for one without
// the limit.
TEST_F(TrainerTest, FinishedFollowsEpochsAndMaxSteps) {
  const fs::path run = dir_ / "run";
  {
    Trainer t(tiny({"train.max_steps=5"}), Device::cpu(), run.string(), true);
    EXPECT_FALSE(t.finished());
    t.fit();
    EXPECT_TRUE(t.finished());
  }
  Trainer same(tiny({"train.max_steps=5"}), Device::cpu(), run.string(), true);
  same.resume((run / "checkpoint.safetensors").string());
  EXPECT_TRUE(same.finished());
}

TEST_F(TrainerTest, MoreStepsThanAnInt64HoldsIsAnError) {
  const Json cfg = tiny({"train.epochs=1000000"});
  EXPECT_NE(TrainTest::error_of([&] { train::Run(cfg, DataSpec{{12}, 3}, int64_t{1} << 50, Device::cpu()); })
                .find("overflows the step count"),
            std::string::npos);
}

}  // namespace
}  // namespace sprout::train
