// Data-parallel training through the real binary under `mpirun -np 2` (skipped, saying
// why, without Open MPI's mpirun or a build with MPI): 2 ranks x batch 64 end where
// 1 process x batch 128 on the same samples ends (every step's loss, every weight, the
// same sparse structure) for RigL and for dense training; a resumed 2-rank run ends bit
// for bit where an uninterrupted one does, and a checkpoint of 2 ranks refuses one
// process; one failing rank ends the job with one "error:" line; ranks whose topologies
// part are an error naming the layer.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/dist/communicator.h"
#include "engine/io/safetensors.h"
#include "testing.h"

namespace sprout {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

using testing::read_file;

// A finished job: its exit status and what it wrote to stderr.
struct Exit {
  int code = 0;
  std::string err;
};

std::string shell(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    ::pclose(p);
  }
  return out;
}

// Why MPI tests cannot run here, or "" when they can.
std::string mpi_missing() {
  if (!dist::mpi_compiled()) return "sprout was built without MPI (-DSPROUT_MPI=OFF or no libopenmpi-dev)";
  if (shell("command -v mpirun").empty()) return "mpirun is not installed (Debian: openmpi-bin)";
  if (shell("mpirun --version 2>&1").find("Open MPI") == std::string::npos)
    return "these tests pass Open MPI's mpirun flags; this mpirun is another MPI";
  return "";
}

class DataParallel : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = mpi_missing();
    if (!why.empty()) GTEST_SKIP() << why;
    dir_ = (fs::temp_directory_path() / ("sprout_dist_" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // 50 steps of one epoch: 6400 synthetic samples, batch 128 in all (lr_scale_batch 128:
  // the rate is 0.1 only when the global batch scales it).
  std::string config(const std::string& name, const std::string& sparsity) {
    const std::string path = dir_ + "/" + name + ".json";
    std::ofstream(path) << R"({
      "model": {"name": "mlp", "hidden": [64, 48]},
      "data": {"name": "synthetic", "workers": 0, "options": {"shape": [64], "classes": 10, "size": 6400, "seed": 3}},
      "train": {"epochs": 1, "batch_size": 128, "seed": 11, "eval_batch_size": 1000, "log_every": 1},
      "optimizer": {"name": "sgd", "lr": 0.1, "lr_scale_batch": 128, "momentum": 0.9, "weight_decay": 0.0005},
      "schedule": {"name": "cosine"},
      "sparsity": )" << sparsity << "}";
    return path;
  }
  Exit run(const std::string& cmd) {
    const std::string err = dir_ + "/stderr.txt";
    const int status = std::system((cmd + " 2>" + err + " >/dev/null").c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(err)};
  }
  static std::string bin() { return std::string(SPROUT_BINARY_DIR) + "/bin/sprout"; }
  // Open MPI's launcher on this machine: root allowed, more ranks than cores, one
  // OpenMP thread a rank; `ranks` is one or more "-np N args" groups. Under
  // AddressSanitizer the ranks skip leak checking only: Open MPI unloads its plugins at
  // MPI_Finalize, so what they hold for the process's life shows as leaks from unknown
  // modules. The one-process runs beside them still check sprout's code for leaks.
  static std::string mpirun(const std::string& ranks) {
    const char* asan = std::getenv("ASAN_OPTIONS");
    const std::string opts = std::string(asan ? asan : "") + (asan && *asan ? ":" : "") + "detect_leaks=0";
    return "timeout 120 env ASAN_OPTIONS=" + opts +
           " mpirun --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS=1 -x ASAN_OPTIONS " + ranks;
  }
  // One process with batch 128 beside two ranks with batch 64 each, on the same config.
  void train_both(const std::string& cfg) {
    const std::string train = bin() + " train --quiet --device cpu --config " + cfg;
    Exit one = run("OMP_NUM_THREADS=1 " + train + " --out " + dir_ + "/one");
    ASSERT_EQ(one.code, 0) << one.err;
    Exit two = run(mpirun("-np 2 " + train + " --set train.batch_size=64 --out " + dir_ + "/two"));
    ASSERT_EQ(two.code, 0) << two.err;
  }
  void expect_same_runs();
  std::string dir_;
};

std::vector<Json> lines_of(const std::string& path) {
  std::vector<Json> out;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) out.push_back(Json::parse(line));
  return out;
}

void DataParallel::expect_same_runs() {
  const std::vector<Json> a = lines_of(dir_ + "/one/metrics.jsonl"), b = lines_of(dir_ + "/two/metrics.jsonl");
  ASSERT_EQ(a.size(), b.size());
  int losses = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].contains("loss")) continue;
    ++losses;
    const double x = a[i]["loss"].get<double>(), y = b[i]["loss"].get<double>();
    EXPECT_NEAR(x, y, 2e-4 * (1 + std::fabs(x))) << "step " << a[i]["step"];
  }
  EXPECT_EQ(losses, 50);
  const io::SafetensorsFile ma = io::load_safetensors(dir_ + "/one/model.safetensors");
  const io::SafetensorsFile mb = io::load_safetensors(dir_ + "/two/model.safetensors");
  ASSERT_EQ(ma.tensors.size(), mb.tensors.size());
  for (const auto& [name, t] : ma.tensors) {
    ASSERT_TRUE(mb.tensors.count(name)) << name;
    const Tensor& u = mb.tensors.at(name);
    ASSERT_EQ(t.shape(), u.shape()) << name << ": the structure differs";
    if (t.dtype() == DType::I32) {
      EXPECT_EQ(t.to_vector<int32_t>(), u.to_vector<int32_t>()) << name << ": the structure differs";
      continue;
    }
    const std::vector<float> x = t.to_vector<float>(), y = u.to_vector<float>();
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_NEAR(x[i], y[i], 1e-4f + 1e-3f * std::fabs(x[i])) << name << "[" << i << "]";
  }
  const Json summary = Json::parse(read_file(dir_ + "/two/summary.json"));
  EXPECT_EQ(summary["batch"]["global"], 128);
  EXPECT_EQ(summary["batch"]["per_rank"], 64);
  EXPECT_EQ(summary["batch"]["ranks"], 2);
}

