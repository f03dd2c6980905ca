#include "data/curate.h"

#include <algorithm>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "common/error.h"
#include "common/json.h"
#include "common/files.h"
#include "data/pii.h"

namespace rlhf::data {

using json = nlohmann::json;

namespace {

const char* kSplitNames[3] = {"train", "validation", "test"};

// Our own draws over mt19937_64 (std::shuffle's are implementation-defined): same seed, same split everywhere.
uint64_t below(std::mt19937_64& engine, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = engine(); while (x >= limit);
  return x % n;
}

template <typename T>
void shuffle(std::vector<T>& items, std::mt19937_64& engine) {
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[below(engine, i)]);
}

// The first `n` UTF-8 code points of `text` (continuation bytes do not count as characters).
std::string prefix_code_points(const std::string& text, int n) {
  int count = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (count == n) return text.substr(0, i);
      ++count;
    }
  }
  return count >= n ? text : std::string();  // shorter than n: no long prefix to share
}

std::string user_of(const json& record, const std::string& field, const std::string& where) {
  auto it = record.find(field);
  if (it == record.end()) fail(where, "a \"" + field + "\" field (the user id; set --user_field)", "none");
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  fail(where, "\"" + field + "\" to be a string or an integer", it->type_name());
}

}  // namespace

std::vector<double> parse_split(const std::string& text) {
  std::vector<double> parts;
  std::stringstream in(text);
  std::string piece;
  while (std::getline(in, piece, ',')) {
    try {
      size_t used = 0;
      double v = std::stod(piece, &used);
      if (used != piece.size() || !(v >= 0)) throw std::invalid_argument("bad");
      parts.push_back(v);
    } catch (const std::exception&) {
      fail("--split", "three non-negative numbers like 0.8,0.1,0.1", "'" + text + "'");
    }
  }
  if (parts.size() != 3 || parts[0] + parts[1] + parts[2] <= 0)
    fail("--split", "three non-negative numbers with a positive sum, like 0.8,0.1,0.1", "'" + text + "'");
  return parts;
}

Curated curate(const std::vector<json>& records, const CurateOptions& o, const std::vector<std::string>& where) {
  if (o.pii != "redact" && o.pii != "drop") fail("--pii", "redact or drop", "'" + o.pii + "'");
  if (o.prefix_chars < 0) fail("--prefix_chars", "a number >= 0", std::to_string(o.prefix_chars));
  if (o.max_per_user < 0) fail("--max_per_user", "a number >= 0", std::to_string(o.max_per_user));
  if (o.split.size() != 3 || o.split[0] < 0 || o.split[1] < 0 || o.split[2] < 0 || o.split[0] + o.split[1] + o.split[2] <= 0)
    fail("--split", "three non-negative numbers with a positive sum", std::to_string(o.split.size()) + " numbers");
  Curated out;
  CurationReport& r = out.report;
  r.options = o;
  r.input = records.size();

  struct Item { json record; std::string user, text; };
  std::vector<Item> items;
  std::set<std::string> all_users;
  for (size_t i = 0; i < records.size(); ++i) {
    std::string at = i < where.size() ? where[i] : "record " + std::to_string(i + 1);
    const json& record = records[i];
    if (!record.is_object()) fail(at, "a JSON object", record.type_name());
    auto text = record.find(o.text_field);
    if (text == record.end() || !text->is_string())
      fail(at, "a \"" + o.text_field + "\" string (the prompt; set --text_field)", text == record.end() ? "none" : text->type_name());
    Item item{record, user_of(record, o.user_field, at), text->get<std::string>()};
    all_users.insert(item.user);
    // 1. PII
    auto matches = find_pii(item.text);
    if (!matches.empty()) {
      ++r.pii_prompts;
      for (const auto& m : matches) ++r.pii_matches[m.kind];
      if (o.pii == "drop") {
        ++r.pii_dropped;
        continue;
      }
      item.text = redact_pii(item.text, matches);
      item.record[o.text_field] = item.text;
      ++r.pii_redacted;
    }
    items.push_back(std::move(item));
  }
  r.users = all_users.size();

  // 2. Exact duplicates, then long common prefixes; the first occurrence in log order stays.
  std::vector<Item> unique;
  std::unordered_set<std::string> seen_text, seen_prefix;
  for (auto& item : items) {
    if (!seen_text.insert(item.text).second) {
      ++r.exact_duplicates;
      continue;
    }
    if (o.prefix_chars > 0) {
      std::string prefix = prefix_code_points(item.text, o.prefix_chars);
      if (!prefix.empty() && !seen_prefix.insert(prefix).second) {
        ++r.prefix_duplicates;
        continue;
      }
    }
    unique.push_back(std::move(item));
  }

  // 3. Per-user cap: a seeded sample of max_per_user of each user's prompts.
  std::mt19937_64 engine(o.seed);
  std::map<std::string, std::vector<size_t>> by_user;
  for (size_t i = 0; i < unique.size(); ++i) by_user[unique[i].user].push_back(i);
  std::vector<bool> keep(unique.size(), true);
  for (auto& [user, indices] : by_user) {
    if (o.max_per_user == 0 || indices.size() <= static_cast<size_t>(o.max_per_user)) continue;
    ++r.users_over_cap;
    std::vector<size_t> order = indices;
    shuffle(order, engine);
    for (size_t k = static_cast<size_t>(o.max_per_user); k < order.size(); ++k) keep[order[k]] = false, ++r.over_user_cap;
  }

  // 4. Split by user: users in a seeded order, each to the split furthest below its share of prompts so far.
  std::vector<std::string> users;
  std::map<std::string, size_t> counts;
  for (size_t i = 0; i < unique.size(); ++i)
    if (keep[i]) ++counts[unique[i].user];
  for (const auto& [user, n] : counts) users.push_back(user);
  shuffle(users, engine);
  double total_share = o.split[0] + o.split[1] + o.split[2];
  std::map<std::string, int> split_of;
  size_t assigned[3] = {0, 0, 0}, assigned_users[3] = {0, 0, 0};
  for (const auto& user : users) {
    size_t n = counts[user], total = assigned[0] + assigned[1] + assigned[2] + n;
    int best = 0;
    double best_gap = -1e300;
    for (int s = 0; s < 3; ++s) {
      if (o.split[s] <= 0) continue;
      double gap = o.split[s] / total_share * static_cast<double>(total) - static_cast<double>(assigned[s]);
      if (gap > best_gap) best_gap = gap, best = s;
    }
    split_of[user] = best;
    assigned[best] += n, ++assigned_users[best];
  }
  // A split with a positive share gets at least one user when there are enough users to go round.
  for (int s = 0; s < 3; ++s) {
    if (o.split[s] <= 0 || assigned_users[s] > 0) continue;
    int donor = static_cast<int>(std::max_element(assigned_users, assigned_users + 3) - assigned_users);
    if (assigned_users[donor] < 2) continue;
    std::string smallest;
    for (const auto& user : users)
      if (split_of[user] == donor && (smallest.empty() || counts[user] < counts[smallest])) smallest = user;
    split_of[smallest] = s;
    assigned[donor] -= counts[smallest], --assigned_users[donor];
    assigned[s] += counts[smallest], ++assigned_users[s];
  }
  std::vector<json>* splits[3] = {&out.train, &out.validation, &out.test};
  for (size_t i = 0; i < unique.size(); ++i) {
    if (!keep[i]) continue;
    int s = split_of[unique[i].user];
    const json& record = unique[i].record;
    std::string type = record.contains("prompt_type") && record["prompt_type"].is_string()
                           ? record["prompt_type"].get<std::string>() : "(none)";
    ++r.prompt_types[kSplitNames[s]][type];
    splits[s]->push_back(std::move(unique[i].record));
  }
  for (int s = 0; s < 3; ++s) {
    r.split_prompts[kSplitNames[s]] = splits[s]->size();
    r.split_users[kSplitNames[s]] = assigned_users[s];
  }
  r.kept = out.train.size() + out.validation.size() + out.test.size();
  return out;
}

