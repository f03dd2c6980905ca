// Recomputation in the backward pass, per block (gradient checkpointing: Chen et al. 2016; HF's
// --gradient_checkpointing): LibTorch has no torch.utils.checkpoint, so this is the same idea as a custom autograd
// function. The forward runs the block without recording a graph and keeps only its input; the backward runs the block
// again with gradients on and backpropagates through that. Activation memory falls from every block's intermediates to
// one block's plus each block's input, for about one more forward pass of compute.
#pragma once
#include <torch/torch.h>

namespace rlhf {

class BlockImpl;

// block.forward(x, cos, sin, mask) without a KV cache, recomputed in backward. x [B, T, C] -> [B, T, C]. Gradients reach
// x and every block parameter with requires_grad (adapters only under LoRA). The state of the default generator of x's
// device (CPU or CUDA) and that device's autocast state at forward time are restored for the recomputation, so dropout
// (LoRA's) draws the same masks and bf16 autocast casts the same ops.
torch::Tensor recomputed_block(BlockImpl& block, const torch::Tensor& x, const torch::Tensor& cos,
                                 const torch::Tensor& sin, const torch::Tensor& mask);

}  // namespace rlhf
