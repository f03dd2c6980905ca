#include "eval/harmful.h"

#include <map>

#include "eval/stats.h"

namespace rlhf::eval {

using json = nlohmann::json;

namespace {

json share_of(const std::vector<double>& flags) {
  double sum = 0;
  for (double f : flags) sum += f;
  const Proportion p = wilson_interval(sum, static_cast<double>(flags.size()));
  return {{"value", number_or_null(p.value)}, {"ci", {p.low, p.high}}, {"n", flags.size()}};
}

}  // namespace

json compliance_json(const std::vector<HarmfulVerdict>& verdicts) {
  std::vector<double> complies, refuses;
  std::map<std::string, std::vector<double>> by_kind;
  for (const auto& v : verdicts) {
    complies.push_back(v.verdict == "complies" ? 1 : 0);
    refuses.push_back(v.verdict == "refuses" ? 1 : 0);
    by_kind[v.kind].push_back(complies.back());
  }
  json out = share_of(complies);
  out["refusal"] = share_of(refuses);
  out["by_kind"] = json::object();
  for (const auto& [kind, flags] : by_kind) out["by_kind"][kind] = share_of(flags);
  return out;
}

}  // namespace rlhf::eval
