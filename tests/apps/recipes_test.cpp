// The ImageNet and CIFAR recipe configs (configs/imagenet_*.json, configs/cifar10_*.json)
// through the real binary on generated data: they parse, hold the published recipe,
// and a two-step sparse ResNet-50 run on the CPU keeps the recipe's layer layout
// (first conv dense, the other layers in CSR except the small ones ERK fills, density
// ~0.1), has a finite loss, and moves the weights. Sizes are picked so the whole file
// runs in about a minute on two cores.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "data/data_testing.h"
#include "data/registry.h"
#include "engine/io/config.h"
#include "engine/train/options.h"
#include "engine/io/safetensors.h"
#include "engine/nn/init.h"
#include "engine/sparse/parameter.h"
#include "engine/sparsity/factory.h"
#include "models/models.h"
#include "recipe_testing.h"

namespace sprout {
namespace {

// The configs name models and data sets: register them before any config is read.
const bool kRegistered = (models::register_models(), data::register_data_sets(), true);


using Json = nlohmann::json;
using testing::config_path;
using testing::read_text;
using testing::run_sprout;
using testing::TempDir;

const char* kSmallImages = R"('data.options={"image_size":32,"resize_size":36}')";

// Losses logged per step (log_every = 1) and topology events, from metrics.jsonl.
struct Metrics {
  std::vector<double> losses;
  std::vector<Json> topology;
};

Metrics read_metrics(const std::string& path) {
  Metrics m;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);) {
    Json j = Json::parse(line);
    if (j.contains("loss")) m.losses.push_back(j["loss"].get<double>());
    if (j.value("event", "") == "topology") m.topology.push_back(j);
  }
  return m;
}

// Runs `config` for two steps of batch `batch` on the folder at `root` and returns the
// summary; the exit code and stderr are checked here.
Json two_steps(const std::string& config, const std::string& root, const std::string& out, int batch,
               const std::string& extra = std::string("--set ") + kSmallImages) {
  std::string args = "train --config " + config_path(config) + " --set data.root=" + root +
                     " --set train.max_steps=2 --set train.batch_size=" + std::to_string(batch) +
                     " --set train.eval_batch_size=" + std::to_string(batch) +
                     " --set data.workers=2 --set train.log_every=1 " + extra + " --device cpu --quiet --out " + out;
  std::filesystem::create_directories(out);
  testing::RunResult r = run_sprout(args, out);
  EXPECT_EQ(r.code, 0) << "sprout " << args << "\n" << r.err;
  if (r.code != 0) return Json();
  return Json::parse(read_text(out + "/summary.json"));
}

// Weight density over every conv and linear layer in the summary, dense ones included:
// what ER / ERK budget (a layer they would push above density 1 is dense and its
// excess is spread over the others).
double overall_density(const Json& s) {
  double nnz = 0, numel = 0;
  for (const Json& l : s["layers"]) {
    double n = 1;
    for (const Json& d : l["shape"]) n *= d.get<double>();
    nnz += l["nnz"].get<double>();
    numel += n;
  }
  return nnz / numel;
}

// Every weight layer of ResNet-50 is in the summary: conv1 dense when the recipe keeps
// it so, the others in CSR, except small layers the distribution makes dense (with
// three classes the fc is one). Returns the number of CSR layers.
int expect_resnet50_layout(const Json& s, bool first_dense, int min_csr) {
  const Json& layers = s["layers"];
  EXPECT_EQ(layers.size(), 54u) << "53 convs and the fc";
  int csr = 0, convs = 0;
  for (const Json& l : layers) {
    std::string name = l["name"];
    if (l["shape"].size() == 4) ++convs;
    if (name == "conv1.weight" && first_dense) {
      EXPECT_EQ(l["format"], "dense");
      EXPECT_EQ(l["shape"], Json({64, 3, 7, 7}));
      continue;
    }
    if (l["format"] == "csr") ++csr;
    else EXPECT_EQ(l["density"], 1.0) << l.dump();
  }
  EXPECT_EQ(convs, 53);
  EXPECT_GE(csr, min_csr);
  EXPECT_EQ(layers.back()["name"], "fc.weight");
  EXPECT_EQ(layers.back()["shape"], Json({3, 2048})) << "three classes in the generated folder";
  return csr;
}

void expect_finite_losses(const Metrics& m, size_t steps) {
  ASSERT_EQ(m.losses.size(), steps);
  for (double l : m.losses) {
    EXPECT_TRUE(std::isfinite(l)) << l;
    EXPECT_GT(l, 0.0);
  }
}

// Initial sparse structure and values, rebuilt in-process exactly as `sprout train`
// builds them (same seed, same order of draws).
struct InitialModel {
  nn::ModulePtr model;
  sparsity::SparsifierPtr sparsifier;
};

