// The train tests' fixture: a fresh folder per test, a tiny RigL MLP config on
// synthetic data (8 steps per epoch, 2 epochs), and file helpers.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "data/registry.h"
#include "engine/core/error.h"
#include "engine/train/options.h"
#include "engine/train/trainer.h"
#include "models/models.h"

namespace sprout::train {

class TrainTest : public ::testing::Test {
 protected:
  using Json = nlohmann::json;

  void SetUp() override {
    models::register_models();
    data::register_data_sets();
    dir_ = std::filesystem::temp_directory_path() /
           ("sprout_trainer_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

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
  // The message of what `f` throws as sprout::Error, or "" when it does not throw.
  template <class F>
  static std::string error_of(F&& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  static std::string bytes_of(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  // The names in `dir`, sorted.
  static std::vector<std::string> names_in(const std::filesystem::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::filesystem::path dir_;
};

}  // namespace sprout::train
