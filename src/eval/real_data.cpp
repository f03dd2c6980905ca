#include "eval/real_data.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "common/error.h"
#include "common/files.h"
#include "data/formats.h"
#include "eval/stats.h"
#include "infer/scoring.h"
#include "io/model_dir.h"
#include "model/config.h"

namespace rlhf::eval {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The first .jsonl / .jsonl.gz file of a folder, by name.
std::string first_jsonl(const std::string& dir) {
  std::vector<std::string> files;
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir)) {
      std::string name = e.path().filename().string();
      if (ends_with(name, ".jsonl") || ends_with(name, ".jsonl.gz")) files.push_back(e.path().string());
    }
  std::sort(files.begin(), files.end());
  return files.empty() ? "" : files.front();
}

}  // namespace

std::string find_shared_data(const std::string& hint) {
  if (!hint.empty()) return fs::is_directory(hint) ? hint : "";
  if (const char* env = std::getenv("RLHF_SHARED_DATA"); env && fs::is_directory(env)) return env;
  return fs::is_directory("../shared/data") ? "../shared/data" : "";
}

json real_crows_pairs(TextModel& model, const std::string& csv, int64_t limit, int64_t batch_size) {
  if (!file_exists(csv)) return {{"skipped", "CrowS-Pairs not found at " + csv}};
  std::vector<CrowsPair> pairs = read_crows_pairs(csv);
  if (limit > 0 && static_cast<int64_t>(pairs.size()) > limit) pairs.resize(static_cast<size_t>(limit));
  std::vector<std::string> more, less;
  for (const auto& p : pairs) more.push_back(p.sent_more), less.push_back(p.sent_less);
  const std::vector<std::string> no_context(pairs.size());
  auto lp_more = continuation_logprobs(model, no_context, more, batch_size);
  auto lp_less = continuation_logprobs(model, no_context, less, batch_size);
  std::map<std::string, std::pair<double, double>> by_type;  // bias type -> (stereotype preferred, pairs)
  double preferred = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    double hit = lp_more[i] > lp_less[i] ? 1 : 0;
    preferred += hit;
    by_type[pairs[i].bias_type].first += hit;
    by_type[pairs[i].bias_type].second += 1;
  }
  json out = {{"data", csv},
              {"stereotype_preferred", proportion_json(wilson_interval(preferred, static_cast<double>(pairs.size())))},
              {"by_bias_type", json::object()}};
  for (const auto& [type, counts] : by_type)
    out["by_bias_type"][type] = proportion_json(wilson_interval(counts.first, counts.second));
  return out;
}

json hh_preference_accuracy(const std::string& reward_model_dir, const std::string& jsonl, int64_t limit,
                            int64_t batch_size, int64_t max_length, const std::string& device,
                            const std::string& tokenizer_dir) {
  if (jsonl.empty() || !file_exists(jsonl)) return {{"skipped", "HH-RLHF pairs not found" + (jsonl.empty() ? "" : " at " + jsonl)}};
  Transformer rm = load_model(reward_model_dir, LoadOptions{torch::kFloat32, pick_device(device)});
  if (!rm->has_score_head()) fail(reward_model_dir, "a reward model (a scalar score head)", "a model without one");
  rm->eval();
  auto tokenizer = load_tokenizer(tokenizer_path(reward_model_dir, tokenizer_dir));
  ReadReport report;
  JsonlOptions options;
  options.skip_invalid = true;
  std::vector<RankingExample> examples = read_ranking_examples(jsonl, options, &report);
  if (limit > 0 && static_cast<int64_t>(examples.size()) > limit) examples.resize(static_cast<size_t>(limit));
  // The HH format wraps a prompt as "\n\nHuman: {prompt}\n\nAssistant:" and a response as " {response}". The data's
  // prompt is already a whole dialogue ending in "\n\nAssistant:": strip the outer markers so that the format puts
  // back exactly the original text (earlier turns stay inside, as written).
  const std::string human = "\n\nHuman: ", assistant = "\n\nAssistant:";
  std::vector<std::string> prompts, responses;
  for (const auto& e : examples) {
    std::string prompt = e.prompt;
    if (starts_with(prompt, human)) prompt = prompt.substr(human.size());
    if (ends_with(prompt, assistant)) prompt.resize(prompt.size() - assistant.size());
    for (int r = 0; r < 2; ++r) {
      std::string response = e.responses[static_cast<size_t>(r)];
      if (starts_with(response, " ")) response = response.substr(1);
      prompts.push_back(prompt);
      responses.push_back(response);
    }
  }
  auto rewards = score_texts(*rm, *tokenizer, PromptFormat::hh(), prompts, responses, load_reward_offset(reward_model_dir),
                             batch_size, max_length);
  double correct = 0;
  for (size_t i = 0; i < examples.size(); ++i) {
    // ranks[0] is the chosen response's place: 0 = best.
    const bool chosen_first = examples[i].ranks[0] < examples[i].ranks[1];
    const double chosen = rewards[2 * i + (chosen_first ? 0 : 1)], rejected = rewards[2 * i + (chosen_first ? 1 : 0)];
    correct += chosen > rejected ? 1 : 0;
  }
  return {{"data", jsonl}, {"accuracy", proportion_json(wilson_interval(correct, static_cast<double>(examples.size())))},
          {"read", report.summary()}, {"max_length", max_length}};
}

json real_data_measures(const std::string& key, const std::string& model_dir, const std::string& shared_data,
                        int64_t limit, int64_t batch_size, const std::string& device, const std::string& tokenizer) {
  json out = {{"model", key}, {"dir", model_dir}};
  if (shared_data.empty()) {
    out["skipped"] = "the shared data folder was not found (give --shared_data DIR or set RLHF_SHARED_DATA)";
    return out;
  }
  ModelConfig config = load_model_config(model_dir + "/config.json");
  if (config.architecture.find("ForSequenceClassification") != std::string::npos) {
    const int64_t context = config.max_position_embeddings > 0 ? config.max_position_embeddings : 512;
    out["hh_rlhf"] = hh_preference_accuracy(model_dir, first_jsonl(shared_data + "/hh-rlhf"), limit, batch_size,
                                            std::min<int64_t>(512, context), device, tokenizer);
  } else {
    TextModel m = load_text_model(key, model_dir, "plain", device, tokenizer);
    out["crows_pairs"] = real_crows_pairs(m, shared_data + "/crows-pairs/crows_pairs_anonymized.csv", limit, batch_size);
  }
  return out;
}

}  // namespace rlhf::eval
