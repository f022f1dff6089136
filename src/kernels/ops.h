// kernels/ops.h - vector math on float spans (Highway, runtime dispatch to the best SIMD target of
// the CPU). Each function has a scalar twin in namespace `scalar` that the tests compare it with
// on every target. Kernels know nothing about models: spans and sizes in, numbers out.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lfm2::kernels {

// sum_i a[i] * b[i]
float Dot(const float* a, const float* b, size_t n);
// out[i] = x[i] * weight[i] / sqrt(mean(x^2) + eps)   (out may alias x)
void RmsNorm(const float* x, const float* weight, size_t n, float eps, float* out);
// out[i] = silu(gate[i]) * up[i] = gate[i] / (1 + exp(-gate[i])) * up[i]   (out may alias either)
void SiluMul(const float* gate, const float* up, size_t n, float* out);
// y[i] += x[i]
void AddInto(const float* x, size_t n, float* y);
// y[i] += a * x[i]
void Axpy(float a, const float* x, size_t n, float* y);
// x[i] = exp(x[i] - max) / sum   (in place)
void Softmax(float* x, size_t n);

// Which SIMD target the dispatcher chose ("AVX3_DL", "AVX2", ...), for logs and benchmarks.
const char* ActiveTargetName();

namespace scalar {
float Dot(const float* a, const float* b, size_t n);
void RmsNorm(const float* x, const float* weight, size_t n, float eps, float* out);
void SiluMul(const float* gate, const float* up, size_t n, float* out);
void AddInto(const float* x, size_t n, float* y);
void Axpy(float a, const float* x, size_t n, float* y);
void Softmax(float* x, size_t n);
}  // namespace scalar

}  // namespace lfm2::kernels
