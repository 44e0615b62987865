// The run contract, through the real `sprout` binary: outputs, exact resume, and a
// one-line "error:" with a non-zero exit (and no checkpoint overwritten) on bad input,
// a diverged run, or a run folder another run holds.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/io/safetensors.h"
#include "testing.h"

namespace sprout {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

struct Result {
  int code = 0;
  std::string err;
};

std::string temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("sprout_cli_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

Result sprout(const std::string& args, const std::string& dir) {
  std::string err = dir + "/stderr.txt";
  std::string cmd = std::string(SPROUT_BINARY_DIR) + "/bin/sprout " + args + " 2>" + err + " >/dev/null";
  int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(err)};
}

// A tiny job: synthetic 784-feature data, a small MLP, 2 epochs of 8 steps.
std::string tiny_config(const std::string& dir, const std::string& sparsity = R"({"method": "dense"})") {
  std::string path = dir + "/tiny.json";
  write_file(path, R"({
    "model": {"name": "mlp", "hidden": [48, 32]},
    "data": {"name": "synthetic", "workers": 2,
             "options": {"shape": [784], "classes": 10, "size": 256}},
    "train": {"epochs": 2, "batch_size": 32, "seed": 7, "eval_batch_size": 128, "log_every": 4},
    "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0005},
    "schedule": {"name": "cosine"},
    "sparsity": )" + sparsity + "}");
  return path;
}

// Everything but timing, memory (whose peaks legitimately differ across processes) and
// FLOPs per step (an average over the steps this process trained, like the timing).
Json comparable(const std::string& summary_path) {
  Json s = Json::parse(read_file(summary_path));
  s.erase("time");
  s.erase("memory");
  s.erase("flops_per_step");
  return s;
}

void expect_same_checkpoints(const std::string& a, const std::string& b) {
  io::SafetensorsFile fa = io::load_safetensors(a), fb = io::load_safetensors(b);
  ASSERT_EQ(fa.tensors.size(), fb.tensors.size());
  for (auto& [name, t] : fa.tensors) {
    ASSERT_TRUE(fb.tensors.count(name)) << name;
    const Tensor& u = fb.tensors.at(name);
    ASSERT_EQ(t.nbytes(), u.nbytes()) << name;
    EXPECT_EQ(std::memcmp(t.raw_data(), u.raw_data(), t.nbytes()), 0) << "tensor " << name << " differs";
  }
  EXPECT_EQ(fa.metadata.at("step"), fb.metadata.at("step"));
  EXPECT_EQ(fa.metadata.at("sparsifier"), fb.metadata.at("sparsifier"));
}

TEST(Cli, TrainWritesTheRunContractFiles) {
  std::string d = temp_dir("contract");
  Result r = sprout("train --config " + tiny_config(d) + " --device cpu --out " + d + "/run", d);
  ASSERT_EQ(r.code, 0) << r.err;
  Json s = Json::parse(read_file(d + "/run/summary.json"));
  for (const char* k : {"test_accuracy", "test_loss", "epochs_completed", "steps", "density", "layers",
                        "memory", "time", "device", "config"})
    EXPECT_TRUE(s.contains(k)) << k;
  EXPECT_EQ(s["epochs_completed"], 2);
  EXPECT_EQ(s["steps"], 16);
  EXPECT_EQ(s["layers"].size(), 3u);
  EXPECT_TRUE(s["memory"]["weights"].contains("peak_bytes"));
  EXPECT_TRUE(s["memory"]["dense_equivalent"].contains("optimizer_bytes"));
  // metrics.jsonl: one JSON object per line, with step losses and per-epoch accuracy.
  std::ifstream m(d + "/run/metrics.jsonl");
  int steps = 0, epochs = 0;
  for (std::string line; std::getline(m, line);) {
    Json j = Json::parse(line);
    steps += j.contains("loss");
    epochs += j.contains("test_accuracy");
  }
  EXPECT_EQ(epochs, 2);
  EXPECT_EQ(steps, 4);
  EXPECT_TRUE(fs::exists(d + "/run/checkpoint.safetensors"));
  // model.safetensors: the final model alone, the same weights as the checkpoint's.
  io::SafetensorsFile model = io::load_safetensors(d + "/run/model.safetensors");
  io::SafetensorsFile ckpt = io::load_safetensors(d + "/run/checkpoint.safetensors");
  EXPECT_EQ(model.metadata.at("format"), "sprout-model-v1");
  int64_t params = 0;
  for (auto& [name, t] : model.tensors) {
    params += t.numel();
    ASSERT_TRUE(ckpt.tensors.count("model." + name)) << name;
    EXPECT_EQ(t.to_vector<float>(), ckpt.tensors.at("model." + name).to_vector<float>()) << name;
  }
  EXPECT_EQ(params, 784 * 48 + 48 + 48 * 32 + 32 + 32 * 10 + 10);
  EXPECT_EQ(model.metadata.at("parameters"), std::to_string(params));
  EXPECT_NE(r.err.find("samples/s"), std::string::npos) << "no progress line";
  EXPECT_NE(r.err.find("ETA"), std::string::npos);
}

