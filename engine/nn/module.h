// Module: the PyTorch-like building block. A module registers its parameters
// (pointers to its own Tensor fields, so moving them to a device or replacing a
// sparse layer's values keeps every holder in sync), its buffers and its children.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"

namespace sprout::sparse {
struct SparseParameter;
}  // namespace sprout::sparse

namespace sprout::nn {

// A trainable tensor as the optimizer and the checkpoint see it.
struct ParamRef {
  std::string name;
  Tensor* tensor = nullptr;
  // Set for a sparse layer's weight: `tensor` then holds its nnz values.
  sparse::SparseParameter* sparse = nullptr;
};

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
  virtual std::string type_name() const = 0;

  // Recursive, with dotted names ("0.weight", "layer1.0.conv1.weight").
  std::vector<ParamRef> parameters();
  std::vector<std::pair<std::string, Tensor*>> buffers();
  // Every module in the tree with its dotted name, parents before children.
  std::vector<std::pair<std::string, Module*>> modules();

  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }
  // Moves parameters (category weights/indices) and buffers to `dev`.
  virtual void to(Device dev);
  Device device() const { return device_; }
  int64_t num_parameters();

  std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() { return children_; }

 protected:
  void register_parameter(const std::string& name, Tensor* t);
  void register_sparse_parameter(const std::string& name, sparse::SparseParameter* p);
  void register_buffer(const std::string& name, Tensor* t);
  template <class M> std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }
  Device device_ = Device::cpu();

 private:
  std::vector<ParamRef> params_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

using ModulePtr = std::shared_ptr<Module>;

}  // namespace sprout::nn
