// The Trainer and the config it is built from: defaults assembled from every
// component's declared options, errors that name the key, the run folder's files, and
// a resumed run bit-identical to one that never stopped (in process, on the CPU).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "data/registry.h"
#include "engine/core/error.h"
#include "engine/train/options.h"
#include "engine/train/trainer.h"
#include "models/models.h"

namespace sprout::train {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    models::register_models();
    data::register_data_sets();
    dir_ = fs::temp_directory_path() / ("sprout_trainer_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A small RigL MLP on synthetic data: 8 steps per epoch, 2 epochs.
  Json tiny(const std::vector<std::string>& sets = {}) {
    const std::string path = (dir_ / "c.json").string();
    std::ofstream(path) << Json{{"model", {{"name", "mlp"}, {"hidden", {16}}}},
                                {"data", {{"name", "synthetic"}, {"workers", 0},
                                          {"options", {{"shape", {12}}, {"classes", 3}, {"size", 64}}}}},
                                {"train", {{"epochs", 2}, {"batch_size", 8}, {"eval_batch_size", 32}, {"log_every", 3}}},
                                {"sparsity", {{"method", "rigl"}, {"density", 0.5}, {"distribution", "uniform"}, {"update_every", 3}}}}
                                .dump();
    return load_config(path, sets);
  }
  std::string error_of(const std::vector<std::string>& sets) {
    try {
      tiny(sets);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  static std::string bytes_of(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  fs::path dir_;
};

TEST_F(TrainerTest, DefaultConfigHoldsEveryComponentsOptions) {
  Json d = default_config();
  for (const char* s : {"model", "data", "train", "optimizer", "schedule", "sparsity"}) EXPECT_TRUE(d.contains(s)) << s;
  EXPECT_EQ(d["model"], (Json{{"name", "mlp"}, {"hidden", {1000, 1000, 1000}}, {"stem", "imagenet"}, {"width", 1.0}}));
  EXPECT_EQ(d["train"]["batch_size"], 128);
  EXPECT_EQ(d["optimizer"]["lr"], 0.05);
  EXPECT_EQ(d["schedule"]["name"], "cosine");
  EXPECT_EQ(d["sparsity"]["update_every"], 100);
  EXPECT_EQ(d["data"]["options"], Json::object());
}

TEST_F(TrainerTest, ConfigErrorsNameTheKey) {
  EXPECT_NE(error_of({"train.epochs=-1"}).find("train.epochs must be in [1, 1e+06], got -1"), std::string::npos);
  EXPECT_NE(error_of({"model.hidden=[1.7]"}).find("model.hidden"), std::string::npos);
  EXPECT_NE(error_of({"optimizer.weight_decay=-1"}).find("optimizer.weight_decay must be >= 0"), std::string::npos);
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
  std::ifstream m(dir_ / "run" / "metrics.jsonl");
  int logged = 0;
  for (std::string line; std::getline(m, line);) {
    Json r = Json::parse(line);
    if (!r.contains("loss")) continue;
    ++logged;
    const double step = r["step"].get<double>() - 1;
    EXPECT_NEAR(r["lr"].get<double>(), 0.5 * 0.05 * (1 + std::cos(M_PI * step / 16)), 1e-12);
  }
  EXPECT_EQ(logged, 7);  // steps 3, 6, 9, 12, 15 (log_every) and 8, 16 (each epoch's last)
}

TEST_F(TrainerTest, ResumedRunIsBitIdentical) {
  Trainer whole(tiny(), Device::cpu(), (dir_ / "whole").string(), true);
  Json a = whole.fit();
  Trainer first(tiny({"train.max_steps=11"}), Device::cpu(), (dir_ / "part").string(), true);
  first.fit();
  Trainer rest(tiny(), Device::cpu(), (dir_ / "part").string(), true);
  rest.resume((dir_ / "part" / "checkpoint.safetensors").string());
  Json b = rest.fit();
  EXPECT_EQ(a["test_loss"], b["test_loss"]);
  EXPECT_EQ(bytes_of(dir_ / "whole" / "model.safetensors"), bytes_of(dir_ / "part" / "model.safetensors"));
}

}  // namespace
}  // namespace sprout::train
