// Precompiled header for every translation unit that uses LibTorch: torch is by far the largest thing we compile against.
#pragma once
#include <torch/torch.h>