void check_resume_identity(const std::string& name, const std::string& sparsity) {
  std::string d = temp_dir(name);
  std::string cfg = tiny_config(d, sparsity);
  Result full = sprout("train --config " + cfg + " --device cpu --quiet --out " + d + "/full", d);
  ASSERT_EQ(full.code, 0) << full.err;
  // Stop after the first epoch (8 steps) of the same 2-epoch config, then resume.
  Result first = sprout("train --config " + cfg + " --set train.max_steps=8 --device cpu --quiet --out " + d + "/half", d);
  ASSERT_EQ(first.code, 0) << first.err;
  Result second = sprout("train --config " + cfg + " --device cpu --quiet --out " + d + "/half --resume " + d +
                         "/half/checkpoint.safetensors", d);
  ASSERT_EQ(second.code, 0) << second.err;
  expect_same_checkpoints(d + "/full/checkpoint.safetensors", d + "/half/checkpoint.safetensors");
  Json a = comparable(d + "/full/summary.json"), b = comparable(d + "/half/summary.json");
  EXPECT_EQ(a, b) << a.dump() << "\n" << b.dump();
}

TEST(Cli, ResumeIsBitIdenticalDense) { check_resume_identity("resume_dense", R"({"method": "dense"})"); }

TEST(Cli, ResumeIsBitIdenticalRigL) {
  check_resume_identity("resume_rigl",
                        R"({"method": "rigl", "density": 0.2, "update_every": 3, "distribution": "erk"})");
}

// EAST with DyReLU: with 2 epochs the DyReLU modules are dropped at once, so the
// checkpoint holds the plain-ReLU model the resumed run must rebuild.
TEST(Cli, ResumeIsBitIdenticalEastAfterDyReluDropped) {
  check_resume_identity("resume_east", R"({"method": "east", "density": 0.2, "update_every": 3,
                                          "dyrelu": true, "cyclic": false})");
}

void expect_one_line_error(const Result& r, const std::string& needle) {
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
}

