// The caching CPU allocator (src/model/cpu_allocator.h): size classes, reuse, the bound on what it keeps mapped, and
// tensors through it as LibTorch's CPU allocator.
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <malloc.h>

#include <cstdint>
#include <cstdlib>
#include <vector>
#include <cstring>

#include "model/cpu_allocator.h"

namespace rlhf {
namespace {

constexpr size_t MB = size_t{1} << 20;

TEST(CpuAllocator, SizeClassesRoundUpBySixteenthsOfAPowerOfTwoToWholePages) {
  size_t previous = 0;
  for (size_t bytes = kMinCachedBytes; bytes < 300 * MB; bytes += 4093 * 37) {
    const size_t size = cpu_allocator_size_class(bytes);
    EXPECT_GE(size, bytes);
    EXPECT_LE(static_cast<double>(size), static_cast<double>(bytes) * 1.0625) << bytes;
    EXPECT_EQ(size % 4096, 0u) << bytes;
    EXPECT_GE(size, previous) << bytes;  // monotone
    previous = size;
  }
  EXPECT_EQ(cpu_allocator_size_class(MB), MB);
  EXPECT_EQ(cpu_allocator_size_class(MB + 1), MB + MB / 16);
  EXPECT_EQ(cpu_allocator_size_class(3 * MB), 3 * MB);
}

TEST(CpuAllocator, AFreedBlockServesTheNextRequestOfItsClass) {
  auto* allocator = caching_cpu_allocator();
  release_cached_cpu_memory();
  const auto before = caching_cpu_allocator_stats();
  void* first = nullptr;
  {
    auto block = allocator->allocate(5 * MB + 123);
    first = block.get();
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % 64, 0u);
    std::memset(first, 0x5a, 5 * MB + 123);  // the whole request is writable
    EXPECT_EQ(caching_cpu_allocator_stats().in_use_bytes, before.in_use_bytes + cpu_allocator_size_class(5 * MB + 123));
  }
  auto stats = caching_cpu_allocator_stats();
  EXPECT_EQ(stats.in_use_bytes, before.in_use_bytes);
  EXPECT_EQ(stats.cached_bytes, cpu_allocator_size_class(5 * MB + 123));
  {
    auto again = allocator->allocate(5 * MB + 100);  // same class
    EXPECT_EQ(again.get(), first);
    EXPECT_EQ(caching_cpu_allocator_stats().reuses, stats.reuses + 1);
    EXPECT_EQ(caching_cpu_allocator_stats().cached_bytes, 0u);
  }
  // Small requests are malloc's: aligned, never cached.
  auto small = allocator->allocate(1000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small.get()) % 64, 0u);
  EXPECT_EQ(caching_cpu_allocator_stats().in_use_bytes, before.in_use_bytes);
  EXPECT_EQ(allocator->allocate(0).get(), nullptr);
}

TEST(CpuAllocator, AMissTakesACachedBlockUpToAnEighthLargerBeforeMappingAnother) {
  auto* allocator = caching_cpu_allocator();
  release_cached_cpu_memory();
  void* five = nullptr;
  { auto block = allocator->allocate(5 * MB); five = block.get(); }  // cached: one 5 MB block
  const auto before = caching_cpu_allocator_stats();
  {
    auto smaller = allocator->allocate(4 * MB + 600 * 1024);  // class 4.75 MB: 5 MB is within an eighth above it
    EXPECT_EQ(smaller.get(), five);
    EXPECT_EQ(caching_cpu_allocator_stats().in_use_bytes, before.in_use_bytes + 5 * MB);  // counted at its size
    EXPECT_EQ(caching_cpu_allocator_stats().maps, before.maps);
  }
  {
    // Class 4 MB: 5 MB is more than an eighth above it, so a new block (mmap may hand back the same addresses once
    // the bound has unmapped the 5 MB one, so the count tells, not the pointer).
    const auto reuses = caching_cpu_allocator_stats().reuses;
    auto much_smaller = allocator->allocate(4 * MB);
    EXPECT_EQ(caching_cpu_allocator_stats().maps, before.maps + 1);
    EXPECT_EQ(caching_cpu_allocator_stats().reuses, reuses);
  }
  release_cached_cpu_memory();
}

