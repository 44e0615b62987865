// Module tree walks and device moves.
#include "engine/nn/module.h"

#include "engine/sparse/parameter.h"

namespace sprout::nn {

void Module::register_parameter(const std::string& name, Tensor* t) {
  if (t->defined()) t->set_requires_grad(true);  // a deferred weight sets it when drawn
  params_.push_back(ParamRef{name, t, nullptr});
}

void Module::register_sparse_parameter(const std::string& name, sparse::SparseParameter* p) {
  p->values.set_requires_grad(true);
  params_.push_back(ParamRef{name, &p->values, p});
}

void Module::register_buffer(const std::string& name, Tensor* t) { buffers_.emplace_back(name, t); }

std::vector<ParamRef> Module::parameters() {
  std::vector<ParamRef> out = params_;
  for (auto& [cname, child] : children_)
    for (ParamRef p : child->parameters()) {
      p.name = cname + "." + p.name;
      out.push_back(p);
    }
  return out;
}

std::vector<std::pair<std::string, Tensor*>> Module::buffers() {
  auto out = buffers_;
  for (auto& [cname, child] : children_)
    for (auto& [bname, t] : child->buffers()) out.emplace_back(cname + "." + bname, t);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (auto& [cname, child] : children_)
    for (auto& [sub, m] : child->modules()) out.emplace_back(sub.empty() ? cname : cname + "." + sub, m);
  return out;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->train(on);
}

void Module::to(Device dev) {
  for (auto& p : params_) {
    if (p.sparse) {
      p.sparse->to(dev);
    } else if (p.tensor->device() != dev) {
      Tensor moved = p.tensor->to(dev, MemCategory::Weights);
      moved.set_requires_grad(true);
      *p.tensor = moved;
    }
  }
  for (auto& b : buffers_)
    if (b.second->defined() && b.second->device() != dev) *b.second = b.second->to(dev, MemCategory::Weights);
  device_ = dev;
  for (auto& c : children_) c.second->to(dev);
}

int64_t Module::num_parameters() {
  int64_t n = 0;
  for (auto& p : parameters()) n += p.sparse ? p.sparse->dense_numel() : p.tensor->numel();
  return n;
}

}  // namespace sprout::nn
