#include "bench/profile.h"

#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

namespace rlhf::bench {

namespace prof = torch::autograd::profiler;
using torch::profiler::impl::ActivityType;
using torch::profiler::impl::ProfilerConfig;
using torch::profiler::impl::ProfilerState;

Profile profile_ops(const std::function<void()>& work) {
  OpProfiler profiler;
  profiler.start();
  work();
  return profiler.stop();
}

void OpProfiler::start() {
  ProfilerConfig config(ProfilerState::KINETO);
  const std::set<ActivityType> activities = {ActivityType::CPU};
  prof::prepareProfiler(config, activities);
  prof::enableProfiler(config, activities);
  started_ = std::chrono::steady_clock::now();
}

Profile OpProfiler::stop() {
  const double wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
  auto result = prof::disableProfiler();

  struct Span {
    std::string name;
    uint64_t start, end, thread;
  };
  std::vector<Span> spans;
  for (const auto& e : result->events()) {
    if (e.deviceType() != c10::DeviceType::CPU || e.isAsync() || e.name().empty()) continue;
    spans.push_back({e.name(), e.startNs(), e.endNs(), e.startThreadId()});
  }
  // Nesting per thread: sorted by start (outer first on ties), an op is the child of the nearest open op that
  // encloses it; self time = own time - children's time.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    if (a.thread != b.thread) return a.thread < b.thread;
    return a.start != b.start ? a.start < b.start : a.end > b.end;
  });
  std::map<std::string, OpTime> by_name;
  std::vector<std::pair<const Span*, uint64_t>> open;  // span, children's time
  auto close = [&](const Span* s, uint64_t children) {
    auto& op = by_name[s->name];
    op.name = s->name;
    op.calls += 1;
    const uint64_t own = s->end - s->start;
    op.total_ms += static_cast<double>(own) / 1e6;
    op.self_ms += static_cast<double>(own - std::min(own, children)) / 1e6;
  };
  for (const auto& s : spans) {
    while (!open.empty() && (open.back().first->thread != s.thread || open.back().first->end <= s.start)) {
      close(open.back().first, open.back().second);
      open.pop_back();
    }
    if (!open.empty()) open.back().second += s.end - s.start;
    open.push_back({&s, 0});
  }
  for (; !open.empty(); open.pop_back()) close(open.back().first, open.back().second);

  Profile profile;
  profile.wall_ms = wall_ms;
  for (auto& [name, op] : by_name) profile.ops.push_back(op);
  std::sort(profile.ops.begin(), profile.ops.end(),
            [](const OpTime& a, const OpTime& b) { return a.self_ms > b.self_ms; });
  return profile;
}

nlohmann::json to_json(const Profile& p, size_t top) {
  nlohmann::json ops = nlohmann::json::array();
  for (size_t i = 0; i < std::min(top, p.ops.size()); ++i)
    ops.push_back({{"name", p.ops[i].name}, {"calls", p.ops[i].calls}, {"self_ms", p.ops[i].self_ms},
                   {"total_ms", p.ops[i].total_ms}});
  return {{"wall_ms", p.wall_ms}, {"ops", ops}};
}

std::string profile_table(const Profile& p, size_t top) {
  char line[200];
  std::snprintf(line, sizeof line, "profile: %.1f ms wall (profiler overhead included); ops by self time\n", p.wall_ms);
  std::string out = line;
  out += "  op                                              calls    self ms   self %   total ms\n";
  for (size_t i = 0; i < std::min(top, p.ops.size()); ++i) {
    const auto& op = p.ops[i];
    std::snprintf(line, sizeof line, "  %-46.46s %7lld %10.2f %7.1f%% %10.2f\n", op.name.c_str(),
                  static_cast<long long>(op.calls), op.self_ms, p.wall_ms > 0 ? 100 * op.self_ms / p.wall_ms : 0.0,
                  op.total_ms);
    out += line;
  }
  return out;
}

}  // namespace rlhf::bench