TEST_F(DataParallel, RigLOnTwoRanksMatchesOneProcessWithTheGlobalBatch) {
  train_both(config("rigl", R"({"method": "rigl", "density": 0.3, "distribution": "erk", "update_every": 5,
                                "drop_fraction": 0.3, "end_fraction": 0.9})"));
  expect_same_runs();
  int updates = 0;
  for (const Json& l : lines_of(dir_ + "/two/metrics.jsonl")) updates += l.value("event", "") == "topology";
  EXPECT_GT(updates, 9) << "RigL changed no topology: the test would not see a divergence";
  // Only the nonzeros go over the wire: a third of the dense bytes at density 0.3 (plus
  // the biases, and the growth gradients on update steps).
  const Json dp = Json::parse(read_file(dir_ + "/two/summary.json"))["data_parallel"];
  EXPECT_LT(dp["gradient_bytes_per_step"].get<double>(), 0.4 * dp["dense_ddp_bytes_per_step"].get<double>());
}

TEST_F(DataParallel, DenseOnTwoRanksMatchesOneProcessWithTheGlobalBatch) {
  train_both(config("dense", R"({"method": "dense"})"));
  expect_same_runs();
  const Json dp = Json::parse(read_file(dir_ + "/two/summary.json"))["data_parallel"];
  EXPECT_DOUBLE_EQ(dp["gradient_bytes_per_step"].get<double>(), dp["dense_ddp_bytes_per_step"].get<double>());
}

size_t error_lines(const std::string& text) {
  size_t n = 0;
  std::istringstream s(text);
  for (std::string line; std::getline(s, line);) n += line.rfind("error:", 0) == 0;
  return n;
}

// Every tensor of two model files equal, bit for bit.
void expect_same_model(const std::string& a_path, const std::string& b_path) {
  const io::SafetensorsFile a = io::load_safetensors(a_path), b = io::load_safetensors(b_path);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, t] : a.tensors) {
    ASSERT_TRUE(b.tensors.count(name)) << name;
    const Tensor& u = b.tensors.at(name);
    ASSERT_EQ(t.shape(), u.shape()) << name;
    ASSERT_EQ(t.nbytes(), u.nbytes()) << name;
    EXPECT_EQ(std::memcmp(t.raw_data(), u.raw_data(), t.nbytes()), 0) << name << " differs";
  }
}

TEST_F(DataParallel, ResumesWithTheSameRankCountOnly) {
  const std::string cfg = config("rigl", R"({"method": "rigl", "density": 0.3, "update_every": 5})");
  const std::string train = bin() + " train --quiet --device cpu --config " + cfg + " --set train.epochs=2";
  const std::string ranks = "-np 2 " + train + " --set train.batch_size=64";
  ASSERT_EQ(run(mpirun(ranks + " --out " + dir_ + "/whole")).code, 0);
  ASSERT_EQ(run(mpirun(ranks + " --set train.max_steps=70 --out " + dir_ + "/part")).code, 0);
  const std::string checkpoint = dir_ + "/part/checkpoint.safetensors";
  Exit one = run(train + " --resume " + checkpoint + " --out " + dir_ + "/one");
  EXPECT_NE(one.code, 0);
  EXPECT_EQ(error_lines(one.err), 1u) << one.err;
  EXPECT_NE(one.err.find("was written by a run of 2 ranks"), std::string::npos) << one.err;
  Exit two = run(mpirun(ranks + " --resume " + checkpoint + " --out " + dir_ + "/part"));
  ASSERT_EQ(two.code, 0) << two.err;
  expect_same_model(dir_ + "/whole/model.safetensors", dir_ + "/part/model.safetensors");
}

TEST_F(DataParallel, OneFailingRankEndsTheJobWithOneErrorLine) {
  // Rank 1 cannot read its checkpoint; rank 0 is already waiting in its first step.
  const std::string cfg = config("dense", R"({"method": "dense"})");
  const std::string args = bin() + " train --quiet --device cpu --config " + cfg + " --out " + dir_ + "/fail";
  Exit r = run(mpirun("-np 1 " + args + " : -np 1 " + args + " --resume " + dir_ + "/missing.safetensors"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.code, 124) << "the job hung until the timeout";
  EXPECT_EQ(error_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("missing.safetensors"), std::string::npos) << r.err;
}

TEST_F(DataParallel, RanksWhoseTopologiesPartAreAnErrorNamingTheLayer) {
  const std::string cfg = config("rigl", R"({"method": "rigl", "density": 0.3, "update_every": 5})");
  const std::string args = bin() + " train --quiet --device cpu --config " + cfg + " --out " + dir_ + "/part";
  Exit r = run(mpirun("-np 1 " + args + " : -np 1 " + args + " --set sparsity.drop_fraction=0.1"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.code, 124) << "the job hung until the timeout";
  EXPECT_EQ(error_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("has a different structure on different ranks after step 1 "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sparse layer 0.weight"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sprout