TEST(Cli, BadConfigsGiveOneLineErrors) {
  std::string d = temp_dir("badcfg");
  write_file(d + "/malformed.json", "{\"train\": {\"epochs\": 2,,}}");
  expect_one_line_error(sprout("train --config " + d + "/malformed.json --out " + d + "/o", d), "malformed JSON");
  write_file(d + "/unknown.json", R"({"train": {"epohcs": 2}})");
  expect_one_line_error(sprout("train --config " + d + "/unknown.json --out " + d + "/o", d), "train.epohcs");
  write_file(d + "/type.json", R"({"optimizer": {"lr": "fast"}})");
  expect_one_line_error(sprout("train --config " + d + "/type.json --out " + d + "/o", d), "optimizer.lr");
  expect_one_line_error(sprout("train --config " + d + "/none.json --out " + d + "/o", d), "none.json");
  std::string cfg = tiny_config(d);
  expect_one_line_error(sprout("train --config " + cfg + " --set sparsity.method=magic --out " + d + "/o", d),
                        "magic");
  expect_one_line_error(sprout("train --config " + cfg + " --device tpu --out " + d + "/o", d), "tpu");
  expect_one_line_error(sprout("train --config " + cfg + " --set sparsity.density=1.5 --out " + d + "/o", d),
                        "sparsity.density must be in (0, 1], got 1.5");
  expect_one_line_error(sprout("train --config " + cfg + " --set train.epochs=-1 --out " + d + "/o", d),
                        "train.epochs must be in [1, 1e+06], got -1");
  expect_one_line_error(sprout("train --config '' --out " + d + "/o", d), "--config is empty");
  EXPECT_EQ(sprout("train --config '' --out " + d + "/o", d).err, "error: --config is empty: name a JSON run config\n");
  write_file(d + "/width.json", R"({"model": {"hidden": [1.7]}})");
  expect_one_line_error(sprout("train --config " + d + "/width.json --out " + d + "/o", d),
                        "model.hidden[0] must be an integer, got 1.7");
  write_file(d + "/epochs.json", R"({"train": {"epochs": 9000000000000000000}})");
  expect_one_line_error(sprout("train --config " + d + "/epochs.json --out " + d + "/o", d),
                        "train.epochs must be in [1, 1e+06], got 9000000000000000000");
  write_file(d + "/steps.json", R"({"train": {"max_steps": -1e12}})");
  expect_one_line_error(sprout("train --config " + d + "/steps.json --out " + d + "/o", d), "train.max_steps");
  // ~150,000 levels of nesting: an error, not a stack overflow.
  write_file(d + "/deep.json", "{\"model\": {\"hidden\": " + std::string(150000, '[') + std::string(150000, ']') + "}}");
  expect_one_line_error(sprout("train --config " + d + "/deep.json --out " + d + "/o", d),
                        "deep.json: JSON nested deeper than 64 levels at line 1");
  EXPECT_FALSE(fs::exists(d + "/o/checkpoint.safetensors"));
}

TEST(Cli, ConfigShowsAComponentsOptions) {
  std::string d = temp_dir("config");
  const std::string out = d + "/out.txt";
  std::string cmd = std::string(SPROUT_BINARY_DIR) + "/bin/sprout config --show rigl >" + out + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const std::string rigl = read_file(out);
  for (const char* key : {"update_every", "drop_fraction", "end_fraction", "density", "(0, 1]"})
    EXPECT_NE(rigl.find(key), std::string::npos) << key << " in:\n" << rigl;
  cmd = std::string(SPROUT_BINARY_DIR) + "/bin/sprout config --defaults >" + out;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  Json defaults = Json::parse(read_file(out));
  EXPECT_EQ(defaults["sparsity"]["update_every"], 100);
  EXPECT_EQ(defaults["model"]["hidden"], Json::parse("[1000, 1000, 1000]"));
  expect_one_line_error(sprout("config --show rigl2", d), "rigl2");
}

TEST(Cli, BenchRejectsAnUnknownPatternOrShape) {
  std::string d = temp_dir("bench_pattern");
  expect_one_line_error(sprout("bench spmm --pattern diagonal", d), "diagonal");
  expect_one_line_error(sprout("bench sparse_linear --pattern ''", d), "--pattern");
  expect_one_line_error(sprout("bench conv --only 'l9 5x5'", d), "l9 5x5");
}

TEST(Cli, MissingAndTruncatedDataGiveOneLineErrors) {
  std::string d = temp_dir("baddata");
  std::string cfg = tiny_config(d);
  expect_one_line_error(sprout("train --config " + cfg + " --set data.name=fashion-mnist --set data.root=" + d +
                               "/nowhere --set data.options={} --out " + d + "/o", d), "nowhere");
  // A truncated copy of an IDX file.
  fs::create_directories(d + "/fm");
  std::string idx;
  idx += std::string("\0\0\x08\x03", 4);
  idx += std::string("\0\0\0\x0a\0\0\0\x1c\0\0\0\x1c", 12);
  idx += std::string(100, '\x7f');  // header promises 10 x 28 x 28 pixels
  write_file(d + "/fm/train-images-idx3-ubyte", idx);
  expect_one_line_error(sprout("train --config " + cfg + " --set data.name=fashion-mnist --set data.root=" + d +
                               "/fm --set data.options={} --out " + d + "/o", d), "fm");
}

