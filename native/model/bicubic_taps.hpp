#pragma once
// The bicubic resize weights, computed once for every resize in the package: the CPU preprocess
// (model/preprocess.cpp, bit-exact with torch's antialiased uint8 bicubic) and the CUDA preprocess
// kernels (backends/cuda/preprocess.cu) both take their taps from here. C++17 on purpose: nvcc
// compiles the CUDA side as C++17.
#include <cstdint>
#include <vector>

namespace alp::model {

// Keys cubic convolution with a = -0.5, the filter PIL and torch's antialiased bicubic use.
double bicubic_kernel(double x);

// torch's uint8 antialiased bicubic taps along one axis: per output index i, the first input index,
// the number of taps and int16 fixed-point taps (output i's at offset i * max_count; unused ones 0),
// all at `precision` fractional bits. Downscaling widens the support by the scale.
struct BicubicTaps {
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int16_t> k;
  int max_count = 0;
  int precision = 0;
};
BicubicTaps bicubic_taps(int in_size, int out_size);

}  // namespace alp::model
