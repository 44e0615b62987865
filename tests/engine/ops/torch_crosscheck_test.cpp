// Cross-check against PyTorch: inputs are written to a temporary folder, one run of
// /usr/bin/python3 computes conv2d, batch_norm (train, with running statistics; also
// followed by a residual add and ReLU, against sprout's fused op), max/avg/global
// pooling and cross_entropy with label smoothing and their gradients in float64, and
// sprout must agree to 1e-9. Skips, saying why, without torch.
#include "testing.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/ops/batchnorm.h"
#include "engine/ops/conv.h"
#include "engine/ops/loss.h"
#include "engine/ops/pool.h"

namespace sprout {
namespace {

using testing::randn;

constexpr const char* kPython = "/usr/bin/python3";

// Reads every input named in shapes.txt, runs the reference ops, writes out_<name>.bin.
constexpr const char* kScript = R"PY(
import os, sys
import torch
import torch.nn.functional as F
d = sys.argv[1]
shapes = {}
for line in open(os.path.join(d, 'shapes.txt')):
    parts = line.split()
    shapes[parts[0]] = [int(v) for v in parts[1:]]
def load(name, grad=False):
    with open(os.path.join(d, name + '.bin'), 'rb') as f:
        t = torch.frombuffer(bytearray(f.read()), dtype=torch.float64).reshape(shapes[name]).clone()
    return t.requires_grad_(grad)
def save(name, t):
    with open(os.path.join(d, 'out_' + name + '.bin'), 'wb') as f:
        f.write(t.detach().contiguous().to(torch.float64).numpy().tobytes())

x, w, b, g = load('conv_x', True), load('conv_w', True), load('conv_b', True), load('conv_g')
y = F.conv2d(x, w, b, stride=2, padding=1)
(y * g).sum().backward()
for n, t in [('conv_y', y), ('conv_dx', x.grad), ('conv_dw', w.grad), ('conv_db', b.grad)]: save(n, t)

x, ga, be, g = load('bn_x', True), load('bn_gamma', True), load('bn_beta', True), load('bn_g')
rm, rv = load('bn_rm'), load('bn_rv')
y = F.batch_norm(x, rm, rv, ga, be, training=True, momentum=0.1, eps=1e-5)
(y * g).sum().backward()
for n, t in [('bn_y', y), ('bn_dx', x.grad), ('bn_dgamma', ga.grad), ('bn_dbeta', be.grad),
             ('bn_rm', rm), ('bn_rv', rv)]: save(n, t)

x, ga, be, r, g = load('bnar_x', True), load('bnar_gamma', True), load('bnar_beta', True), load('bnar_r', True), load('bnar_g')
rm, rv = load('bnar_rm'), load('bnar_rv')
y = F.relu(F.batch_norm(x, rm, rv, ga, be, training=True, momentum=0.1, eps=1e-5) + r)
(y * g).sum().backward()
for n, t in [('bnar_y', y), ('bnar_dx', x.grad), ('bnar_dgamma', ga.grad), ('bnar_dbeta', be.grad),
             ('bnar_dr', r.grad), ('bnar_rm', rm), ('bnar_rv', rv)]: save(n, t)

for name, fn in [('maxpool', lambda t: F.max_pool2d(t, 3, 2, 1)),
                 ('avgpool', lambda t: F.avg_pool2d(t, 3, 2, 1, count_include_pad=True)),
                 ('gap', lambda t: F.adaptive_avg_pool2d(t, 1).flatten(1))]:
    x, g = load(name + '_x', True), load(name + '_g')
    y = fn(x)
    (y * g).sum().backward()
    save(name + '_y', y)
    save(name + '_dx', x.grad)

logits, labels = load('xent_logits', True), load('xent_labels').long()
loss = F.cross_entropy(logits, labels, label_smoothing=0.1)
loss.backward()
save('xent_loss', loss.reshape(1))
save('xent_dlogits', logits.grad)
)PY";

class TorchCrossCheck : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (std::system((std::string(kPython) + " -c 'import torch' > /dev/null 2>&1").c_str()) != 0) {
      skip_reason_ = std::string("PyTorch cannot be imported by ") + kPython;
      return;
    }
    char tmpl[] = "/tmp/sprout_torch_XXXXXX";
    if (!mkdtemp(tmpl)) {
      skip_reason_ = "cannot create a temporary folder";
      return;
    }
    dir_ = tmpl;
    make_inputs();
    std::ofstream(dir_ + "/check.py") << kScript;
    std::string cmd = std::string(kPython) + " " + dir_ + "/check.py " + dir_ + " > " + dir_ +
                      "/log.txt 2>&1";
    ran_ = std::system(cmd.c_str()) == 0;
    if (!ran_) {
      std::ifstream log(dir_ + "/log.txt");
      std::stringstream ss;
      ss << log.rdbuf();
      log_ = ss.str();
    }
  }

  static void TearDownTestSuite() {
    if (dir_.empty()) return;
    int rc = std::system(("rm -rf " + dir_).c_str());
    (void)rc;
  }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(ran_) << "the PyTorch script failed:\n" << log_;
  }

  static void put(const std::string& name, const Tensor& t) {
    inputs_[name] = t;
    std::ofstream(dir_ + "/" + name + ".bin", std::ios::binary)
        .write(static_cast<const char*>(t.raw_data()), (std::streamsize)t.nbytes());
    std::ofstream shapes(dir_ + "/shapes.txt", std::ios::app);
    shapes << name;
    for (int64_t d : t.shape()) shapes << " " << d;
    shapes << "\n";
  }

  static void make_inputs() {
    put("conv_x", randn({2, 3, 7, 6}, 1));
    put("conv_w", randn({4, 3, 3, 3}, 2));
    put("conv_b", randn({4}, 3));
    put("conv_g", randn({2, 4, 4, 3}, 4));
    put("bn_x", randn({3, 4, 5, 3}, 5));
    put("bn_gamma", randn({4}, 6));
    put("bn_beta", randn({4}, 7));
    put("bn_rm", randn({4}, 8));
    put("bn_rv", Tensor::from_vector<double>({0.5, 1.0, 1.5, 2.0}, {4}));
    put("bn_g", randn({3, 4, 5, 3}, 9));
    put("bnar_x", randn({3, 4, 5, 3}, 17));
    put("bnar_gamma", Tensor::from_vector<double>({1.2, 0.0, -0.6, 1e-12}, {4}));
    put("bnar_beta", randn({4}, 18));
    put("bnar_r", randn({3, 4, 5, 3}, 19));
    put("bnar_rm", randn({4}, 20));
    put("bnar_rv", Tensor::from_vector<double>({0.5, 1.0, 1.5, 2.0}, {4}));
    put("bnar_g", randn({3, 4, 5, 3}, 21));
    put("maxpool_x", randn({2, 3, 7, 8}, 10));
    put("maxpool_g", randn({2, 3, 4, 4}, 11));
    put("avgpool_x", randn({2, 3, 7, 8}, 12));
    put("avgpool_g", randn({2, 3, 4, 4}, 13));
    put("gap_x", randn({2, 3, 5, 4}, 14));
    put("gap_g", randn({2, 3}, 15));
    put("xent_logits", randn({5, 7}, 16));
    put("xent_labels", Tensor::from_vector<double>({3, 0, 6, 2, 2}, {5}));
  }

  // PyTorch's result `name`, shaped like `like`.
  static Tensor reference(const std::string& name, const Tensor& like) {
    Tensor t = Tensor::empty(like.shape(), DType::F64);
    std::ifstream f(dir_ + "/out_" + name + ".bin", std::ios::binary);
    f.read(static_cast<char*>(t.raw_data()), (std::streamsize)t.nbytes());
    EXPECT_TRUE(f.good()) << "missing or short reference " << name;
    return t;
  }

  static void expect_matches(const std::string& name, const Tensor& got) {
    ASSERT_TRUE(got.defined()) << name;
    EXPECT_LE(testing::rel_error(got, reference(name, got)), 1e-9) << name;
  }

  static Tensor leaf(const std::string& name) {
    Tensor t = inputs_[name].clone();
    t.set_requires_grad(true);
    return t;
  }

  static std::string skip_reason_, dir_, log_;
  static bool ran_;
  static std::map<std::string, Tensor> inputs_;
};