TEST(Cli, CorruptCheckpointAndNanLossLeaveTheCheckpointAlone) {
  std::string d = temp_dir("badckpt");
  std::string cfg = tiny_config(d);
  ASSERT_EQ(sprout("train --config " + cfg + " --set train.epochs=1 --quiet --out " + d + "/run", d).code, 0);
  std::string ckpt = d + "/run/checkpoint.safetensors";
  std::string good = read_file(ckpt);
  write_file(d + "/trunc.safetensors", good.substr(0, good.size() / 2));
  expect_one_line_error(sprout("train --config " + cfg + " --out " + d + "/run --resume " + d + "/trunc.safetensors", d),
                        "trunc.safetensors");
  std::string garbage = good;
  for (size_t i = 8; i < 40 && i < garbage.size(); ++i) garbage[i] = '~';
  write_file(d + "/garbage.safetensors", garbage);
  expect_one_line_error(sprout("train --config " + cfg + " --out " + d + "/run --resume " + d + "/garbage.safetensors", d),
                        "garbage.safetensors");
  // A checkpoint of another model.
  expect_one_line_error(sprout("train --config " + cfg + " --set model.hidden=[40] --out " + d + "/run --resume " +
                               ckpt, d), "checkpoint");
  // NaN loss: a huge learning rate diverges; the run stops with an error naming the step.
  expect_one_line_error(sprout("train --config " + cfg + " --set optimizer.lr=1e30 --set train.log_every=1 --quiet --out " +
                               d + "/run", d), "step");
  EXPECT_EQ(read_file(ckpt), good) << "an existing checkpoint was overwritten";
}

TEST(Cli, MemoryReportsSparseBesideDense) {
  std::string d = temp_dir("memory");
  std::string out = d + "/m.json";
  int status = std::system((std::string(SPROUT_BINARY_DIR) + "/bin/sprout memory --model mlp --density 0.1 --batch 32 --json > " + out).c_str());
  ASSERT_EQ(status, 0);
  Json m = Json::parse(read_file(out));
  for (const char* side : {"dense", "sparse"})
    for (const char* k : {"weights", "indices", "gradients", "optimizer", "activations_peak", "workspace_peak",
                          "total_peak", "parameters", "nnz"})
      EXPECT_TRUE(m[side].contains(k)) << side << "." << k;
  EXPECT_EQ(m["dense"]["indices"], 0);
  EXPECT_GT(m["sparse"]["indices"].get<int64_t>(), 0);
  // Dense MLP: 2,797,010 parameters x 4 bytes of weights, gradients and momentum each.
  EXPECT_EQ(m["dense"]["weights"], 2797010 * 4);
  EXPECT_EQ(m["dense"]["gradients"], 2797010 * 4);
  EXPECT_EQ(m["dense"]["optimizer"], 2797010 * 4);
  EXPECT_LE(m["param_side_ratio"].get<double>(), 0.2);
}

TEST(Cli, MemoryMeasuresAConfigsMethod) {
  std::string d = temp_dir("memory_config");
  std::string cfg = tiny_config(d, R"({"method": "rigl", "density": 0.2, "distribution": "erk", "update_every": 1})");
  std::string out = d + "/m.json";
  int status = std::system((std::string(SPROUT_BINARY_DIR) + "/bin/sprout memory --config " + cfg +
                            " --batch 32 --json > " + out).c_str());
  ASSERT_EQ(status, 0);
  Json m = Json::parse(read_file(out));
  EXPECT_EQ(m["method"], "rigl");
  EXPECT_EQ(m["model"], "mlp");
  // The config's MLP 784-48-32-10: 39,578 parameters.
  EXPECT_EQ(m["dense"]["parameters"], 39578);
  EXPECT_EQ(m["dense"]["weights"], 39578 * 4);
  EXPECT_LT(m["param_side_ratio"].get<double>(), 0.5);
  // Step 0 is a RigL update: the largest layer's dense gradient (48 x 784 floats) exists
  // as workspace for a moment.
  EXPECT_GE(m["sparse"]["workspace_peak"].get<int64_t>(), 48 * 784 * 4);
  EXPECT_NE(sprout("memory --config " + d + "/missing.json", d).err.find("error: cannot read config"),
            std::string::npos);
}

