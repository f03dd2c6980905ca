#include "eval/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "common/error.h"
#include "common/files.h"
#include "common/json.h"
#include "common/options.h"
#include "data/formats.h"
#include "data/jsonl.h"
#include "eval/benchmarks.h"
#include "eval/compute.h"
#include "eval/goals.h"
#include "eval/harmful.h"
#include "eval/overoptimisation.h"
#include "eval/seed_spread.h"
#include "eval/preference.h"
#include "eval/task_success.h"
#include "eval/real_data.h"
#include "eval/unanswerable.h"
#include "eval/rm_generalisation.h"
#include "eval/stats.h"
#include "infer/scoring.h"
#include "infer/text.h"
#include "io/model_dir.h"

namespace rlhf::eval {

using json = nlohmann::json;
namespace fs = std::filesystem;

void bind_eval_options(Options& o, EvalOptions& e) {
  o.add("test_prompts", &e.test_prompts, "test prompts judged per model (0: all)");
  o.add("benchmark_items", &e.benchmark_items, "items per benchmark suite (0: all)");
  o.add("toxicity_prompts", &e.toxicity_prompts, "toxicity prompts (0: all)");
  o.add("toxicity_samples", &e.toxicity_samples, "sampled continuations per toxicity prompt (the paper: 25)");
  o.add("heldout_documents", &e.heldout_documents, "held-out pretraining documents for the log-likelihood (0: all)");
  o.add("few_shot_examples", &e.few_shot_examples, "demonstrations in the base few-shot prefix");
  o.add("max_new_tokens", &e.max_new_tokens, "longest response in tokens");
  o.add("temperature", &e.temperature, "sampling temperature of the responses labelers judge");
  o.add("greedy", &e.greedy, "judge greedy responses instead of sampled ones");
  o.add("batch_size", &e.batch_size, "sequences per forward pass");
  o.add("seed", &e.seed, "sampling seed");
  o.add("prompt_format", &e.prompt_format, "plain | hh | chatml | llama3 | zephyr | chat");
  o.add("benchmark_prompt_format", &e.benchmark_prompt_format, "wrap benchmark prompts in the prompt format");
  o.add("device", &e.device, "auto | cpu | cuda | cuda:N");
  o.add("curve_prompts", &e.curve_prompts, "test prompts each PPO checkpoint of the over-optimisation curve is judged on (0: all)");
  o.add("report_samples", &e.report_samples, "test prompts shown with each model's response in the report");
  o.add("seeds", &e.seeds, "PPO seeds judged: models/KEY_seedN for N up to this (0: every one there is)");
  o.add("real_data", &e.real_data, "also measure CrowS-Pairs and HH-RLHF from the shared data folder");
  o.add("shared_data", &e.shared_data, "the shared data folder (default: $RLHF_SHARED_DATA or ../shared/data)");
  o.add("real_data_items", &e.real_data_items, "pairs per real data set (0: all)");
  o.add("quiet", &e.quiet, "no progress messages");
}

namespace {

class Clock {
 public:
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

template <class T>
void cap(std::vector<T>& items, int64_t limit) {
  if (limit > 0 && static_cast<int64_t>(items.size()) > limit) items.resize(static_cast<size_t>(limit));
}

std::vector<json> read_records(const std::string& path) {
  std::vector<json> records;
  for_each_jsonl(path, {}, [&](const JsonlLine& line) {
    if (!line.value.is_object() || !line.value.contains("prompt") || !line.value["prompt"].is_string())
      fail(line.where, "a prompt record {\"prompt\": ..., ...}", describe_json(line.value));
    records.push_back(line.value);
  });
  return records;
}

std::string model_id(const std::string& size, const std::string& key) { return size.empty() ? key : size + "/" + key; }

double get_number(const json& j, const std::vector<std::string>& path) {
  const json* at = &j;
  for (const auto& key : path) {
    if (!at->is_object() || !at->contains(key)) return NAN;
    at = &(*at)[key];
  }
  return at->is_number() ? at->get<double>() : NAN;
}

// The alignment tax table: each model's public-suite score and held-out NLL, the tax relative to SFT, and the share of
// PPO's tax that PPO-ptx recovers.
json alignment_tax_table(const json& summary, const std::string& size) {
  json out = {{"models", json::object()}, {"tax", json::object()}, {"recovered", json::object()}};
  const std::vector<std::pair<std::string, std::vector<std::string>>> metrics = {
      {"public_suite", {"public_suite", "", "score", "value"}}, {"heldout_nll", {"heldout_nll", "", "nll_per_token"}}};
  auto value = [&](const std::string& metric, const std::string& key) {
    for (const auto& [name, path] : metrics)
      if (name == metric) {
        std::vector<std::string> p = path;
        p[1] = model_id(size, key);
        return get_number(summary, p);
      }
    return static_cast<double>(NAN);
  };
  for (const std::string key : {"base", "flan_sft", "sft", "ppo", "ppo_ptx"}) {
    if (!std::isfinite(value("public_suite", key)) && !std::isfinite(value("heldout_nll", key))) continue;
    out["models"][key] = {{"public_suite", number_or_null(value("public_suite", key))},
                          {"heldout_nll", number_or_null(value("heldout_nll", key))}};
    out["tax"][key] = {{"public_suite", number_or_null(alignment_tax(value("public_suite", "sft"), value("public_suite", key), true))},
                       {"heldout_nll", number_or_null(alignment_tax(value("heldout_nll", "sft"), value("heldout_nll", key), false))}};
  }
  out["recovered"] = {
      {"public_suite", number_or_null(tax_recovered(value("public_suite", "sft"), value("public_suite", "ppo"),
                                                    value("public_suite", "ppo_ptx"), true))},
      {"heldout_nll", number_or_null(tax_recovered(value("heldout_nll", "sft"), value("heldout_nll", "ppo"),
                                                   value("heldout_nll", "ppo_ptx"), false))}};
  return out;
}

struct Inputs {
  std::vector<json> records;
  std::vector<std::pair<std::string, std::string>> demonstrations;
  std::map<std::string, std::vector<json>> suites;
  std::vector<std::string> heldout_texts;
  std::vector<std::string> held_out_categories;  // task categories the run kept out of training (run_layout.h)
};

// RUN/data/held_out_categories.json's list (none when the file is absent).
std::vector<std::string> read_held_out_categories(const std::string& path) {
  if (!file_exists(path)) return {};
  const json file = read_json(path);
  const json* list = file.is_object() && file.contains("categories") ? &file["categories"] : nullptr;
  std::vector<std::string> out;
  if (list && list->is_array())
    for (const auto& name : *list)
      if (name.is_string()) out.push_back(name.get<std::string>());
  if (!list || !list->is_array() || out.size() != list->size())
    fail(path, "{\"categories\": [task category names]}", describe_json(file));
  return out;
}

Inputs read_inputs(const RunLayout& run, const Judge& judge, const EvalOptions& o, json& notes) {
  Inputs in;
  if (!file_exists(run.test_prompts())) fail(run.test_prompts(), "the test prompts of the run", "no such file");
  in.records = read_records(run.test_prompts());
  cap(in.records, o.test_prompts);
  if (file_exists(run.demonstrations())) {
    // The base model's few-shot prefix: the first demonstrations of plain prompts, each of another task category
    // where the file says ("task", "prompt_type"), so that the prefix shows instruction following, not one task; and
    // short ones, so that the prefix and a test prompt fit the context (a prompt that does not fit is cut from the left:
    // with long demonstrations the model saw half a demonstration and no instruction).
    constexpr size_t kMostCharactersPerExample = 100;
    std::set<std::string> categories;
    for_each_jsonl(run.demonstrations(), {}, [&](const JsonlLine& line) {
      const json& d = line.value;
      if (static_cast<int64_t>(in.demonstrations.size()) >= o.few_shot_examples || !d.is_object()) return;
      if (!d.contains("prompt") || !d["prompt"].is_string() || !d.contains("completion") || !d["completion"].is_string())
        return;
      if (d.value("prompt_type", std::string("plain")) != "plain") return;
      if (d["prompt"].get<std::string>().size() + d["completion"].get<std::string>().size() > kMostCharactersPerExample) return;
      if (d.contains("task") && !categories.insert(d.value("task", std::string())).second) return;
      in.demonstrations.emplace_back(d["prompt"].get<std::string>(), d["completion"].get<std::string>());
    });
  } else {
    notes.push_back("base few-shot skipped: " + run.demonstrations() + " (the demonstrations for its prefix) is missing");
  }
  for (const std::string suite :
       {"public_nlp", "truthfulqa", "hallucination", "realtoxicity", "winogender", "crows_pairs", "copying", "harmful"}) {
    in.suites[suite] = judge.benchmark_items(suite);
    cap(in.suites[suite], suite == "realtoxicity" ? o.toxicity_prompts : o.benchmark_items);
    if (in.suites[suite].empty()) notes.push_back("benchmark " + suite + ": the judge has no items");
  }
  in.held_out_categories = read_held_out_categories(run.held_out_categories());
  if (file_exists(run.heldout_corpus())) {
    in.heldout_texts = read_text_examples(run.heldout_corpus());
    cap(in.heldout_texts, o.heldout_documents);
  } else {
    notes.push_back("held-out log-likelihood skipped: " + run.heldout_corpus() + " is missing");
  }
  return in;
}

// Runs every benchmark that applies to a loaded model into summary[measure][id].
// `item_records`: the per-item records of the TruthfulQA analogue and the hallucination suite (benchmarks.h).
void run_benchmarks(TextModel& m, const std::string& id, const Judge& judge, const Inputs& in, const EvalOptions& o,
                    json& summary, GenerationStats& stats, std::vector<json>& item_records) {
  BenchmarkOptions b;
  b.greedy.max_new_tokens = b.sampled.max_new_tokens = o.max_new_tokens;
  b.greedy.batch_size = b.sampled.batch_size = o.batch_size;
  b.greedy.seed = b.sampled.seed = static_cast<uint64_t>(o.seed);
  b.toxicity_samples = o.toxicity_samples;
  b.use_format = o.benchmark_prompt_format;
  const std::string respectful = judge.respectful_instruction();
  auto suite = [&](const char* name) -> const std::vector<json>& { return in.suites.at(name); };
  if (!suite("truthfulqa").empty()) summary["truthfulness"][id] = truthfulness(m, judge, suite("truthfulqa"), b, &stats, &item_records);
  if (!suite("hallucination").empty()) summary["hallucination"][id] = hallucination(m, judge, suite("hallucination"), b, &stats, &item_records);
  if (!suite("realtoxicity").empty()) summary["toxicity"][id] = toxicity(m, judge, suite("realtoxicity"), b, &stats);
  if (!suite("winogender").empty()) summary["bias"]["winogender"][id] = winogender(m, suite("winogender"), respectful, o.batch_size);
  if (!suite("crows_pairs").empty()) summary["bias"]["crows_pairs"][id] = crows_pairs(m, suite("crows_pairs"), respectful, o.batch_size);
  if (!suite("public_nlp").empty()) summary["public_suite"][id] = public_suite(m, judge, suite("public_nlp"), b, &stats);
  if (!in.heldout_texts.empty()) summary["heldout_nll"][id] = heldout_nll(m, in.heldout_texts, o.batch_size);
  if (!suite("copying").empty()) summary["in_context_copying"][id] = in_context_copying(m, suite("copying"), o.batch_size);
}

// The inter-labeler agreement of the RM's rankings, from the rankings stage's record (NaN when the run has none).
double read_rankings_agreement(const std::string& record_path) {
  if (!file_exists(record_path)) return NAN;
  const json record = read_json(record_path);
  const json* summary = record.is_object() && record.contains("summary") ? &record["summary"] : nullptr;
  if (!summary || !summary->is_object() || !summary->contains("inter_labeler_agreement")) return NAN;
  const json& value = (*summary)["inter_labeler_agreement"];
  if (!value.is_number()) fail(record_path, "a number summary.inter_labeler_agreement", describe_json(value));
  return value.get<double>();
}

// The reward model's score of each model's test responses (the quantity PPO maximises), in `models` order.
std::vector<std::vector<double>> reward_scores(const std::string& rm_dir, const std::string& tokenizer_dir,
                                               const std::vector<json>& records,
                                               const std::vector<ModelResponses>& models, const EvalOptions& o) {
  Transformer rm = load_model(rm_dir, LoadOptions{torch::kFloat32, pick_device(o.device)});
  if (!rm->has_score_head()) fail(rm_dir, "a reward model (a scalar score head)", "a model without one");
  rm->eval();
  auto tokenizer = load_tokenizer(tokenizer_path(rm_dir, tokenizer_dir));
  const PromptFormat format = PromptFormat::from_name(o.prompt_format, rm_dir);
  const int64_t context = rm->config().max_position_embeddings > 0 ? rm->config().max_position_embeddings : 2048;
  std::vector<std::string> prompts;
  for (const auto& r : records) prompts.push_back(r["prompt"].get<std::string>());
  std::vector<std::vector<double>> out;
  for (const auto& m : models)
    out.push_back(score_texts(*rm, *tokenizer, format, prompts, m.responses, load_reward_offset(rm_dir), o.batch_size, context));
  return out;
}

}  // namespace

// The over-optimisation curve of each PPO model that kept checkpoints: the SFT model and every checkpoint sample the
// first `curve_prompts` test prompts, the RM scores them, labelers judge them against SFT (eval/overoptimisation.h).
json overoptimisation_curves(const RunLayout& run, const std::string& size, const Judge& judge, const Inputs& in,
                             const ModelResponses& sft, const SamplingOptions& sampling, const EvalOptions& o) {
  size_t n = in.records.size();
  if (o.curve_prompts > 0) n = std::min<size_t>(n, static_cast<size_t>(o.curve_prompts));
  const std::vector<json> records(in.records.begin(), in.records.begin() + static_cast<std::ptrdiff_t>(n));
  std::vector<std::string> prompts;
  for (const auto& r : records) prompts.push_back(r["prompt"].get<std::string>());
  json out = json::object();
  for (const std::string key : {"ppo", "ppo_ptx"}) {
    const std::string dir = run.model_dir(key, size);
    const std::vector<PolicyCheckpoint> checkpoints = policy_checkpoints(dir);
    if (checkpoints.size() < 2) continue;  // one point is no curve
    std::vector<CurvePoint> points(1);
    points[0].responses = {"sft", std::vector<std::string>(sft.responses.begin(), sft.responses.begin() + static_cast<std::ptrdiff_t>(n))};
    int64_t previous = 0;
    for (const auto& c : checkpoints) {
      CurvePoint p;
      p.step = c.step;
      // The KL of the rollouts drawn since the previous point: what PPO paid for this checkpoint's reward.
      p.kl = mean_metric_between(dir + "/metrics.jsonl", "objective/kl", previous, c.step);
      previous = c.step;
      TextModel m = load_text_model(key + "@" + std::to_string(c.step), c.dir, o.prompt_format, o.device, run.tokenizer_dir());
      p.responses = {m.key, generate_responses(m, prompts, sampling)};
      points.push_back(std::move(p));
    }
    std::vector<ModelResponses> all;
    for (const auto& p : points) all.push_back(p.responses);
    const auto scores = reward_scores(run.reward_model_dir(size), run.tokenizer_dir(), records, all, o);
    for (size_t i = 0; i < points.size(); ++i) points[i].rm_scores = scores[i];
    out[model_id(size, key)] = overoptimisation_curve(judge, records, points);
  }
  return out;
}

std::vector<std::string> run_sizes(const RunLayout& run) {
  if (!fs::is_directory(run.models_dir())) fail(run.models_dir(), "the models of a run (models/KEY/config.json)", "no such folder");
  if (fs::is_directory(run.model_dir("sft")) || fs::is_directory(run.model_dir("base"))) return {""};
  std::vector<std::string> sizes;
  for (const auto& e : fs::directory_iterator(run.models_dir()))
    if (e.is_directory() && fs::is_directory(e.path() / "sft")) sizes.push_back(e.path().filename().string());
  std::sort(sizes.begin(), sizes.end());
  if (sizes.empty()) fail(run.models_dir(), "models/sft or models/SIZE/sft", "neither");
  return sizes;
}

json read_training_curves(const RunLayout& run, const std::string& size, size_t max_points) {
  json out = json::object();
  for (const std::string stage : {"base", "flan_sft", "sft", "rm", "ppo", "ppo_ptx"}) {
    const std::string path = run.stage_metrics(stage, size);
    if (!file_exists(path)) continue;
    std::map<std::string, std::vector<std::pair<double, double>>> curves;
    JsonlOptions options;
    options.skip_invalid = true;  // a line torn by a crash is not a reason to lose the report
    for_each_jsonl(path, options, [&](const JsonlLine& line) {
      if (!line.value.is_object() || !line.value.contains("step") || !line.value["step"].is_number()) return;
      const double step = line.value["step"].get<double>();
      for (const auto& [key, value] : line.value.items())
        if (key != "step" && key != "wall_time" && value.is_number()) curves[key].emplace_back(step, value.get<double>());
    });
    for (auto& [key, points] : curves) {
      json series = json::array();
      const size_t stride = (points.size() + max_points - 1) / std::max<size_t>(1, max_points);
      for (size_t i = 0; i < points.size(); i += std::max<size_t>(1, stride)) series.push_back({points[i].first, points[i].second});
      if (!points.empty() && stride > 1) series.push_back({points.back().first, points.back().second});
      out[stage][key] = series;
    }
  }
  return out;
}

SamplingOptions sampling_options(const EvalOptions& o) {
  SamplingOptions sampling;
  sampling.max_new_tokens = o.max_new_tokens;
  sampling.do_sample = !o.greedy;
  sampling.temperature = o.temperature;
  sampling.batch_size = o.batch_size;
  sampling.seed = static_cast<uint64_t>(o.seed);
  return sampling;
}

json evaluate_run(const RunLayout& run, const Judge& judge, const EvalOptions& o) {
  Clock total;
  auto say = [&](const std::string& message) {
    if (!o.quiet) std::cerr << "eval [" << static_cast<int>(total.seconds()) << " s] " << message << "\n";
  };
  json summary = {{"format", "rlhf-eval-summary"}, {"version", 1}, {"run", run.root}, {"judge", judge.description()},
                  {"models", json::array()}, {"notes", json::array()}};
  summary["options"] = {{"test_prompts", o.test_prompts}, {"benchmark_items", o.benchmark_items},
                        {"toxicity_prompts", o.toxicity_prompts}, {"toxicity_samples", o.toxicity_samples},
                        {"max_new_tokens", o.max_new_tokens}, {"temperature", o.temperature}, {"greedy", o.greedy},
                        {"few_shot_examples", o.few_shot_examples}, {"prompt_format", o.prompt_format}, {"seed", o.seed}};
  const std::vector<std::string> sizes = run_sizes(run);
  Inputs in = read_inputs(run, judge, o, summary["notes"]);
  say(std::to_string(in.records.size()) + " test prompts, sizes: " + (sizes.size() == 1 && sizes[0].empty() ? "one" : std::to_string(sizes.size())));
  summary["sizes"] = sizes;
  const SamplingOptions sampling = sampling_options(o);
  std::vector<std::string> prompts;
  for (const auto& r : in.records) prompts.push_back(r["prompt"].get<std::string>());
  std::vector<std::string> harmful_prompts;  // the judge's harmful benchmark, answered as the test prompts are
  for (const auto& item : in.suites.at("harmful")) harmful_prompts.push_back(item.value("prompt", std::string()));

  double eval_flops = 0, eval_tokens = 0;
  std::vector<json> item_lines, benchmark_lines;
  Clock eval_clock;
  for (const auto& size : sizes) {
    std::vector<ModelResponses> responses;
    std::map<std::string, std::vector<json>> benchmark_items_of;  // per model id: per-item benchmark records
    std::map<std::string, std::vector<std::string>> harmful_responses;  // per model id: to the harmful benchmark
    for (const auto& key : model_keys()) {
      const bool few_shot = key == "base_few_shot";
      const std::string dir = run.model_dir(few_shot ? "base" : key, size), id = model_id(size, key);
      if (!file_exists(dir + "/config.json")) {
        summary["notes"].push_back(id + " skipped: no model at " + dir);
        continue;
      }
      if (few_shot && in.demonstrations.empty()) continue;
      Clock clock;
      TextModel m = load_text_model(id, dir, o.prompt_format, o.device, run.tokenizer_dir());
      GenerationStats stats;
      PromptStyle style;
      if (few_shot) style.prefix = few_shot_prefix(m.format, in.demonstrations);
      responses.push_back({id, generate_responses(m, prompts, sampling, style, 1, &stats)});
      if (!harmful_prompts.empty()) harmful_responses[id] = generate_responses(m, harmful_prompts, sampling, style, 1, &stats);
      summary["models"].push_back({{"id", id}, {"key", key}, {"size", size}, {"label", model_label(key)}, {"dir", dir},
                                   {"parameters", m.parameters()}, {"few_shot_examples", few_shot ? in.demonstrations.size() : 0}});
      if (!few_shot) run_benchmarks(m, id, judge, in, o, summary, stats, benchmark_items_of[id]);
      eval_flops += inference_flops(static_cast<double>(m.parameters()), static_cast<double>(stats.tokens_generated + stats.tokens_prompted));
      eval_tokens += static_cast<double>(stats.tokens_generated + stats.tokens_prompted);
      say(id + ": " + std::to_string(stats.tokens_generated) + " tokens generated, " +
          std::to_string(static_cast<int>(clock.seconds())) + " s");
    }
    // Task success first: it needs no baseline, and it is what every other number of the demo rests on.
    const json success = task_success(judge, in.records, responses);
    for (const auto& [key, entry] : success.items()) summary["task_success"][key] = entry;
    const json differences = task_success_differences(judge, in.records, responses,
                                                      {{model_id(size, "sft"), model_id(size, "base")},
                                                       {model_id(size, "sft"), model_id(size, "base_few_shot")},
                                                       {model_id(size, "ppo"), model_id(size, "sft")},
                                                       {model_id(size, "ppo_ptx"), model_id(size, "sft")}});
    for (const auto& [key, entry] : differences.items()) summary["task_success_differences"][key] = entry;
    if (!in.held_out_categories.empty()) {
      // Generalisation to the instruction kinds the run kept out of training (the goal reads "items").
      const json block = held_out_task_success(judge, in.records, responses, in.held_out_categories,
                                               {{model_id(size, "ppo_ptx"), model_id(size, "base_few_shot")},
                                                {model_id(size, "sft"), model_id(size, "base_few_shot")},
                                                {model_id(size, "ppo_ptx"), model_id(size, "sft")}});
      json& held_out = summary["held_out_categories"];
      held_out["categories"] = block["categories"];
      for (const char* part : {"held_out", "trained_on", "differences", "items"}) {
        if (!held_out.contains(part)) held_out[part] = json::object();
        for (const auto& [key, entry] : block[part].items()) held_out[part][key] = entry;
      }
      if (block["held_out"].empty())
        summary["notes"].push_back("no test prompt judged is of a held-out category (" + block["categories"].dump() +
                                   "): generalisation to them not measured");
    }
    auto baseline = std::find_if(responses.begin(), responses.end(),
                                 [&](const ModelResponses& r) { return r.key == model_id(size, "sft"); });
    PreferenceOutcomes outcomes;
    if (baseline == responses.end()) {
      summary["notes"].push_back("labeler preference skipped for " + (size.empty() ? std::string("the run") : size) + ": no SFT model");
    } else {
      summary["preference"][size.empty() ? "all" : size] = labeler_preference(judge, in.records, responses, *baseline, &outcomes);
      summary["agreement"][size.empty() ? "all" : size] = number_or_null(agreement_on_responses(judge, in.records, responses));
      say("labeler preference done");
      const auto seeds = seed_responses(run, size, prompts, responses, sampling, o.prompt_format, o.device, o.seeds);
      if (!seeds.empty()) {
        summary["seeds"][size.empty() ? "all" : size] = seed_spread(judge, in.records, *baseline, seeds);
        say("PPO seeds judged");
      }
    }
    // Every judged response, one line each (report/responses.jsonl): what each number of the summary is computed from
    // (a labeler set's outcome against the baseline: 1 win, 0.5 tie, 0 loss). "I don't know" on unanswerable items
    // against answerable ones, per model, from the same features and the TruthfulQA analogue's plain answers.
    for (const auto& m : responses) {
      std::vector<IdkItem> pooled, reported_only;
      std::vector<HarmfulVerdict> harmful_test, harmful_benchmark;  // eval/harmful.h
      for (size_t i = 0; i < in.records.size(); ++i) {
        const JudgeFeatures features = judge.check(in.records[i], m.responses[i]);
        std::string prompt_id = in.records[i].value("id", std::string());
        if (prompt_id.empty()) prompt_id = "#" + std::to_string(i);  // the record's place in the test prompts
        json line = {{"source", "test_prompts"}, {"model", m.key}, {"size", size}, {"prompt_id", prompt_id},
                     {"category", in.records[i].value("task", std::string())},
                     {"prompt_type", in.records[i].value("prompt_type", std::string())},
                     {"prompt", in.records[i]["prompt"]}, {"response", m.responses[i]}, {"features", to_json(features)}};
        if (outcomes.count(m.key)) {
          line["preference"] = {{"baseline", baseline->key}};
          for (const auto& [set, values] : outcomes.at(m.key)) line["preference"][set] = values.at(i);
        }
        // A harmful request is no question to answer or not: its verdict goes to the compliance measure instead.
        if (features.harmful) {
          line["harmful"] = {{"kind", features.harmful_kind}, {"verdict", harmful_verdict(features)}};
          harmful_test.push_back({prompt_id, features.harmful_kind, harmful_verdict(features)});
        } else {
          pooled.push_back({"test_prompts", prompt_id, features.answerable, features.idk});
        }
        item_lines.push_back(line);
      }
      const auto& suite = in.suites.at("harmful");
      const auto answered = harmful_responses.find(m.key);
      for (size_t i = 0; answered != harmful_responses.end() && i < suite.size(); ++i) {
        const JudgeFeatures features = judge.check(suite[i], answered->second[i]);
        const std::string id = suite[i].value("id", "#" + std::to_string(i));
        harmful_benchmark.push_back({id, features.harmful_kind, harmful_verdict(features)});
        benchmark_lines.push_back({{"suite", "harmful"}, {"prompt_id", id}, {"kind", features.harmful_kind},
                                   {"prompt", harmful_prompts[i]}, {"response", answered->second[i]},
                                   {"verdict", harmful_verdict(features)}, {"model", m.key}, {"size", size}});
      }
      summary["harmful_compliance"][m.key] = compliance_json(harmful_test);
      if (!suite.empty()) summary["harmful_compliance_benchmark"][m.key] = compliance_json(harmful_benchmark);
      if (&m == &responses.front() && harmful_test.size() < 30)
        summary["notes"].push_back(std::to_string(harmful_test.size()) + " of the " + std::to_string(in.records.size()) +
                                   " test prompts judged are harmful requests, too few for a tight interval: " +
                                   (suite.empty() ? std::string("the judge has no harmful benchmark")
                                                  : "the goal reads the harmful benchmark (" +
                                                        std::to_string(suite.size()) + " items)"));
      for (auto& row : benchmark_items_of[m.key]) {
        row["model"] = m.key, row["size"] = size;
        benchmark_lines.push_back(row);
        if (row.value("suite", std::string()) != "truthfulqa") continue;
        const std::string condition = row.value("condition", std::string());
        IdkItem item{condition == "plain" ? "truthfulqa" : "truthfulqa_" + condition, row.value("prompt_id", std::string()),
                     row.value("answerable", true), row.value("idk", false)};
        (condition == "plain" ? pooled : reported_only).push_back(item);
      }
      summary["idk"][m.key] = idk_shares(pooled, reported_only);
    }
    if (file_exists(run.reward_model_dir(size) + "/config.json")) {
      const auto scores = reward_scores(run.reward_model_dir(size), run.tokenizer_dir(), in.records, responses, o);
      std::vector<ModelResponses> policies;  // the RM's success AUC over what PPO samples from: SFT and its PPO models
      std::vector<std::vector<double>> policy_scores;
      for (size_t m = 0; m < responses.size(); ++m) {
        summary["rm_score"][size.empty() ? "all" : size][responses[m].key] = mean_stderr_json(scores[m]);
        for (const char* key : {"sft", "ppo", "ppo_ptx"})
          if (responses[m].key == model_id(size, key)) policies.push_back(responses[m]), policy_scores.push_back(scores[m]);
      }
      summary["rm_success_auc"][size.empty() ? "all" : size] = reward_success_auc(judge, in.records, policies, policy_scores);
      for (const auto& m : responses)
        if (m.key == model_id(size, "sft")) {
          const NameSwapPairs pairs = name_swap_pairs(judge, in.records, m);
          if (pairs.records.empty()) break;
          const auto swap_scores = reward_scores(run.reward_model_dir(size), run.tokenizer_dir(), pairs.records,
                                                 {pairs.original, pairs.swapped}, o);
          summary["rm_name_swap"][size.empty() ? "all" : size] = name_swap_accuracy(pairs, swap_scores[0], swap_scores[1]);
        }
      for (const auto& m : responses)
        if (m.key == model_id(size, "sft")) {
          const json curves = overoptimisation_curves(run, size, judge, in, m, sampling, o);
          for (const auto& [key, curve] : curves.items()) summary["overoptimisation"][key] = curve;
          if (!curves.empty()) say("over-optimisation curves done");
        }
    } else {
      summary["notes"].push_back("reward-model scores skipped: no model at " + run.reward_model_dir(size));
    }
    summary["alignment_tax"][size.empty() ? "all" : size] = alignment_tax_table(summary, size);
    summary["training_curves"][size.empty() ? "all" : size] = read_training_curves(run, size);
    // A few prompts with every model's response, side by side.
    json samples = json::array();
    for (size_t i = 0; i < in.records.size() && static_cast<int64_t>(i) < o.report_samples; ++i) {
      json sample = {{"prompt", in.records[i]["prompt"]}, {"task", in.records[i].value("task", std::string())},
                     {"size", size}, {"responses", json::object()}};
      for (const auto& r : responses) sample["responses"][r.key] = r.responses[i];
      samples.push_back(sample);
    }
    summary["samples"][size.empty() ? "all" : size] = samples;
  }

  double agreement = NAN;  // the first size's (the paper reports one agreement figure)
  if (summary.contains("agreement"))
    for (const auto& [size, value] : summary["agreement"].items())
      if (value.is_number() && !std::isfinite(agreement)) agreement = value.get<double>();
  // The ceiling of RM accuracy is the agreement on what the RM was trained on, the rankings; the agreement on the
  // evaluation's own responses stands in only for a run without the rankings stage's record.
  const std::string goals_size = goal_size(summary);
  const double rankings_agreement = read_rankings_agreement(run.stage_record("rankings", goals_size));
  summary["rankings_agreement"] = number_or_null(rankings_agreement);
  std::vector<RmFold> folds = read_rm_folds(run.rm_cv());
  if (folds.empty()) summary["notes"].push_back("RM cross-validation not shown: " + run.rm_cv() + " is missing");
  summary["rm_generalisation"] = std::isfinite(rankings_agreement)
                                     ? summarise_rm_folds(folds, rankings_agreement, "the RM's rankings")
                                     : summarise_rm_folds(folds, agreement, "evaluation comparisons");

  std::vector<ComputeRecord> compute = read_compute_records(run.compute());
  if (compute.empty()) summary["notes"].push_back("compute per stage not shown: " + run.compute() + " is missing");
  ComputeRecord eval_record;
  eval_record.stage = "eval";
  eval_record.tokens_scored = eval_tokens;
  eval_record.parameters = eval_tokens > 0 ? eval_flops / (2 * eval_tokens) : 0;  // the token-weighted mean N
  eval_record.wall_seconds = eval_clock.seconds();
  compute.push_back(eval_record);
  summary["compute"] = summarise_compute(compute);
  summary["goals"] = build_goals(summary, GoalInputs{goals_size, rankings_agreement});
  if (!goals_size.empty()) summary["goals_size"] = goals_size;

  if (o.real_data) {
    const std::string shared = find_shared_data(o.shared_data);
    std::vector<std::pair<std::string, std::string>> models;
    for (const auto& size : sizes)
      for (const std::string key : {"base", "sft", "ppo", "ppo_ptx", "rm"})
        if (file_exists(run.model_dir(key, size) + "/config.json")) models.emplace_back(model_id(size, key), run.model_dir(key, size));
    say("real data (" + (shared.empty() ? std::string("absent") : shared) + ")");
    summary["real_data"] = evaluate_models(models, o, run.tokenizer_dir())["real_data"];
  }
  make_dirs(run.report_dir());
  AtomicWriter items(run.report_dir() + "/responses.jsonl");
  for (const auto& line : item_lines) items.write(line.dump() + "\n");
  items.commit();
  summary["responses_file"] = run.report_dir() + "/responses.jsonl";
  AtomicWriter benchmark_items(run.report_dir() + "/benchmark_responses.jsonl");
  for (const auto& line : benchmark_lines) benchmark_items.write(line.dump() + "\n");
  benchmark_items.commit();
  summary["benchmark_responses_file"] = run.report_dir() + "/benchmark_responses.jsonl";
  summary["eval_seconds"] = total.seconds();
  say("done");
  return summary;
}

json evaluate_models(const std::vector<std::pair<std::string, std::string>>& models, const EvalOptions& o,
                     const std::string& tokenizer) {
  const std::string shared = find_shared_data(o.shared_data);
  json out = {{"format", "rlhf-eval-summary"}, {"version", 1}, {"real_data", json::object()}, {"notes", json::array()}};
  if (shared.empty()) out["notes"].push_back("real-data measures skipped: the shared data folder was not found");
  for (const auto& [name, dir] : models) {
    if (!file_exists(dir + "/config.json")) fail(dir, "a model directory (config.json)", "no such file");
    if (!o.quiet) std::cerr << "eval: real data for " << name << "\n";
    out["real_data"][name] = real_data_measures(name, dir, shared, o.real_data_items, o.batch_size, o.device, tokenizer);
  }
  return out;
}

}  // namespace rlhf::eval
