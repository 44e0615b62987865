// Gate kernels (CPU, float and double): per-unit scaling of [outer, channels, inner]
// activations (hard 0/1 gates of structured pruning, learned scalars of shared
// weights), the straight-through gate gradient, and the polarization and density
// regularizers over a vector of gate logits.
#pragma once
#include <cstdint>

namespace sprout::kernels::cpu {

// y[o, c, i] = x[o, c, i] * w[units == 1 ? 0 : c]; units is channels or 1.
template <class T>
void channel_mul(const T* x, const T* w, T* y, int64_t outer, int64_t channels, int64_t inner,
                 int64_t units);
// dx = dy * w (skipped when dx is null); dw[u] = sum of dy * x over every element
// unit u scales (skipped when dw is null).
template <class T>
void channel_mul_backward(const T* x, const T* dy, const T* w, T* dx, T* dw, int64_t outer,
                          int64_t channels, int64_t inner, int64_t units);
// b[u] = 1 where sigmoid(z[u]) > 0.5, i.e. z[u] > 0; else 0.
template <class T> void hard_gate(const T* z, T* b, int64_t n);
// Straight-through: dz[u] = db[u] * q (1 - q), q = sigmoid(z[u]).
template <class T> void gate_logit_grad(const T* z, const T* db, T* dz, int64_t n);
// Pol(q) = t sum|q| - sum|q - mean(q)| with q = sigmoid(z).
template <class T> double polarization(const T* z, int64_t n, double t);
// dz = g dPol/dz.
template <class T> void polarization_backward(const T* z, int64_t n, double t, double g, T* dz);
// (mean(b) - d)^2 with b the hard gates of z.
template <class T> double density_penalty(const T* z, int64_t n, double d);
// Straight-through (db/dq = 1): dz = g 2 (mean(b) - d) / n * q (1 - q).
template <class T> void density_penalty_backward(const T* z, int64_t n, double d, double g, T* dz);

}  // namespace sprout::kernels::cpu