InitialModel initial_model(const std::string& config, int classes) {
  Json cfg = train::load_config(config_path(config), {});
  uint64_t seed = cfg["train"]["seed"].get<uint64_t>();
  nn::init_rng().seed_with(seed);
  InitialModel m;
  m.model = models::build(cfg["model"], {3, 32, 32}, classes);
  m.sparsifier = sparsity::make_sparsifier(cfg["sparsity"], *m.model, seed);
  return m;
}

#if SPROUT_WITH_JPEG

class ImageNetRecipe : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_imagenet_folder(root()); }
  std::string root() const { return dir_ / "imagenet"; }
  std::string out(const std::string& name) const { return dir_ / name; }
  TempDir dir_;
};

TEST_F(ImageNetRecipe, RigL90TwoStepsTrainTheSparseResNet50) {
  Json s = two_steps("imagenet_resnet50_rigl90.json", root(), out("rigl"), 4);
  ASSERT_FALSE(s.is_null());
  EXPECT_EQ(s["steps"], 2);
  EXPECT_EQ(s["device"], "cpu");
  EXPECT_NEAR(s["density"].get<double>(), 0.1, 0.001) << "over the sparse layers";
  EXPECT_NEAR(overall_density(s), 0.1, 1e-6) << "ERK's budget, dense layers included";
  int csr = expect_resnet50_layout(s, true, 48);
  EXPECT_EQ(s["parameters"]["dense"], 25557032 - 2049 * 1000 + 2049 * 3);
  // The resolved config is the recipe: lr 0.1 x batch / 256 and its schedule.
  const Json& c = s["config"];
  EXPECT_EQ(c["optimizer"]["lr_scale_batch"], 256);
  EXPECT_TRUE(c["optimizer"]["nesterov"].get<bool>());
  EXPECT_EQ(c["schedule"]["milestones"], Json({30, 70, 90}));
  EXPECT_EQ(c["train"]["label_smoothing"], 0.1);

  Metrics m = read_metrics(out("rigl") + "/metrics.jsonl");
  expect_finite_losses(m, 2);
  // RigL updates at step 0: every sparse layer drops and regrows as many as it drops
  // (nnz constant), 30% at the start of the cosine schedule less any regrown in place.
  ASSERT_EQ(m.topology.size(), (size_t)csr);
  int64_t moved = 0;
  for (const Json& e : m.topology) {
    EXPECT_EQ(e["step"], 0);
    EXPECT_EQ(e["dropped"], e["grown"]) << e.dump();
    moved += e["grown"].get<int64_t>();
  }
  EXPECT_GT(moved, 0);

  // The weights moved: against the initial model (rebuilt with the run's seed), the
  // dense first conv and BatchNorm were stepped by SGD at step 1, and each sparse layer
  // kept most positions (their values stepped too) and replaced the rest.
  InitialModel init = initial_model("imagenet_resnet50_rigl90.json", 3);
  io::SafetensorsFile ck = io::load_safetensors(out("rigl") + "/checkpoint.safetensors");
  EXPECT_EQ(ck.metadata.at("step"), "2");
  int sparse_layers = 0;
  int64_t all_kept = 0, all_kept_changed = 0;
  for (auto& p : init.model->parameters()) {
    if (!p.sparse) {
      const Tensor& after = ck.tensors.at("model." + p.name);
      ASSERT_EQ(after.numel(), p.tensor->numel()) << p.name;
      double diff = 0;
      for (int64_t i = 0; i < after.numel(); ++i)
        diff = std::max(diff, (double)std::fabs(after.data<float>()[i] - p.tensor->data<float>()[i]));
      EXPECT_GT(diff, 0.0) << p.name << " did not change";
      continue;
    }
    ++sparse_layers;
    const Tensor& col_after = ck.tensors.at("model." + p.name + ".col_idx");
    const Tensor& row_after = ck.tensors.at("model." + p.name + ".row_ptr");
    const Tensor& val_after = ck.tensors.at("model." + p.name + ".values");
    ASSERT_EQ(col_after.numel(), p.sparse->nnz()) << p.name << ": nnz must stay constant";
    const int32_t* rp0 = p.sparse->row_ptr.data<int32_t>();
    const int32_t* ci0 = p.sparse->col_idx.data<int32_t>();
    const float* v0 = p.sparse->values.data<float>();
    const int32_t* rp1 = row_after.data<int32_t>();
    const int32_t* ci1 = col_after.data<int32_t>();
    const float* v1 = val_after.data<float>();
    int64_t kept = 0, kept_changed = 0;
    for (int64_t r = 0; r < p.sparse->rows; ++r) {
      for (int32_t a = rp0[r], b = rp1[r]; a < rp0[r + 1] && b < rp1[r + 1];) {
        if (ci0[a] < ci1[b]) { ++a; continue; }
        if (ci1[b] < ci0[a]) { ++b; continue; }
        ++kept;
        kept_changed += v0[a] != v1[b];
        ++a;
        ++b;
      }
    }
    int64_t nnz = p.sparse->nnz();
    EXPECT_GE(kept, nnz * 6 / 10) << p.name << ": RigL's first update drops at most 30%";
    EXPECT_LT(kept, nnz) << p.name << ": the topology did not change";
    // (layer4's 3x3 convs see a 1x1 map at this input size: only their centre taps get
    // a gradient, so count over all layers.)
    EXPECT_GT(kept_changed, 0) << p.name << ": surviving weights were not stepped";
    all_kept += kept;
    all_kept_changed += kept_changed;
  }
  EXPECT_EQ(sparse_layers, csr);
  EXPECT_GT(all_kept_changed, all_kept * 8 / 10);
}