TEST(CpuAllocator, KeepsWhatIsMappedWithinTwiceTheHighestUseSoFar) {
  auto* allocator = caching_cpu_allocator();
  release_cached_cpu_memory();
  const auto start = caching_cpu_allocator_stats();
  { auto a = allocator->allocate(64 * MB); }  // peak 64 MB; the block is cached
  EXPECT_EQ(caching_cpu_allocator_stats().cached_bytes, 64 * MB);
  {
    // 48 MB of another class: 64 cached + 48 stays within 2 * 64, so both stay mapped (a later phase of other sizes
    // finds its blocks again).
    auto b = allocator->allocate(48 * MB);
    EXPECT_EQ(caching_cpu_allocator_stats().unmaps, start.unmaps);
  }
  EXPECT_EQ(caching_cpu_allocator_stats().cached_bytes, 112 * MB);
  {
    // 40 MB of a third class: 112 cached + 40 would exceed 2 * 64, so the largest cached block (64 MB) is unmapped
    // first; 48 + 40 is within.
    auto c = allocator->allocate(40 * MB);
    auto stats = caching_cpu_allocator_stats();
    EXPECT_EQ(stats.cached_bytes, 48 * MB);
    EXPECT_EQ(stats.unmaps, start.unmaps + 1);
    EXPECT_EQ(stats.in_use_bytes, start.in_use_bytes + 40 * MB);
  }
  release_cached_cpu_memory();
  EXPECT_EQ(caching_cpu_allocator_stats().cached_bytes, 0u);
  EXPECT_EQ(caching_cpu_allocator_stats().peak_in_use_bytes, caching_cpu_allocator_stats().in_use_bytes);
}

// Once installed, what stays with malloc (blocks under 1 MB) comes from its heap, never a mapping of its own, and
// freeing it leaves the heap's top in place for the next step instead of returning it (to be faulted in again).
TEST(CpuAllocator, MallocKeepsSmallBlocksInItsHeapOnceInstalled) {
  if (!install_caching_cpu_allocator()) GTEST_SKIP() << "not installed under AddressSanitizer";
  const auto before = mallinfo2();
  std::vector<void*> blocks;
  for (int i = 0; i < 16; ++i) blocks.push_back(std::malloc(kMinCachedBytes / 2));  // 8 MB in 512 KB blocks
  EXPECT_EQ(mallinfo2().hblks, before.hblks);  // none mapped on its own
  EXPECT_GE(mallinfo2().arena, before.arena + 8 * MB - kMinCachedBytes);
  for (void* block : blocks) std::free(block);
  EXPECT_GE(mallinfo2().arena, before.arena + 8 * MB - kMinCachedBytes);  // not trimmed
}

TEST(CpuAllocator, TensorsThroughItComputeAsThroughMalloc) {
  torch::manual_seed(0);
  auto x = torch::randn({512, 1024}), w = torch::randn({1024, 1024}, torch::requires_grad());
  auto reference = torch::matmul(x, w).tanh().sum();
  reference.backward();
  auto reference_grad = w.grad().clone();
  w.mutable_grad() = torch::Tensor();
  if (!install_caching_cpu_allocator()) GTEST_SKIP() << "not installed under AddressSanitizer";
  ASSERT_EQ(c10::GetCPUAllocator(), caching_cpu_allocator());
  const auto before = caching_cpu_allocator_stats();
  for (int step = 0; step < 3; ++step) {  // the same sizes each step: from the second on, blocks are reused
    auto x2 = x.clone(), w2 = w.detach().clone().requires_grad_(true);
    auto loss = torch::matmul(x2, w2).tanh().sum();
    loss.backward();
    EXPECT_TRUE(torch::equal(w2.grad(), reference_grad));
    EXPECT_TRUE(torch::equal(loss, reference));
  }
  auto stats = caching_cpu_allocator_stats();
  EXPECT_GT(stats.maps, before.maps);
  EXPECT_GT(stats.reuses, before.reuses);
}

}  // namespace
}  // namespace rlhf
