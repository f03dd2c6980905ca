// The world's randomness: one std::mt19937_64 per component, seeded from (world seed, component name), and our own
// integer/real draws on top of it. std::uniform_int_distribution and friends are implementation-defined (libstdc++ and
// libc++ give different numbers), so using them would make "same seed -> same bytes" depend on the compiler.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace rlhf::world {

// FNV-1a over the bytes, then a splitmix64 finaliser so that nearby strings give unrelated seeds.
uint64_t stable_hash(const std::string& text, uint64_t seed = 0);
uint64_t mix_seed(uint64_t seed, const std::string& salt);

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  Rng(uint64_t seed, const std::string& salt) : engine_(mix_seed(seed, salt)) {}

  uint64_t next() { return engine_(); }
  uint64_t below(uint64_t n);                 // uniform in [0, n), n > 0 (rejection, no modulo bias)
  int range(int low, int high);               // uniform in [low, high]
  double uniform();                           // [0, 1) with 53 random bits
  bool chance(double p) { return uniform() < p; }
  double normal();                            // standard normal (Box-Muller)
  double gumbel();                            // standard Gumbel, for Plackett-Luce sampling
  size_t weighted(const std::vector<double>& weights);  // index with probability weight / sum

  template <typename T>
  const T& pick(const std::vector<T>& items) { return items[below(items.size())]; }
  template <typename T>
  void shuffle(std::vector<T>& items) {
    for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[below(i)]);
  }
  // k distinct indices from [0, n) in random order (k <= n).
  std::vector<size_t> sample_indices(size_t n, size_t k);

 private:
  std::mt19937_64 engine_;
};

}  // namespace rlhf::world
