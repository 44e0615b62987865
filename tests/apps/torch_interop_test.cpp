// PyTorch in and out through the real `sprout` binary, with Debian's PyTorch as the
// reference (tests/apps/torch_check.py): a sparse ResNet-50 exported (dense and sparse
// parts) gives sprout's logits in torchvision.models.resnet50 loaded strictly; the
// Fashion-MNIST MLP gives sprout's test accuracy exactly in PyTorch and in `sprout
// eval`; a torchvision state_dict saved by PyTorch starts a sprout run (--init-from),
// and a mismatch names the key. Skipped, saying why, without torch and torchvision.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "apps/recipe_testing.h"
#include "data/registry.h"
#include "engine/autograd/node.h"
#include "engine/io/checkpoint.h"
#include "engine/io/safetensors.h"
#include "engine/nn/conv_layers.h"
#include "engine/sparsity/factory.h"
#include "engine/train/options.h"
#include "models/models.h"
#include "testing.h"

namespace sprout {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using testing::read_text;
using testing::run_sprout;

const std::string kFashion = "/usr/share/datasets/fashion-mnist";

std::string temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("sprout_torch_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

// Why PyTorch's side cannot run here, or empty.
std::string torch_missing() {
  static const std::string why = [] {
    int rc = std::system("/usr/bin/python3 -c 'import torch, torchvision, safetensors, numpy' >/dev/null 2>&1");
    return rc == 0 ? std::string()
                   : std::string("/usr/bin/python3 lacks torch, torchvision, safetensors or numpy "
                                 "(scripts/setup.sh installs them)");
  }();
  return why;
}

// torch_check.py ARGS: its exit code, its stdout (and stderr) in `out`.
int torch_check(const std::string& args, std::string* out) {
  const std::string cmd = std::string("/usr/bin/python3 ") + SPROUT_SOURCE_DIR + "/tests/apps/torch_check.py " +
                          args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[512];
  out->clear();
  while (fgets(buf, sizeof buf, p)) *out += buf;
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void write_summary(const std::string& dir, const Json& cfg) {
  std::ofstream(dir + "/summary.json") << Json{{"config", cfg}}.dump();
}

// BatchNorm with statistics and affine terms far from their initial 0/1, so the
// export of every buffer is checked.
void randomize_batchnorm(nn::Module& model) {
  Rng rng(7);
  auto fill = [&](Tensor& t, float lo, float hi) {
    float* v = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) v[i] = lo + (hi - lo) * (float)rng.uniform();
  };
  for (auto& [name, m] : model.modules())
    if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m)) {
      fill(bn->weight, 0.2f, 0.6f);
      fill(bn->bias, -0.1f, 0.1f);
      fill(bn->running_mean, -0.2f, 0.2f);
      fill(bn->running_var, 0.5f, 1.5f);
    }
}

TEST(TorchInterop, SparseResNet50LogitsInTorchvision) {
  if (!torch_missing().empty()) GTEST_SKIP() << torch_missing();
  models::register_models();
  data::register_data_sets();
  const std::string dir = temp_dir("resnet50");
  const Json cfg = train::load_config("", {"model.name=resnet50", "data.name=synthetic",
                                           R"(data.options={"shape": [3, 64, 64], "classes": 10})",
                                           "sparsity.method=static", "sparsity.density=0.2"});
  nn::ModulePtr model = models::build(cfg["model"], {3, 64, 64}, 10);
  auto method = sparsity::make_sparsifier(cfg["sparsity"], *model, 3);
  randomize_batchnorm(*model);
  model->eval();
  Tensor x = testing::randn({1, 3, 64, 64}, 11, DType::F32);
  Tensor logits;
  {
    autograd::NoGradGuard ng;
    logits = model->forward(x);
  }
  io::save_model(dir + "/model.safetensors", *model);
  write_summary(dir, cfg);
  io::save_safetensors(dir + "/io.safetensors", {{"x", x}, {"logits", logits}}, {});
  ASSERT_EQ(run_sprout("export " + dir + " --to torch --out " + dir + "/tv.safetensors", dir).code, 0)
      << read_text(dir + "/stderr.txt");
  ASSERT_EQ(run_sprout("export " + dir + "/model.safetensors --sparse --out " + dir + "/sp.safetensors", dir).code, 0)
      << read_text(dir + "/stderr.txt");
  std::string out;
  EXPECT_EQ(torch_check("logits " + dir + "/io.safetensors " + dir + "/tv.safetensors " + dir + "/sp.safetensors " +
                            dir + "/model.safetensors", &out), 0) << out;
  fs::remove_all(dir);
}