std::string TorchCrossCheck::skip_reason_, TorchCrossCheck::dir_, TorchCrossCheck::log_;
bool TorchCrossCheck::ran_ = false;
std::map<std::string, Tensor> TorchCrossCheck::inputs_;

TEST_F(TorchCrossCheck, Conv2d) {
  Tensor x = leaf("conv_x"), w = leaf("conv_w"), b = leaf("conv_b");
  Tensor y = ops::conv2d(x, w, b, 2, 1);
  y.backward(inputs_["conv_g"]);
  expect_matches("conv_y", y);
  expect_matches("conv_dx", x.grad());
  expect_matches("conv_dw", w.grad());
  expect_matches("conv_db", b.grad());
}

TEST_F(TorchCrossCheck, BatchNormTrain) {
  Tensor x = leaf("bn_x"), ga = leaf("bn_gamma"), be = leaf("bn_beta");
  Tensor rm = inputs_["bn_rm"].clone(), rv = inputs_["bn_rv"].clone();
  Tensor y = ops::batch_norm2d(x, ga, be, rm, rv, true, 0.1, 1e-5);
  y.backward(inputs_["bn_g"]);
  expect_matches("bn_y", y);
  expect_matches("bn_dx", x.grad());
  expect_matches("bn_dgamma", ga.grad());
  expect_matches("bn_dbeta", be.grad());
  expect_matches("bn_rm", rm);
  expect_matches("bn_rv", rv);
}