// A dense twin of 10^10 parameters (160 GB with its gradients and state) is not built:
// its parameter side comes from the shapes, beside the measured sparse run.
TEST(Cli, MemoryComputesADenseTwinTooLargeToBuild) {
  std::string d = temp_dir("memory_wide");
  std::string cfg = tiny_config(d, R"({"method": "static", "density": 3e-5, "distribution": "erk"})");
  std::string out = d + "/m.json";
  int status = std::system((std::string(SPROUT_BINARY_DIR) + "/bin/sprout memory --config " + cfg +
                            " --set 'model.hidden=[100000,100000]' --batch 8 --json > " + out).c_str());
  ASSERT_EQ(status, 0);
  Json m = Json::parse(read_file(out));
  // 784 x 100000 + 100000 x 100000 + 100000 x 10 weights and 200,010 biases.
  const int64_t dense = 10079600010;
  EXPECT_EQ(m["dense"]["analytic"], true);
  EXPECT_EQ(m["dense"]["parameters"], dense);
  EXPECT_EQ(m["dense"]["weights"], dense * 4);
  EXPECT_EQ(m["dense"]["gradients"], dense * 4);
  EXPECT_EQ(m["sparse"]["dense_parameters"], dense);
  EXPECT_LT(m["sparse"]["total_peak"].get<int64_t>(), 784LL * 100000 * 4);  // one sparse layer's dense bytes
}

// NaN between logged steps (log_every 100, stopped by max_steps at 6): the run fails
// naming the step, and the good checkpoint, model and summary stay as they were.
TEST(Cli, ADivergedRunFailsEvenBetweenLoggedSteps) {
  std::string d = temp_dir("diverged");
  std::string cfg = tiny_config(d);
  ASSERT_EQ(sprout("train --config " + cfg + " --set train.epochs=1 --quiet --out " + d + "/run", d).code, 0);
  std::vector<std::string> kept;
  for (const char* f : {"checkpoint.safetensors", "model.safetensors", "summary.json"})
    kept.push_back(read_file(d + "/run/" + f));
  expect_one_line_error(sprout("train --config " + cfg + " --set optimizer.lr=1e30 --set train.log_every=100 "
                               "--set train.max_steps=6 --quiet --out " + d + "/run", d),
                        "loss is not finite at step 2 (epoch 1)");
  int i = 0;
  for (const char* f : {"checkpoint.safetensors", "model.safetensors", "summary.json"})
    EXPECT_EQ(read_file(d + "/run/" + f), kept[i++]) << f << " was overwritten";
}

// Another process holds the folder's lock: the run fails at once naming it and writes
// nothing there.
TEST(Cli, ASecondRunOnAHeldFolderFailsNamingTheHolder) {
  std::string d = temp_dir("locked");
  fs::create_directories(d + "/run");
  const int fd = ::open((d + "/run/run.lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  ASSERT_EQ(::write(fd, "pid 4242 on host elsewhere\n", 27), 27);
  expect_one_line_error(sprout("train --config " + tiny_config(d) + " --quiet --out " + d + "/run", d),
                        "run folder " + d + "/run is in use by another run (pid 4242 on host elsewhere");
  ::close(fd);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(d + "/run")) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"run.lock"});
}

// Resuming a finished run says so, exits 0 and changes no byte of its folder.
TEST(Cli, ResumingAFinishedRunChangesNothing) {
  std::string d = temp_dir("finished");
  std::string cfg = tiny_config(d);
  ASSERT_EQ(sprout("train --config " + cfg + " --quiet --out " + d + "/run", d).code, 0);
  // Every file but the lock, which names the process holding it.
  auto files = [&] {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::directory_iterator(d + "/run"))
      if (e.path().filename() != "run.lock") out[e.path().filename().string()] = read_file(e.path().string());
    return out;
  };
  const std::map<std::string, std::string> before = files();
  ASSERT_EQ(before.size(), 4u);
  Result r = sprout("train --config " + cfg + " --quiet --out " + d + "/run --resume " + d +
                    "/run/checkpoint.safetensors", d);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("already finished (step 16, epoch 2 of 2)"), std::string::npos) << r.err;
  const std::map<std::string, std::string> after = files();
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [name, bytes] : before) EXPECT_TRUE(after.at(name) == bytes) << name << " changed";
}

}  // namespace
}  // namespace sprout