TEST_F(ImageNetRecipe, RigL90TwoStepsAtTheRecipesFullResolution) {
  // 224 x 224 crops of the tiny JPEGs (upsampled), batch 2: the real input size.
  Json s = two_steps("imagenet_resnet50_rigl90.json", root(), out("rigl224"), 2, "");
  ASSERT_FALSE(s.is_null());
  EXPECT_EQ(s["steps"], 2);
  EXPECT_EQ(s["config"]["data"]["options"]["image_size"], 224);
  EXPECT_NEAR(s["density"].get<double>(), 0.1, 0.001);
  expect_finite_losses(read_metrics(out("rigl224") + "/metrics.jsonl"), 2);
}

TEST_F(ImageNetRecipe, GraNet80TakesTwoSteps) {
  Json s = two_steps("imagenet_resnet50_granet80.json", root(), out("granet"), 4);
  ASSERT_FALSE(s.is_null());
  EXPECT_EQ(s["steps"], 2);
  // Starts at init_density 0.5; the cubic schedule is still at 0.5 at step 0, and the
  // regeneration at step 0 grows as many as it drops.
  // Layers ERK fills at 0.5 are kept in CSR at density 1, so the pruning can reach them.
  EXPECT_NEAR(s["density"].get<double>(), 0.5, 0.002);
  EXPECT_NEAR(overall_density(s), 0.5, 0.002);
  expect_resnet50_layout(s, true, 52);
  EXPECT_EQ(s["config"]["schedule"]["milestones"], Json({30, 60, 90}));
  EXPECT_EQ(s["config"]["sparsity"]["final_density"], 0.2);
  Metrics m = read_metrics(out("granet") + "/metrics.jsonl");
  expect_finite_losses(m, 2);
  ASSERT_FALSE(m.topology.empty());
  for (const Json& e : m.topology) {
    EXPECT_EQ(e["step"], 0);
    EXPECT_EQ(e["dropped"], e["grown"]) << e.dump();
  }
}

TEST_F(ImageNetRecipe, Set90TakesTwoSteps) {
  Json s = two_steps("imagenet_resnet50_set90.json", root(), out("set"), 4);
  ASSERT_FALSE(s.is_null());
  EXPECT_EQ(s["steps"], 2);
  EXPECT_NEAR(s["density"].get<double>(), 0.1, 0.001);
  EXPECT_NEAR(overall_density(s), 0.1, 1e-6);
  expect_resnet50_layout(s, true, 48);
  EXPECT_EQ(s["config"]["sparsity"]["distribution"], "er");
  Metrics m = read_metrics(out("set") + "/metrics.jsonl");
  expect_finite_losses(m, 2);
  EXPECT_TRUE(m.topology.empty()) << "SET evolves only at the end of an epoch";
}

TEST_F(ImageNetRecipe, DenseTakesTwoSteps) {
  Json s = two_steps("imagenet_resnet50_dense.json", root(), out("dense"), 4);
  ASSERT_FALSE(s.is_null());
  EXPECT_EQ(s["steps"], 2);
  EXPECT_EQ(s["density"], 1.0);
  for (const Json& l : s["layers"]) EXPECT_EQ(l["format"], "dense") << l["name"];
  expect_finite_losses(read_metrics(out("dense") + "/metrics.jsonl"), 2);
}

#endif  // SPROUT_WITH_JPEG

