// SGD (momentum, Nesterov, weight decay) and AdamW; fused kernels per parameter.
#include "engine/optim/optimizer.h"

#include <cmath>

#include "engine/core/dispatch.h"
#include "kernels/cpu/optim.h"

namespace sprout::optim {

void Optimizer::zero_grad() {
  for (auto& p : params_) {
    Tensor g = p.tensor->grad();
    if (g.defined()) {
      if (g.numel() == p.tensor->numel()) g.zero_();
      else p.tensor->set_grad(Tensor());  // a topology edit changed nnz
    }
  }
}

std::vector<std::pair<std::string, Tensor*>> Optimizer::named_state() {
  std::vector<std::pair<std::string, Tensor*>> out;
  auto names = state_names();
  for (size_t i = 0; i < params_.size(); ++i) {
    auto st = state_of(i);
    for (size_t k = 0; k < st.size(); ++k) out.emplace_back(params_[i].name + "." + names[k], st[k]);
  }
  return out;
}

static Tensor state_like(const Tensor& p) {
  return Tensor::zeros(p.shape(), p.dtype(), p.device(), MemCategory::Optimizer);
}

Sgd::Sgd(std::vector<nn::ParamRef> params, SgdOptions o) : Optimizer(std::move(params)), opt(o) {
  if (opt.momentum != 0)
    for (auto& p : params_) momentum_.push_back(state_like(*p.tensor));
}

std::vector<Tensor*> Sgd::state_of(size_t i) {
  if (momentum_.empty()) return {};
  return {&momentum_[i]};
}

std::vector<std::string> Sgd::state_names() const {
  return opt.momentum != 0 ? std::vector<std::string>{"momentum"} : std::vector<std::string>{};
}

void Sgd::step(double lr) {
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& w = *params_[i].tensor;
    Tensor g = w.grad();
    if (!g.defined()) continue;
    SPROUT_CHECK(g.numel() == w.numel(), "sgd: gradient of ", params_[i].name, " has ", g.numel(),
                 " elements, parameter ", w.numel());
    Tensor* buf = momentum_.empty() ? nullptr : &momentum_[i];
    if (buf) SPROUT_CHECK(buf->numel() == w.numel(), "sgd: momentum of ", params_[i].name,
                          " has ", buf->numel(), " elements, parameter ", w.numel());
    if (w.is_cuda()) {
      check_cuda_f32(w, "sgd");
      SPROUT_ON_CUDA(kernels::cuda::sgd_update(w.data<float>(), g.data<float>(),
                                               buf ? buf->data<float>() : nullptr, w.numel(),
                                               (float)lr, (float)opt.momentum,
                                               (float)opt.weight_decay, opt.nesterov, stream()));
    } else {
      dispatch_float(w.dtype(), "sgd", [&](auto t) {
        using T = decltype(t);
        kernels::cpu::sgd_update<T>(w.data<T>(), g.data<T>(), buf ? buf->data<T>() : nullptr,
                                    w.numel(), (T)lr, (T)opt.momentum, (T)opt.weight_decay,
                                    opt.nesterov);
      });
    }
  }
  ++steps;
}

AdamW::AdamW(std::vector<nn::ParamRef> params, AdamWOptions o) : Optimizer(std::move(params)), opt(o) {
  for (auto& p : params_) {
    m_.push_back(state_like(*p.tensor));
    v_.push_back(state_like(*p.tensor));
  }
}

std::vector<Tensor*> AdamW::state_of(size_t i) { return {&m_[i], &v_[i]}; }

void AdamW::step(double lr) {
  double t = (double)(steps + 1);
  double bc1 = 1 - std::pow(opt.beta1, t), bc2 = 1 - std::pow(opt.beta2, t);
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& w = *params_[i].tensor;
    Tensor g = w.grad();
    if (!g.defined()) continue;
    SPROUT_CHECK(g.numel() == w.numel() && m_[i].numel() == w.numel(), "adamw: sizes of ",
                 params_[i].name, " disagree");
    if (w.is_cuda()) {
      check_cuda_f32(w, "adamw");
      SPROUT_ON_CUDA(kernels::cuda::adamw_update(w.data<float>(), g.data<float>(), m_[i].data<float>(),
                                                 v_[i].data<float>(), w.numel(), (float)lr,
                                                 (float)opt.beta1, (float)opt.beta2, (float)opt.eps,
                                                 (float)opt.weight_decay, (float)bc1, (float)bc2,
                                                 stream()));
    } else {
      dispatch_float(w.dtype(), "adamw", [&](auto tag) {
        using T = decltype(tag);
        kernels::cpu::adamw_update<T>(w.data<T>(), g.data<T>(), m_[i].data<T>(), v_[i].data<T>(),
                                      w.numel(), (T)lr, (T)opt.beta1, (T)opt.beta2, (T)opt.eps,
                                      (T)opt.weight_decay, (T)bc1, (T)bc2);
      });
    }
  }
  ++steps;
}

}  // namespace sprout::optim
