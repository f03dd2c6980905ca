// A caching allocator for LibTorch's CPU tensors, the CPU counterpart of PyTorch's CUDA caching allocator.
//
// Why: LibTorch's CPU tensors come from glibc's malloc. Past its first frees, glibc serves blocks up to 32 MB from its
// heap, splitting and merging free space; one training step's many 8-64 MB activations then leave holes it cannot
// reuse or give back, and the resident set grows far past what is alive. Measured on the 25m preset (bench/RESULTS.md,
// "CPU allocator"): a LoRA RM forward kept 1.05 GB of tensors alive and peaked 2.33 GB above its start; PPO's peak
// was 2.4 GB with ~1.3 GB alive. Forcing glibc to map every block of 1 MB or more on its own (and unmap it on free)
// removes the holes but makes every such allocation fault in fresh pages: SFT and RM steps 35 % slower.
//
// What: blocks of kMinCachedBytes or more are mapped whole, rounded up to one of 16 size classes per power of two
// (at most 6.25 % over), and kept on free in a list for their class, so the next request of that class (the same
// tensor of the next layer or step), or of a class up to an eighth smaller, reuses it with its pages already in place.
// Blocks are never split, so there are no holes. The cache is bounded: before mapping a new block, cached blocks are
// unmapped (largest first) until what is mapped stays within twice the highest total in use so far (room for the
// blocks of two phases of other sizes, as PPO's scoring and optimisation, so that neither maps its own again each
// iteration), so the resident set follows the real peak.
// release_cached_cpu_memory() (between pipeline stages and benchmark phases, like torch.cuda.empty_cache) unmaps the
// cache and starts the peak again. Smaller blocks go to malloc (64-byte aligned, like c10's own allocator).
#pragma once
#include <cstddef>
#include <cstdint>

namespace c10 {
struct Allocator;
}

namespace rlhf {

constexpr size_t kMinCachedBytes = size_t{1} << 20;

// The size class a request of `bytes` (>= kMinCachedBytes) is served from.
size_t cpu_allocator_size_class(size_t bytes);

struct CpuAllocatorStats {
  size_t in_use_bytes = 0;       // cached-class blocks held by tensors now
  size_t cached_bytes = 0;       // mapped blocks waiting for reuse
  size_t peak_in_use_bytes = 0;  // highest in_use_bytes so far
  int64_t maps = 0, reuses = 0, unmaps = 0;
};

// The allocator (one per process, never destroyed: tensors may be freed during exit).
c10::Allocator* caching_cpu_allocator();
CpuAllocatorStats caching_cpu_allocator_stats();

// Unmaps every cached block and takes what is in use now as the new peak (a new phase with other tensor sizes).
void release_cached_cpu_memory();

// Makes it LibTorch's CPU allocator for tensors created from now on (tensors made before keep their own deleters).
// Not installed under AddressSanitizer, which must see every block as a malloc block to check accesses to it.
// Returns whether it was installed.
bool install_caching_cpu_allocator();

}  // namespace rlhf
