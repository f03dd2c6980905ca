#include "world/users.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "world/harmful.h"
#include "world/language.h"
#include "world/random.h"
#include "world/tasks.h"

namespace rlhf::world {

namespace {

using json = nlohmann::json;

const std::vector<std::string>& use_cases() {
  static const std::vector<std::string> list = {"This is for my quiz website.", "I need it for my class.",
                                                "It is for my travel blog.",    "My kids asked me this.",
                                                "It is for a book I am writing.", "This is for our shop chat."};
  return list;
}

std::string digits(Rng& rng, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += static_cast<char>('0' + rng.below(10));
  return out;
}

std::string pii_sentence(const std::string& kind, Rng& rng) {
  if (kind == "email") {
    static const std::vector<std::string> domains = {"mailbox.com", "postmail.org", "example.net", "inbox.io"};
    return "My email is " + lower(make_name("first", rng)) + "." + lower(make_name("last", rng)) + "@" +
           rng.pick(domains) + ".";
  }
  if (kind == "phone") {
    std::string a = digits(rng, 3), b = digits(rng, 3), c = digits(rng, 4);
    switch (rng.below(4)) {
      case 0: return "Call me at " + a + "-" + b + "-" + c + ".";
      case 1: return "Call me at (" + a + ") " + b + "-" + c + ".";
      case 2: return "My phone is +1 " + a + " " + b + " " + c + ".";
      default: return "My phone is " + a + "." + b + "." + c + ".";
    }
  }
  if (kind == "address") {
    static const std::vector<std::string> streets = {"Street", "Road", "Avenue", "Lane"};
    return "I live at " + std::to_string(rng.range(1, 999)) + " " + make_name("last", rng) + " " + rng.pick(streets) + ".";
  }
  if (kind == "card") return "My card number is " + card_number(rng, true) + ".";
  if (rng.chance(0.7))
    return "My server is at " + std::to_string(rng.range(11, 223)) + "." + std::to_string(rng.range(0, 255)) + "." +
           std::to_string(rng.range(0, 255)) + "." + std::to_string(rng.range(1, 254)) + ".";
  static const char* hex = "0123456789abcdef";
  std::string group;
  for (int i = 0; i < 4; ++i) group += hex[rng.below(16)];
  return "My server is at 2001:db8:" + group + "::" + std::to_string(rng.range(1, 99)) + ".";
}

// Few-shot: the same kind of task solved twice, then the query. Q/A pairs for questions (the forum format the base
// model knows), "Task:/Answer:" otherwise. Falls back to plain when the prompt would grow too long for the model.
std::string few_shot_prompt(const KnowledgeBase& kb, const WorldConfig& c, const std::string& category,
                            const std::string& instruction, Rng& rng) {
  bool qa = category == "open_qa";
  Style style;
  style.full_sentence = !qa;
  for (int examples = 2; examples >= 1; --examples) {
    std::string out;
    for (int i = 0; i < examples; ++i) {
      TaskInstance example = generate_task(category, kb, c, rng);
      std::string answer = reference_answer(example.task_data, kb, style, rng);
      out += qa ? "Q: " + example.instruction + "\nA: " + answer + "\n"
                : "Task: " + example.instruction + "\nAnswer: " + answer + "\n\n";
    }
    out += qa ? "Q: " + instruction + "\nA:" : "Task: " + instruction + "\nAnswer:";
    if (word_tokens(out).size() <= 38) return out;  // the whole prompt stays under ~60 tokens
  }
  return "";
}

// Harmful requests replace `harmful_share` of the log's new prompts once the whole log is drawn, from their own
// random stream, and re-submissions of a replaced prompt follow it (a near-duplicate keeps its ending): every other
// prompt is the one the log would hold without them, whatever the share.
void add_harmful_requests(const KnowledgeBase& kb, const WorldConfig& c, std::vector<json>& log) {
  Rng harm(static_cast<uint64_t>(c.seed), "harmful_requests");
  std::map<std::string, size_t> index_of;
  std::vector<std::string> drawn;  // each prompt as first drawn
  for (size_t i = 0; i < log.size(); ++i) {
    json& record = log[i];
    index_of[record["id"].get<std::string>()] = i;
    drawn.push_back(record["prompt"].get<std::string>());
    const json meta = record["world_meta"];
    const char* copy_of = meta.contains("duplicate_of") ? "duplicate_of"
                          : meta.contains("near_duplicate_of") ? "near_duplicate_of" : nullptr;
    if (copy_of) {
      const json& source = log[index_of.at(meta[copy_of].get<std::string>())];
      const std::string& source_drawn = drawn[index_of.at(meta[copy_of].get<std::string>())];
      if (source["prompt"] == source_drawn) continue;  // its source is unchanged
      const std::string ending = drawn[i].substr(std::min(source_drawn.size(), drawn[i].size()));
      for (const char* field : {"prompt_type", "task", "task_data"}) record[field] = source[field];
      record["prompt"] = source["prompt"].get<std::string>() + ending;
      continue;
    }
    if (!harm.chance(c.harmful_share)) continue;
    TaskInstance t = harmful_request(kb, c, harm.pick(harmful_kinds()), harm);
    record["prompt"] = t.instruction, record["prompt_type"] = "plain", record["task"] = "harmful";
    record["task_data"] = t.task_data;
    record["world_meta"] = {{"harmful", t.task_data["kind"]}};
  }
}

}  // namespace

std::string card_number(Rng& rng, bool luhn_valid) {
  std::string number = std::to_string(rng.range(3, 6)) + digits(rng, 14);
  // The check digit that makes the Luhn sum a multiple of 10 (or, for a decoy, one that does not).
  int sum = 0;
  for (int i = static_cast<int>(number.size()) - 1, k = 0; i >= 0; --i, ++k) {
    int d = number[static_cast<size_t>(i)] - '0';
    if (k % 2 == 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  int check = (10 - sum % 10) % 10;
  if (!luhn_valid) check = (check + 1 + static_cast<int>(rng.below(9))) % 10;
  number += static_cast<char>('0' + check);
  std::string sep = rng.chance(0.5) ? " " : "-";
  return number.substr(0, 4) + sep + number.substr(4, 4) + sep + number.substr(8, 4) + sep + number.substr(12, 4);
}

std::vector<ApiUser> generate_users(const KnowledgeBase&, const WorldConfig& c) {
  Rng rng(static_cast<uint64_t>(c.seed), "users");
  std::vector<ApiUser> users(static_cast<size_t>(c.users));
  std::vector<double> weights;
  for (int k = 1; k <= c.users; ++k) weights.push_back(std::pow(static_cast<double>(k), -c.user_zipf_exponent));
  rng.shuffle(weights);  // volume is not ordered by id
  for (size_t i = 0; i < users.size(); ++i) {
    ApiUser& u = users[i];
    char id[32];
    std::snprintf(id, sizeof id, "user_%04zu", i + 1);
    u.id = id;
    for (double share : paper_category_shares()) u.category_mix.push_back(share * std::exp(0.8 * rng.normal()));
    u.few_shot = 2.0 * c.few_shot_rate * rng.uniform();
    u.user_based = 2.0 * c.user_based_rate * rng.uniform();
    double both = u.few_shot + u.user_based;
    if (both > 0.95) u.few_shot *= 0.95 / both, u.user_based *= 0.95 / both;
    // PII comes from a fifth of the users (people who paste their details), at the configured overall rate.
    u.pii = rng.chance(0.2) ? std::min(1.0, 5.0 * c.pii_rate) : 0.0;
    u.use_case = rng.pick(use_cases());
    u.weight = weights[i];
  }
  return users;
}

json make_prompt_record(const KnowledgeBase& kb, const WorldConfig& c, const std::string& category,
                        const std::string& prompt_type, const std::string& use_case, Rng& rng) {
  TaskInstance task = generate_task(category, kb, c, rng);
  std::string prompt = task.instruction, type = prompt_type;
  if (type == "few-shot") {
    std::string shots = few_shot_prompt(kb, c, category, task.instruction, rng);
    if (shots.empty()) type = "plain";
    else prompt = shots;
  } else if (type == "user-based") {
    prompt += " " + use_case;
  }
  return {{"prompt", prompt}, {"prompt_type", type}, {"task", category}, {"task_data", task.task_data}};
}

std::vector<json> generate_prompt_log(const KnowledgeBase& kb, const WorldConfig& c) {
  std::vector<ApiUser> users = generate_users(kb, c);
  Rng rng(static_cast<uint64_t>(c.seed), "prompt_log");
  std::vector<double> user_weights;
  for (const auto& u : users) user_weights.push_back(u.weight);
  std::vector<json> log;
  std::vector<std::vector<size_t>> by_user(users.size());
  static const std::vector<std::string> pii_kinds = {"email", "phone", "address", "card", "ip"};
  static const std::vector<std::string> polite_endings = {" Please.", " Thanks!", " Thank you.", " Please help."};
  // Every user sends at least one prompt; the rest follow the heavy-tailed weights.
  for (int i = 0; i < c.prompts; ++i) {
    size_t u = i < c.users ? static_cast<size_t>(i) : rng.weighted(user_weights);
    const ApiUser& user = users[u];
    json record;
    double r = rng.uniform();
    const auto& own = by_user[u];
    if (!log.empty() && r < c.exact_duplicate_rate) {
      // A re-submission, unchanged: usually the same user, sometimes someone else sending the same text.
      size_t source = !own.empty() && rng.chance(0.7) ? rng.pick(own) : rng.below(log.size());
      record = log[source];
      record["world_meta"] = {{"duplicate_of", log[source]["id"]}};
    } else if (!own.empty() && r < c.exact_duplicate_rate + c.near_duplicate_rate) {
      // A near-duplicate: an earlier long prompt of this user with a small change at the end.
      size_t source = own.back();
      for (int tries = 0; tries < 8 && log[source]["prompt"].get<std::string>().size() < 60; ++tries) source = rng.pick(own);
      record = log[source];
      std::string prompt = record["prompt"].get<std::string>();
      if (prompt.size() < 60) {
        record = make_prompt_record(kb, c, "closed_qa", "plain", user.use_case, rng);
      } else {
        record["prompt"] = prompt + rng.pick(polite_endings);
        record["world_meta"] = {{"near_duplicate_of", log[source]["id"]}};
      }
    } else {
      std::string category = task_categories()[rng.weighted(user.category_mix)];
      double t = rng.uniform();
      std::string type = t < user.few_shot ? "few-shot" : t < user.few_shot + user.user_based ? "user-based" : "plain";
      record = make_prompt_record(kb, c, category, type, user.use_case, rng);
      record["world_meta"] = json::object();
      if (rng.chance(user.pii)) {
        std::string kind = rng.pick(pii_kinds);
        std::string sentence = pii_sentence(kind, rng);
        std::string prompt = record["prompt"].get<std::string>();
        record["prompt"] = rng.chance(0.5) ? sentence + " " + prompt : prompt + " " + sentence;
        record["world_meta"]["pii"] = kind;
      } else if (rng.chance(c.decoy_number_rate)) {
        record["prompt"] = "My order number is " + card_number(rng, false) + ". " + record["prompt"].get<std::string>();
        record["world_meta"]["decoy_number"] = true;
      }
    }
    char id[32];
    std::snprintf(id, sizeof id, "p%06d", i + 1);
    record["id"] = id;
    record["user_id"] = user.id;
    if (!record.contains("world_meta")) record["world_meta"] = json::object();
    by_user[u].push_back(log.size());
    log.push_back(record);
  }
  add_harmful_requests(kb, c, log);
  return log;
}

std::vector<json> generate_labeler_prompts(const KnowledgeBase& kb, const WorldConfig& c, int count,
                                          const std::string& salt) {
  Rng rng(static_cast<uint64_t>(c.seed), salt);
  const auto& categories = task_categories();
  std::vector<json> out;
  for (int i = 0; i < count; ++i) {
    // The paper's labelers were asked for diversity: categories in turn, so rare ones (extraction, closed QA) get
    // as many demonstrations as the common ones.
    const std::string& category = categories[static_cast<size_t>(i) % categories.size()];
    json record = make_prompt_record(kb, c, category, rng.chance(c.few_shot_rate) ? "few-shot" : "plain", "", rng);
    char id[32];
    std::snprintf(id, sizeof id, "l%06d", i + 1);
    record["id"] = id;
    record["user_id"] = "labelers";
    out.push_back(record);
  }
  return out;
}

}  // namespace rlhf::world
