#include "world/random.h"

#include <cmath>
#include <numeric>

#include "common/error.h"

namespace rlhf::world {

namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
}  // namespace

uint64_t stable_hash(const std::string& text, uint64_t seed) {
  uint64_t h = 0xCBF29CE484222325ull ^ splitmix64(seed);
  for (unsigned char c : text) h = (h ^ c) * 0x100000001B3ull;
  return splitmix64(h);
}

uint64_t mix_seed(uint64_t seed, const std::string& salt) { return stable_hash(salt, seed); }

uint64_t Rng::below(uint64_t n) {
  if (n == 0) fail("world random draw", "a non-empty range", "an empty one (a list in the world is empty)");
  // Reject the top partial bucket so every residue is equally likely.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = engine_(); while (x >= limit);
  return x % n;
}

int Rng::range(int low, int high) { return low + static_cast<int>(below(static_cast<uint64_t>(high - low) + 1)); }

double Rng::uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  double u1 = uniform(), u2 = uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

double Rng::gumbel() {
  double u = uniform();
  if (u < 1e-300) u = 1e-300;
  return -std::log(-std::log(u));
}

size_t Rng::weighted(const std::vector<double>& weights) {
  double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  double r = uniform() * total;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (r < weights[i]) return i;
    r -= weights[i];
  }
  return weights.size() - 1;  // rounding at the top end
}

std::vector<size_t> Rng::sample_indices(size_t n, size_t k) {
  std::vector<size_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  for (size_t i = 0; i < k && i < n; ++i) std::swap(all[i], all[i + below(n - i)]);
  all.resize(k < n ? k : n);
  return all;
}

}  // namespace rlhf::world