TEST(Recipes, ImageNetConfigsHoldThePublishedRecipes) {
  for (const char* name : {"imagenet_resnet50_rigl90.json", "imagenet_resnet50_granet80.json",
                           "imagenet_resnet50_set90.json", "imagenet_resnet50_dense.json"}) {
    SCOPED_TRACE(name);
    Json c = train::load_config(config_path(name), {});
    EXPECT_EQ(c["model"]["name"], "resnet50");
    EXPECT_EQ(c["model"]["stem"], "imagenet");
    EXPECT_EQ(c["data"]["name"], "imagenet");
    EXPECT_EQ(c["data"]["options"]["image_size"], 224);
    EXPECT_EQ(c["train"]["epochs"], 100);
    EXPECT_EQ(c["train"]["batch_size"], 256);
    EXPECT_EQ(c["train"]["label_smoothing"], 0.1);
    EXPECT_EQ(c["optimizer"]["name"], "sgd");
    EXPECT_EQ(c["optimizer"]["lr"], 0.1);
    EXPECT_EQ(c["optimizer"]["lr_scale_batch"], 256);
    EXPECT_EQ(c["optimizer"]["momentum"], 0.9);
    EXPECT_TRUE(c["optimizer"]["nesterov"].get<bool>());
    EXPECT_EQ(c["optimizer"]["weight_decay"], 1e-4);
    EXPECT_EQ(c["schedule"]["name"], "multistep");
    EXPECT_EQ(c["schedule"]["warmup_epochs"], 5);
    EXPECT_EQ(c["schedule"]["gamma"], 0.1);
  }
  Json rigl = train::load_config(config_path("imagenet_resnet50_rigl90.json"), {})["sparsity"];
  EXPECT_EQ(rigl["method"], "rigl");
  EXPECT_EQ(rigl["density"], 0.1);
  EXPECT_EQ(rigl["distribution"], "erk");
  EXPECT_TRUE(rigl["first_layer_dense"].get<bool>());
  EXPECT_EQ(rigl["update_every"], 100);
  EXPECT_EQ(rigl["drop_fraction"], 0.3);
  EXPECT_EQ(rigl["end_fraction"], 0.75);
  Json granet = train::load_config(config_path("imagenet_resnet50_granet80.json"), {})["sparsity"];
  EXPECT_EQ(granet["method"], "granet");
  EXPECT_EQ(granet["init_density"], 0.5);
  EXPECT_EQ(granet["final_density"], 0.2);
  EXPECT_EQ(granet["prune_start_epoch"], 0);
  EXPECT_EQ(granet["prune_end_epoch"], 30);
  EXPECT_EQ(granet["update_every"], 4000);
  Json set = train::load_config(config_path("imagenet_resnet50_set90.json"), {})["sparsity"];
  EXPECT_EQ(set["method"], "set");
  EXPECT_EQ(set["density"], 0.1);
  EXPECT_EQ(set["distribution"], "er");
  EXPECT_EQ(train::load_config(config_path("imagenet_resnet50_dense.json"), {})["sparsity"]["method"], "dense");
}

TEST(Recipes, UnknownKeyIsAOneLineError) {
  TempDir d;
  testing::RunResult r = run_sprout("train --config " + config_path("imagenet_resnet50_rigl90.json") +
                                        " --set sparsity.desnity=0.2 --device cpu --out " + d.path() + "/run",
                                    d.path());
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(r.err, "error: --set sparsity.desnity: unknown key 'sparsity.desnity'\n");
  r = run_sprout("train --config " + config_path("imagenet_resnet50_rigl90.json") + " --set 'data.options={\"imagesize\":32}'" +
                     " --set data.root=" + d.path() + " --device cpu --out " + d.path() + "/run",
                 d.path());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("unknown option 'imagesize' for dataset 'imagenet'"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(d.path() + "/run/checkpoint.safetensors"));
}

TEST(Recipes, Cifar10ConfigsTakeTwoSteps) {
  TempDir d;
  testing::write_cifar10_folder(d / "cifar", 8);
  for (const char* name : {"cifar10_resnet18_rigl90.json", "cifar10_vgg16_rigl90.json"}) {
    SCOPED_TRACE(name);
    std::string out = d / name;
    Json s = two_steps(name, d / "cifar", out, 4, R"(--set 'data.options={"check_counts":false}')");
    ASSERT_FALSE(s.is_null());
    EXPECT_EQ(s["steps"], 2);
    EXPECT_NEAR(overall_density(s), 0.1, 1e-6);
    EXPECT_LT(s["density"].get<double>(), 0.1) << "ERK fills some small layers, the rest is sparser";
    EXPECT_EQ(s["config"]["schedule"]["milestones"], Json({80, 120}));
    // ERK makes the small layers (first conv, 1x1 shortcuts, the 10-way fc) dense.
    int csr = 0;
    for (const Json& l : s["layers"]) {
      if (l["format"] == "csr") ++csr;
      else EXPECT_EQ(l["density"], 1.0) << l.dump();
    }
    EXPECT_GE(csr, (int)s["layers"].size() - 5);
    expect_finite_losses(read_metrics(out + "/metrics.jsonl"), 2);
  }
}

}  // namespace
}  // namespace sprout
