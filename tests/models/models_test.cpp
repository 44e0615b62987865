// Model zoo: parameter counts against torchvision's published numbers, names, and
// output shapes.
#include "engine/autograd/node.h"
#include "engine/core/flops.h"
#include "engine/nn/layers.h"
#include "models/models.h"
#include "models/resnet.h"
#include "testing.h"

namespace sprout::models {
namespace {

TEST(Models, ResNetParameterCountsMatchTorchvision) {
  // torchvision: resnet18 11,689,512; resnet34 21,797,672; resnet50 25,557,032.
  EXPECT_EQ(resnet(18, 1000)->num_parameters(), 11689512);
  EXPECT_EQ(resnet(34, 1000)->num_parameters(), 21797672);
  EXPECT_EQ(resnet(50, 1000)->num_parameters(), 25557032);
}

TEST(Models, ResNetUsesTorchvisionNames) {
  auto m = resnet(50, 1000);
  std::vector<std::string> names;
  for (auto& p : m->parameters()) names.push_back(p.name);
  EXPECT_EQ(names.front(), "conv1.weight");
  EXPECT_NE(std::find(names.begin(), names.end(), "layer1.0.downsample.0.weight"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "layer4.2.bn3.bias"), names.end());
  EXPECT_EQ(names.back(), "fc.bias");
  int buffers = 0;
  for (auto& b : m->buffers()) buffers += b.first.find("running_") != std::string::npos;
  EXPECT_EQ(buffers, 2 * 53);  // 53 BatchNorm layers in ResNet-50
}

TEST(Models, MlpShapesAndCount) {
  auto m = mlp(784, {1000, 1000, 1000}, 10);
  EXPECT_EQ(m->num_parameters(), 784 * 1000 + 1000 + 2 * (1000 * 1000 + 1000) + 1000 * 10 + 10);
  autograd::NoGradGuard ng;
  Tensor y = m->forward(Tensor::zeros({3, 784}));
  EXPECT_EQ(y.shape(), (Shape{3, 10}));
}

TEST(Models, SmallResNetAndVggForwardShapes) {
  autograd::NoGradGuard ng;
  auto r = resnet(18, 10, "cifar", 3, 0.25);
  r->eval();
  Tensor x = testing::randn({2, 3, 16, 16}, 5, DType::F32);
  EXPECT_EQ(r->forward(x).shape(), (Shape{2, 10}));
  auto r50 = resnet(50, 7, "imagenet", 3, 0.125);
  r50->eval();
  EXPECT_EQ(r50->forward(testing::randn({1, 3, 32, 32}, 6, DType::F32)).shape(), (Shape{1, 7}));
  auto v = vgg(16, 10);
  EXPECT_EQ(v->num_parameters(), 14728266);  // VGG-16-BN CIFAR variant with a 512->10 head
}

// torchvision lists ResNet-50 at 4.09 GFLOPS (multiply-adds of its convolutions and fc
// layer) for one 224x224 image; the FLOP accounting counts a multiply-add as 2.
TEST(Models, ResNet50ForwardFlopsMatchTorchvision) {
  autograd::NoGradGuard ng;
  auto m = resnet(50, 1000);
  m->eval();
  const FlopCount before = flops_counted();
  m->forward(Tensor::zeros({1, 3, 224, 224}));
  const FlopCount f = flops_counted() - before;
  EXPECT_NEAR(f.done[0] / 2, 4.09e9, 0.005e9);
  EXPECT_EQ(f.done[0], f.dense[0]);
  EXPECT_EQ(f.total_done(), f.done[0]);  // no backward under NoGradGuard
}

}  // namespace
}  // namespace sprout::models