TEST(TorchInterop, ExportRefusesWhatTorchvisionLacks) {
  const std::string dir = temp_dir("refuse");
  ASSERT_EQ(run_sprout("train --config " + testing::config_path("fashion_mlp_dense.json") +
                           " --set train.max_steps=1 --set 'model.hidden=[8]' --set train.epochs=1 --device cpu "
                           "--quiet --out " + dir + "/run",
                       dir).code, 0) << read_text(dir + "/stderr.txt");
  // The run's config names another model: the file's tensors do not fit, and it says which.
  Json cfg = Json::parse(read_text(dir + "/run/summary.json"))["config"];
  cfg["model"]["hidden"] = Json::array({9});
  std::ofstream(dir + "/other.json") << cfg.dump();
  auto r = run_sprout("export " + dir + "/run/model.safetensors --config " + dir + "/other.json --out " + dir + "/x", dir);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("error: model file"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'0.weight'"), std::string::npos) << r.err;
  // A sparse part out of range is refused before anything is scattered, by export and eval.
  ASSERT_EQ(run_sprout("train --config " + testing::config_path("fashion_static.json") +
                           " --set train.max_steps=1 --set 'model.hidden=[8]' --device cpu --quiet --out " + dir +
                           "/sparse",
                       dir).code, 0) << read_text(dir + "/stderr.txt");
  io::SafetensorsFile f = io::load_safetensors(dir + "/sparse/model.safetensors");
  f.tensors.at("0.weight.col_idx").data<int32_t>()[0] = 784;
  io::NamedTensors edited(f.tensors.begin(), f.tensors.end());
  io::save_safetensors(dir + "/sparse/model.safetensors", edited, f.metadata);
  for (const std::string& cmd : {"export " + dir + "/sparse --out " + dir + "/x", "eval --model " + dir + "/sparse"}) {
    r = run_sprout(cmd, dir);
    EXPECT_NE(r.code, 0) << cmd;
    EXPECT_NE(r.err.find("sparse weight '0.weight': col_idx 784 out of range"), std::string::npos) << r.err;
  }
  cfg["model"] = {{"name", "resnet18"}, {"stem", "cifar"}};
  std::ofstream(dir + "/cifar.json") << cfg.dump();
  r = run_sprout("export " + dir + "/run/model.safetensors --config " + dir + "/cifar.json --out " + dir + "/x", dir);
  EXPECT_NE(r.err.find("cifar stem"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

TEST(TorchInterop, FashionMlpAccuracyInPyTorchAndEval) {
  if (!torch_missing().empty()) GTEST_SKIP() << torch_missing();
  if (!fs::exists(kFashion + "/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "no Fashion-MNIST at " << kFashion;
  const std::string dir = temp_dir("mlp");
  ASSERT_EQ(run_sprout("train --config " + testing::config_path("fashion_rigl.json") +
                           " --set 'model.hidden=[64,64]' --set train.max_steps=120 --set sparsity.update_every=40 "
                           "--device cpu --quiet --out " + dir + "/run",
                       dir).code, 0) << read_text(dir + "/stderr.txt");
  const Json summary = Json::parse(read_text(dir + "/run/summary.json"));
  const int64_t sprout_correct = std::llround(summary["test_accuracy"].get<double>() * 10000);
  ASSERT_GT(sprout_correct, 5000);  // trained: far above chance
  ASSERT_EQ(run_sprout("export " + dir + "/run --to torch --out " + dir + "/mlp.safetensors", dir).code, 0)
      << read_text(dir + "/stderr.txt");
  std::string out;
  ASSERT_EQ(torch_check("accuracy " + kFashion + " 10000 " + dir + "/mlp.safetensors", &out), 0) << out;
  EXPECT_EQ(out, "correct " + std::to_string(sprout_correct) + " of 10000\n");
  ASSERT_EQ(run_sprout("eval --model " + dir + "/run/model.safetensors --device cpu --json " + dir + "/eval.json", dir)
                .code, 0) << read_text(dir + "/stderr.txt");
  const Json ev = Json::parse(read_text(dir + "/eval.json"));
  EXPECT_EQ(ev["samples"], 10000);
  EXPECT_EQ(ev["top1"].get<double>(), summary["test_accuracy"].get<double>());
  EXPECT_EQ(ev["top5"].get<double>(), summary["test_top5"].get<double>());
  EXPECT_NEAR(ev["loss"].get<double>(), summary["test_loss"].get<double>(), 1e-6);
  EXPECT_GT(ev["samples_per_second"].get<double>(), 0);
  fs::remove_all(dir);
}

// BSR 4x4 blocks: sparse parts for torch.sparse_bsr_tensor where the shape is a multiple
// of the block, CSR entries (padding left out) for the 10-row output layer; the run's own
// file read directly too; eval rebuilds the block structure.
TEST(TorchInterop, BlockSparseMlpThroughSparseParts) {
  if (!torch_missing().empty()) GTEST_SKIP() << torch_missing();
  if (!fs::exists(kFashion + "/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "no Fashion-MNIST at " << kFashion;
  const std::string dir = temp_dir("bsr");
  ASSERT_EQ(run_sprout("train --config " + testing::config_path("fashion_static.json") +
                           " --set 'model.hidden=[64,64]' --set train.max_steps=60 --set sparsity.format=bsr"
                           " --set sparsity.block=4 --set sparsity.distribution=uniform --set sparsity.density=0.5"
                           " --device cpu --quiet --out " + dir + "/run",
                       dir).code, 0) << read_text(dir + "/stderr.txt");
  const Json summary = Json::parse(read_text(dir + "/run/summary.json"));
  ASSERT_EQ(summary["layers"][2]["format"], "bsr");  // the 10 x 64 output layer too
  const std::string correct = std::to_string(std::llround(summary["test_accuracy"].get<double>() * 10000));
  ASSERT_EQ(run_sprout("export " + dir + "/run --sparse --out " + dir + "/sp.safetensors", dir).code, 0)
      << read_text(dir + "/stderr.txt");
  const io::SafetensorsFile f = io::load_safetensors(dir + "/sp.safetensors");
  const Json sparse = Json::parse(f.metadata.at("sparse"));
  EXPECT_EQ(sparse["0.weight"]["layout"], "bsr");
  EXPECT_EQ(f.tensors.at("0.weight.values").dim(), 3);
  EXPECT_EQ(sparse["4.weight"]["layout"], "csr");  // 10 rows: not a multiple of 4
  std::string out;
  ASSERT_EQ(torch_check("accuracy " + kFashion + " 10000 " + dir + "/sp.safetensors " + dir + "/run/model.safetensors",
                        &out), 0) << out;
  EXPECT_EQ(out, "correct " + correct + " of 10000\ncorrect " + correct + " of 10000\n");
  ASSERT_EQ(run_sprout("eval --model " + dir + "/run --device cpu --json " + dir + "/eval.json", dir).code, 0)
      << read_text(dir + "/stderr.txt");
  EXPECT_EQ(Json::parse(read_text(dir + "/eval.json"))["top1"], summary["test_accuracy"]);
  fs::remove_all(dir);
}

TEST(TorchInterop, TorchvisionWeightsStartASparseRun) {
  if (!torch_missing().empty()) GTEST_SKIP() << torch_missing();
  const std::string dir = temp_dir("init");
  std::string out;
  ASSERT_EQ(torch_check("save_resnet18 " + dir + "/tv.safetensors 10", &out), 0) << out;
  const std::string common = "train --config " + testing::config_path("fashion_mlp_dense.json") +
                             " --set model.name=resnet18 --set data.name=synthetic"
                             " --set 'data.options={\"shape\":[3,32,32],\"classes\":10,\"size\":4}' --set train.batch_size=2"
                             " --set train.max_steps=1 --set optimizer.lr=1e-30 --device cpu --quiet ";
  // lr 1e-30: one step leaves every weight where --init-from put it (below half an ulp); static keeps a random 30%.
  ASSERT_EQ(run_sprout(common + "--set sparsity.method=static --set sparsity.density=0.3 --init-from " + dir +
                           "/tv.safetensors --out " + dir + "/run",
                       dir).code, 0) << read_text(dir + "/stderr.txt");
  ASSERT_EQ(torch_check("compare_init " + dir + "/tv.safetensors " + dir + "/run/model.safetensors", &out), 0) << out;
  // resnet34 has blocks resnet18 lacks: the first missing key is named.
  auto r = run_sprout(common + "--set model.name=resnet34 --init-from " + dir + "/tv.safetensors --out " + dir + "/r34", dir);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("error: --init-from"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no tensor 'layer1.2.conv1.weight'"), std::string::npos) << r.err;
  r = run_sprout(common + "--set 'data.options={\"shape\":[3,32,32],\"classes\":7,\"size\":4}' --init-from " + dir +
                     "/tv.safetensors --out " + dir + "/c7",
                 dir);
  EXPECT_NE(r.err.find("tensor 'fc.weight' has shape [10, 512], the model expects [7, 512]"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sprout
