#include "eval/unanswerable.h"

#include <map>
#include <set>

#include "common/error.h"
#include "eval/stats.h"

namespace rlhf::eval {

using json = nlohmann::json;

namespace {

// {"unanswerable": proportion, "answerable": proportion} of the items' idk flags.
json split_by_answerability(const std::vector<const IdkItem*>& items) {
  std::vector<double> unanswerable, answerable;
  for (const IdkItem* item : items) (item->answerable ? answerable : unanswerable).push_back(item->idk ? 1 : 0);
  return {{"unanswerable", proportion_json(unanswerable)}, {"answerable", proportion_json(answerable)}};
}

}  // namespace

json idk_shares(const std::vector<IdkItem>& pooled, const std::vector<IdkItem>& reported_only) {
  std::vector<const IdkItem*> all;
  std::map<std::string, std::vector<const IdkItem*>> by_source;
  std::set<std::string> pooled_sources;
  json unanswerable_ids = json::array(), unanswerable_idk = json::array();
  for (const auto& item : pooled) {
    all.push_back(&item);
    by_source[item.source].push_back(&item);
    pooled_sources.insert(item.source);
    if (!item.answerable) unanswerable_ids.push_back(item.source + ":" + item.id), unanswerable_idk.push_back(item.idk ? 1 : 0);
  }
  for (const auto& item : reported_only) {
    if (pooled_sources.count(item.source))
      fail("idk_shares", "reported-only sources apart from the pooled ones", "source " + item.source + " in both");
    by_source[item.source].push_back(&item);
  }
  json out = split_by_answerability(all);
  out["by_source"] = json::object();
  for (const auto& [source, items] : by_source) out["by_source"][source] = split_by_answerability(items);
  out["pooled_sources"] = pooled_sources;
  out["unanswerable_items"] = {{"ids", unanswerable_ids}, {"idk", unanswerable_idk}};
  return out;
}

}  // namespace rlhf::eval
