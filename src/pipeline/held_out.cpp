#include "pipeline/held_out.h"

#include <algorithm>
#include <sstream>

#include "common/error.h"
#include "world/tasks.h"
#include "world/world.h"

namespace rlhf::pipeline {

using json = nlohmann::json;

namespace {

std::string trimmed(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t"), end = text.find_last_not_of(" \t");
  return begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

HeldOutCategories HeldOutCategories::parse(const std::string& list) {
  const auto& known = world::task_categories();
  HeldOutCategories held_out;
  std::stringstream items(list);
  std::string item;
  while (std::getline(items, item, ',')) {
    const std::string name = trimmed(item);
    if (name.empty()) continue;  // "a," or "a, ,b": a stray comma names nothing
    if (std::find(known.begin(), known.end(), name) == known.end())
      fail("--held_out_categories", "task categories of the world, comma-separated, out of: " + joined(known),
           "'" + name + "'");
    if (std::find(held_out.categories_.begin(), held_out.categories_.end(), name) == held_out.categories_.end())
      held_out.categories_.push_back(name);
  }
  if (held_out.categories_.size() >= known.size())
    fail("--held_out_categories", "at most " + std::to_string(known.size() - 1) + " of the " +
                                      std::to_string(known.size()) + " task categories (the models must train on one)",
         "all of them ('" + list + "')");
  // The world's order, so that "b,a" and "a,b" are the same settings (and the same stage keys).
  std::sort(held_out.categories_.begin(), held_out.categories_.end(), [&](const std::string& a, const std::string& b) {
    return std::find(known.begin(), known.end(), a) < std::find(known.begin(), known.end(), b);
  });
  return held_out;
}

bool HeldOutCategories::holds(const json& record) const {
  if (categories_.empty() || !record.is_object()) return false;
  auto held_out = [&](const json& category) {
    return category.is_string() &&
           std::find(categories_.begin(), categories_.end(), category.get<std::string>()) != categories_.end();
  };
  // The record's category, and the task's own (they agree in the world's records; either one held out is enough).
  if (record.contains("task") && held_out(record["task"])) return true;
  const json* task_data = record.contains("task_data") ? &record["task_data"] : nullptr;
  return task_data && task_data->is_object() && task_data->contains("category") && held_out((*task_data)["category"]);
}

std::vector<json> HeldOutCategories::without(std::vector<json> records) const {
  records.erase(std::remove_if(records.begin(), records.end(), [&](const json& r) { return holds(r); }), records.end());
  return records;
}

std::vector<json> HeldOutCategories::labeler_prompts(const world::World& world, int count, const std::string& salt) const {
  if (categories_.empty()) return world.labeler_prompts(count, salt);
  // The labelers write categories in turn and each prompt draws from one stream, so a longer draw starts with the
  // shorter one: draw enough for `count` of the remaining categories, and keep the first `count` of them.
  const int all = static_cast<int>(world::task_categories().size()), kept = all - static_cast<int>(categories_.size());
  const int draws = (count * all + kept - 1) / kept + all;
  std::vector<json> out = without(world.labeler_prompts(draws, salt));
  if (static_cast<int>(out.size()) > count) out.resize(static_cast<size_t>(std::max(0, count)));
  return out;
}

}  // namespace rlhf::pipeline