json CurationReport::to_json() const {
  return {{"input", input},
          {"users", users},
          {"pii", {{"prompts", pii_prompts}, {"matches", pii_matches}, {"redacted", pii_redacted}, {"dropped", pii_dropped},
                   {"mode", options.pii}}},
          {"exact_duplicates", exact_duplicates},
          {"prefix_duplicates", prefix_duplicates},
          {"prefix_chars", options.prefix_chars},
          {"over_user_cap", over_user_cap},
          {"users_over_cap", users_over_cap},
          {"max_per_user", options.max_per_user},
          {"kept", kept},
          {"split", {{"fractions", options.split}, {"prompts", split_prompts}, {"users", split_users},
                     {"prompt_types", prompt_types}}},
          {"seed", options.seed},
          {"text_field", options.text_field},
          {"user_field", options.user_field}};
}

std::string CurationReport::summary() const {
  std::ostringstream s;
  s << "read " << input << " prompts from " << users << " users\n";
  s << "  pii: " << pii_prompts << " prompts (";
  bool first = true;
  for (const auto& [kind, n] : pii_matches) s << (first ? "" : ", ") << kind << " " << n, first = false;
  s << ") " << (options.pii == "drop" ? "dropped" : "redacted") << "\n";
  s << "  exact duplicates removed: " << exact_duplicates << "\n";
  s << "  prefix duplicates removed (same first " << options.prefix_chars << " characters): " << prefix_duplicates << "\n";
  s << "  over the per-user cap of " << options.max_per_user << " removed: " << over_user_cap << " (from "
    << users_over_cap << " users)\n";
  s << "kept " << kept << ":";
  for (const char* name : kSplitNames)
    s << " " << name << " " << split_prompts.at(name) << " (" << split_users.at(name) << " users)";
  s << "\n";
  return s.str();
}

CurationReport curate_file(const std::string& input, const std::string& out_dir, const CurateOptions& options) {
  std::ifstream in(input);
  if (!in) fail(input, "a readable JSONL prompt log", "cannot open the file");
  std::vector<json> records;
  std::vector<std::string> where;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::string at = input + ":" + std::to_string(number);
    check_json_nesting(line, at);
    try {
      records.push_back(json::parse(line));
    } catch (const json::exception& e) {
      fail(at, "a JSON object", std::string("invalid JSON (") + e.what() + ")");
    }
    where.push_back(at);
  }
  Curated curated = curate(records, options, where);
  make_dirs(out_dir);
  const std::vector<json>* splits[3] = {&curated.train, &curated.validation, &curated.test};
  for (int s = 0; s < 3; ++s) {
    AtomicWriter writer(out_dir + "/" + kSplitNames[s] + ".jsonl");
    for (const auto& r : *splits[s]) writer.write(r.dump() + "\n");
    writer.commit();
  }
  json report = curated.report.to_json();
  report["input_path"] = input;
  write_file_atomic(out_dir + "/curation_report.json", report.dump(2) + "\n");
  return curated.report;
}

}  // namespace rlhf::data
