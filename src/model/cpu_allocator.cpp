#include "model/cpu_allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>
#include <malloc.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace rlhf {

size_t cpu_allocator_size_class(size_t bytes) {
  size_t power = size_t{1};
  while (power <= bytes / 2) power <<= 1;   // the largest power of two <= bytes
  const size_t step = power / 16;           // 16 classes per power of two
  return (bytes + step - 1) / step * step;  // >= 1 MB, so a multiple of 64 KB: whole pages
}

namespace {

constexpr size_t kSmallAlignment = 64;  // c10's alignment for CPU tensors (AVX-512 loads)

class CachingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t bytes) override {
    if (bytes < kMinCachedBytes) {  // malloc's, freed without a look at the cache's table
      void* data = allocate_small(bytes);
      return {data, data, &std::free, c10::Device(c10::DeviceType::CPU)};
    }
    void* data = allocate_cached(bytes);
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }
  // raw_deallocate() gets one deleter for every block: release() tells the two kinds apart by the table.
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }

  void release_cached() {
    std::lock_guard<std::mutex> lock(mutex_);
    unmap_all_cached();
    stats_.peak_in_use_bytes = stats_.in_use_bytes;
  }

  CpuAllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  static void release(void* data);

  static void* allocate_small(size_t bytes) {
    if (bytes == 0) return nullptr;
    void* data = nullptr;
    if (posix_memalign(&data, kSmallAlignment, bytes) != 0 || data == nullptr)
      TORCH_CHECK_WITH(OutOfMemoryError, false, "CPU: out of memory allocating ", bytes, " bytes");
    return data;
  }

  void* allocate_cached(size_t bytes) {
    const size_t size = cpu_allocator_size_class(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // The smallest cached block of this class or of the next ones up to an eighth larger (two classes): a block
      // a little too large beats mapping another while it sits unused.
      auto it = free_.lower_bound(size);  // lists are never empty: the smallest cached class >= size
      if (it != free_.end() && it->first <= size + size / 8) {
        const size_t block = it->first;
        void* data = take_cached(it);
        note_in_use(data, block);
        ++stats_.reuses;
        return data;
      }
      // A miss: keep what is mapped within twice the highest total in use (this request included). A PPO iteration's
      // phases hold blocks of other sizes (scoring: [rollout, vocab] logits; optimisation: a minibatch's activations):
      // within the highest use plus an eighth, each phase unmapped the other's blocks and faulted in its own again,
      // ~56 MB per phase and 10 % of a demo iteration (bench/RESULTS.md, "Page faults").
      const size_t wanted = std::max(stats_.peak_in_use_bytes, stats_.in_use_bytes + size);
      const size_t limit = 2 * wanted;
      while (!free_.empty() && stats_.in_use_bytes + stats_.cached_bytes + size > limit) unmap_largest_cached();
    }
    void* data = map(size);
    if (data == nullptr) {  // the cache may hold what the system needs back
      {
        std::lock_guard<std::mutex> lock(mutex_);
        unmap_all_cached();
      }
      data = map(size);
      TORCH_CHECK_WITH(OutOfMemoryError, data != nullptr, "CPU: out of memory allocating ", bytes, " bytes");
    }
    std::lock_guard<std::mutex> lock(mutex_);
    note_in_use(data, size);
    ++stats_.maps;
    return data;
  }

  static void* map(size_t size) {
    void* data = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return data == MAP_FAILED ? nullptr : data;
  }

  // Called with mutex_ held.
  void note_in_use(void* data, size_t size) {
    sizes_[data] = size;
    stats_.in_use_bytes += size;
    stats_.peak_in_use_bytes = std::max(stats_.peak_in_use_bytes, stats_.in_use_bytes);
  }
  // Takes one block off a class's list, dropping the list when it empties (so every list in free_ holds a block).
  void* take_cached(std::map<size_t, std::vector<void*>>::iterator it) {
    void* data = it->second.back();
    stats_.cached_bytes -= it->first;
    it->second.pop_back();
    if (it->second.empty()) free_.erase(it);
    return data;
  }
  void unmap_largest_cached() {
    const size_t size = free_.rbegin()->first;
    munmap(take_cached(std::prev(free_.end())), size);
    ++stats_.unmaps;
  }
  void unmap_all_cached() {
    while (!free_.empty()) unmap_largest_cached();
  }

  // Returns a block: to its class's list if it is a cached-class block, to malloc otherwise.
  void give_back(void* data) {
    if (data == nullptr) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = sizes_.find(data);
      if (it != sizes_.end()) {
        const size_t size = it->second;
        sizes_.erase(it);
        stats_.in_use_bytes -= size;
        stats_.cached_bytes += size;
        free_[size].push_back(data);
        return;
      }
    }
    std::free(data);
  }

  std::mutex mutex_;
  std::unordered_map<void*, size_t> sizes_;      // blocks in use -> their class
  std::map<size_t, std::vector<void*>> free_;    // class -> cached blocks (never an empty list), largest last
  CpuAllocatorStats stats_;
};

CachingCpuAllocator& instance() {
  static auto* allocator = new CachingCpuAllocator();  // never destroyed: static tensors are freed after main returns
  return *allocator;
}

void CachingCpuAllocator::release(void* data) { instance().give_back(data); }

}  // namespace

c10::Allocator* caching_cpu_allocator() { return &instance(); }

CpuAllocatorStats caching_cpu_allocator_stats() { return instance().stats(); }

void release_cached_cpu_memory() { instance().release_cached(); }

bool install_caching_cpu_allocator() {
#if defined(__SANITIZE_ADDRESS__)
  return false;
#else
  // Priority above c10's default (0), so a later default registration does not replace it.
  c10::SetCPUAllocator(caching_cpu_allocator(), /*priority=*/1);
  // What stays with malloc is under 1 MB: keep it in the heap, and keep up to 32 MB free at the heap's top rather
  // than returning it after every step and faulting it in again (glibc's trim threshold follows its mmap threshold,
  // 128 KB to 64 MB as blocks come and go; a PPO iteration's optimisation phase re-faulted ~30 MB with it).
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMinCachedBytes));
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
  return c10::GetCPUAllocator() == caching_cpu_allocator();
#endif
}

}  // namespace rlhf