TEST_F(TorchCrossCheck, FusedBatchNormAddRelu) {
  // relu(batch_norm(x) + r), with gamma 0 and tiny in two channels.
  Tensor x = leaf("bnar_x"), ga = leaf("bnar_gamma"), be = leaf("bnar_beta"), r = leaf("bnar_r");
  Tensor rm = inputs_["bnar_rm"].clone(), rv = inputs_["bnar_rv"].clone();
  Tensor y = ops::batch_norm_act2d(x, r, ga, be, rm, rv, true, true, 0.1, 1e-5);
  y.backward(inputs_["bnar_g"]);
  expect_matches("bnar_y", y);
  expect_matches("bnar_dx", x.grad());
  expect_matches("bnar_dgamma", ga.grad());
  expect_matches("bnar_dbeta", be.grad());
  expect_matches("bnar_dr", r.grad());
  expect_matches("bnar_rm", rm);
  expect_matches("bnar_rv", rv);
}

TEST_F(TorchCrossCheck, Pooling) {
  struct Case { const char* name; std::function<Tensor(const Tensor&)> fn; };
  for (const Case& c : {Case{"maxpool", [](const Tensor& t) { return ops::max_pool2d(t, 3, 2, 1); }},
                        Case{"avgpool", [](const Tensor& t) { return ops::avg_pool2d(t, 3, 2, 1); }},
                        Case{"gap", [](const Tensor& t) { return ops::global_avg_pool(t); }}}) {
    std::string n = c.name;
    Tensor x = leaf(n + "_x");
    Tensor y = c.fn(x);
    y.backward(inputs_[n + "_g"]);
    expect_matches(n + "_y", y);
    expect_matches(n + "_dx", x.grad());
  }
}

TEST_F(TorchCrossCheck, CrossEntropyLabelSmoothing) {
  Tensor logits = leaf("xent_logits");
  std::vector<int32_t> lab;
  for (double v : inputs_["xent_labels"].to_vector<double>()) lab.push_back((int32_t)v);
  Tensor loss = ops::cross_entropy(logits, Tensor::from_vector<int32_t>(lab, {5}), 0.1);
  loss.backward();
  expect_matches("xent_loss", loss);
  expect_matches("xent_dlogits", logits.grad());
}

}  // namespace
}  // namespace sprout
