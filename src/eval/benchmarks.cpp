#include "eval/benchmarks.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "common/error.h"
#include "common/json.h"
#include "eval/stats.h"

namespace rlhf::eval {

using json = nlohmann::json;

namespace {

std::string text_field(const json& item, const char* field, const std::string& suite) {
  if (!item.is_object() || !item.contains(field) || !item[field].is_string())
    fail(suite + " item " + (item.is_object() ? item.value("id", std::string("?")) : std::string("?")),
         std::string("a string \"") + field + "\"", json_excerpt(item, 80));
  return item[field].get<std::string>();
}

std::vector<std::string> text_fields(const std::vector<json>& items, const char* field, const std::string& suite) {
  std::vector<std::string> out;
  for (const auto& item : items) out.push_back(text_field(item, field, suite));
  return out;
}

PromptStyle style_of(const BenchmarkOptions& o) { return PromptStyle{o.use_format, ""}; }

// The greedy options with extra stop strings (a QA answer is one line).
SamplingOptions one_line(SamplingOptions o) {
  o.stop_at_newline = true;
  return o;
}

}  // namespace

json truthfulness(TextModel& model, const Judge& judge, const std::vector<json>& items, const BenchmarkOptions& o,
                  GenerationStats* stats, std::vector<json>* per_item) {
  json out = json::object();
  const std::vector<std::pair<std::string, const char*>> conditions = {{"plain", "prompt"},
                                                                       {"instruction_qa", "prompt_instruction_qa"}};
  for (const auto& [condition, field] : conditions) {
    const std::vector<std::string> prompts = text_fields(items, field, "truthfulqa");
    auto responses = generate_responses(model, prompts, one_line(o.greedy), style_of(o), 1, stats);
    std::vector<double> truthful, informative, both;
    std::map<std::string, std::vector<double>> truthful_by_kind;
    for (size_t i = 0; i < items.size(); ++i) {
      TruthJudgement j = judge.judge_truthfulness(items[i], responses[i]);
      truthful.push_back(j.truthful);
      informative.push_back(j.informative);
      both.push_back(j.truthful && j.informative);
      truthful_by_kind[items[i].value("kind", std::string("all"))].push_back(j.truthful);
      if (per_item)
        per_item->push_back({{"suite", "truthfulqa"}, {"condition", condition}, {"prompt_id", items[i].value("id", std::to_string(i))},
                             {"kind", items[i].value("kind", std::string())}, {"answerable", items[i].value("answerable", true)},
                             {"prompt", prompts[i]}, {"response", responses[i]}, {"truthful", j.truthful},
                             {"informative", j.informative}, {"idk", j.idk}});
    }
    json c = {{"truthful", proportion_json(truthful)}, {"informative", proportion_json(informative)},
              {"truthful_and_informative", proportion_json(both)}, {"truthful_by_kind", json::object()}};
    for (const auto& [kind, flags] : truthful_by_kind) c["truthful_by_kind"][kind] = proportion_json(flags);
    out[condition] = c;
  }
  return out;
}

json hallucination(TextModel& model, const Judge& judge, const std::vector<json>& items, const BenchmarkOptions& o,
                   GenerationStats* stats, std::vector<json>* per_item) {
  const std::vector<std::string> prompts = text_fields(items, "prompt", "hallucination");
  auto responses = generate_responses(model, prompts, o.greedy, style_of(o), 1, stats);
  // Beside the rate, what the answers were: an empty or evasive answer makes nothing up, so a low rate alone could
  // flatter a model that no longer answers; the share correct and the share correct with nothing made up cannot.
  std::vector<double> all, success, empty, correct_and_clean;
  std::map<std::string, std::vector<double>> by_task;
  for (size_t i = 0; i < items.size(); ++i) {
    const JudgeFeatures f = judge.check(items[i], responses[i]);
    const bool made_up = f.hallucinations > 0;
    all.push_back(made_up);
    success.push_back(f.success);
    empty.push_back(f.words == 0);
    correct_and_clean.push_back(f.success && !made_up);
    if (per_item)
      per_item->push_back({{"suite", "hallucination"}, {"prompt_id", items[i].value("id", std::to_string(i))},
                           {"task", items[i].value("task", std::string("other"))}, {"prompt", prompts[i]},
                           {"response", responses[i]}, {"made_up", made_up}, {"success", f.success},
                           {"words", f.words}});
    by_task[items[i].value("task", std::string("other"))].push_back(made_up);
  }
  json out = {{"rate", proportion_json(all)}, {"success", proportion_json(success)}, {"empty", proportion_json(empty)},
              {"correct_and_clean", proportion_json(correct_and_clean)}, {"by_task", json::object()}, {"per_item", all}};
  for (const auto& [task, flags] : by_task) out["by_task"][task] = proportion_json(flags);
  return out;
}

json toxicity(TextModel& model, const Judge& judge, const std::vector<json>& items, const BenchmarkOptions& o,
              GenerationStats* stats) {
  json out = json::object();
  const int64_t k = std::max<int64_t>(1, o.toxicity_samples);
  std::vector<std::string> prompts = text_fields(items, "prompt", "realtoxicity");
  for (const std::string condition : {"plain", "respectful"}) {
    PromptStyle style = style_of(o);
    if (condition == "respectful") style.prefix = judge.respectful_instruction();
    // The instruction goes inside the user's prompt (the paper: "Complete the following sentence in a polite,
    // respectful, and unbiased manner:"), so with the prompt format it is part of the instruction, not before it.
    std::vector<std::string> texts = prompts;
    if (style.use_format && !style.prefix.empty()) {
      for (auto& t : texts) t = style.prefix + t;
      style.prefix.clear();
    }
    auto responses = generate_responses(model, texts, o.sampled, style, k, stats);
    std::vector<std::vector<double>> per_prompt(items.size());
    std::map<std::string, std::vector<std::vector<double>>> by_kind;
    for (size_t i = 0; i < items.size(); ++i) {
      for (int64_t s = 0; s < k; ++s) per_prompt[i].push_back(judge.toxicity(responses[i * static_cast<size_t>(k) + static_cast<size_t>(s)]));
      by_kind[items[i].value("kind", std::string("all"))].push_back(per_prompt[i]);
    }
    auto aggregate_json = [](const std::vector<std::vector<double>>& p) {
      ToxicityAggregate a = aggregate_toxicity(p);
      return json{{"expected_max_toxicity", number_or_null(a.expected_max_toxicity)},
                  {"expected_max_toxicity_stderr", a.expected_max_toxicity_stderr},
                  {"toxic_probability", number_or_null(a.toxic_probability)},
                  {"mean_toxicity", number_or_null(a.mean_toxicity)}, {"prompts", a.prompts}, {"samples", a.samples}};
    };
    json c = aggregate_json(per_prompt);
    c["by_kind"] = json::object();
    for (const auto& [kind, p] : by_kind) c["by_kind"][kind] = aggregate_json(p);
    c["example"] = responses.empty() ? "" : responses.front();
    c["per_prompt"] = per_prompt;
    out[condition] = c;
  }
  out["samples_per_prompt"] = k;
  return out;
}

json public_suite(TextModel& model, const Judge& judge, const std::vector<json>& items, const BenchmarkOptions& o,
                  GenerationStats* stats) {
  std::vector<size_t> exact_items, choice_items;
  for (size_t i = 0; i < items.size(); ++i)
    (items[i].value("metric", std::string("exact")) == "choice" ? choice_items : exact_items).push_back(i);
  std::vector<double> correct(items.size(), 0.0);
  // Exact match on greedy answers.
  std::vector<std::string> prompts;
  for (size_t i : exact_items) prompts.push_back(text_field(items[i], "prompt", "public_nlp"));
  auto responses = generate_responses(model, prompts, one_line(o.greedy), style_of(o), 1, stats);
  for (size_t k = 0; k < exact_items.size(); ++k) correct[exact_items[k]] = judge.score_exact(items[exact_items[k]], responses[k]);
  // Likelihood of each choice after the prompt (as the response would follow it).
  std::vector<std::string> contexts, continuations;
  std::vector<size_t> owner;
  for (size_t i : choice_items) {
    const json& item = items[i];
    if (!item.contains("choices") || !item["choices"].is_array() || item["choices"].empty())
      fail("public_nlp item " + item.value("id", std::string("?")), "a non-empty \"choices\" list", json_excerpt(item, 80));
    std::string context = o.use_format ? model.format.prompt_text(text_field(item, "prompt", "public_nlp"))
                                       : text_field(item, "prompt", "public_nlp");
    for (const auto& choice : item["choices"]) {
      std::string c = choice.is_string() ? choice.get<std::string>() : choice.dump();
      contexts.push_back(context);
      continuations.push_back(o.use_format ? model.format.response_text(c) : " " + c);
      owner.push_back(i);
    }
  }
  auto logprobs = continuation_logprobs(model, contexts, continuations, o.greedy.batch_size);
  for (size_t start = 0; start < owner.size();) {
    size_t end = start;
    while (end < owner.size() && owner[end] == owner[start]) ++end;
    correct[owner[start]] = judge.score_choice(items[owner[start]],
                                               std::vector<double>(logprobs.begin() + static_cast<long>(start),
                                                                   logprobs.begin() + static_cast<long>(end)));
    start = end;
  }
  std::vector<double> exact, choice;
  std::map<std::string, std::vector<double>> by_task;
  for (size_t i : exact_items) exact.push_back(correct[i]);
  for (size_t i : choice_items) choice.push_back(correct[i]);
  for (size_t i = 0; i < items.size(); ++i) by_task[items[i].value("task", std::string("other"))].push_back(correct[i]);
  json out = {{"score", proportion_json(correct)}, {"exact_match", proportion_json(exact)},
              {"choice_accuracy", proportion_json(choice)}, {"by_task", json::object()}, {"per_item", correct}};
  for (const auto& [task, flags] : by_task) out["by_task"][task] = proportion_json(flags);
  return out;
}

json winogender(TextModel& model, const std::vector<json>& items, const std::string& respectful, int64_t batch_size) {
  json out = json::object();
  std::vector<std::pair<std::string, std::string>> conditions = {{"plain", ""}};
  if (!respectful.empty()) conditions.emplace_back("respectful", respectful);
  for (const auto& [condition, prefix] : conditions) {
    std::vector<std::string> contexts, continuations;
    std::vector<size_t> sizes;
    for (const auto& item : items) {
      std::string context = prefix + text_field(item, "prefix", "winogender");
      if (!item.contains("choices") || !item["choices"].is_array() || item["choices"].size() < 2)
        fail("winogender item " + item.value("id", std::string("?")), "at least two \"choices\"", json_excerpt(item, 80));
      for (const auto& pronoun : item["choices"]) {
        contexts.push_back(context);
        continuations.push_back(" " + pronoun.get<std::string>());
      }
      sizes.push_back(item["choices"].size());
    }
    auto logprobs = continuation_logprobs(model, contexts, continuations, batch_size);
    std::vector<double> entropies;
    std::map<std::string, std::vector<double>> by_occupation;
    size_t at = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      std::vector<double> probabilities;
      for (size_t c = 0; c < sizes[i]; ++c) probabilities.push_back(std::exp(logprobs[at + c]));
      at += sizes[i];
      double sum = 0;
      for (double p : probabilities) sum += p;
      double h = sum > 0 ? normalised_entropy(probabilities) : 1.0;  // all underflowed: no preference is measurable
      entropies.push_back(h);
      by_occupation[items[i].value("occupation", std::string("?"))].push_back(h);
    }
    json c = {{"normalised_entropy", mean_stderr_json(entropies)}, {"by_occupation", json::object()}};
    for (const auto& [occupation, values] : by_occupation) c["by_occupation"][occupation] = mean_stderr(values).mean;
    out[condition] = c;
  }
  return out;
}

json crows_pairs(TextModel& model, const std::vector<json>& items, const std::string& respectful, int64_t batch_size) {
  json out = json::object();
  std::vector<std::pair<std::string, std::string>> conditions = {{"plain", ""}};
  if (!respectful.empty()) conditions.emplace_back("respectful", respectful);
  for (const auto& [condition, prefix] : conditions) {
    std::vector<std::string> contexts(items.size(), prefix);
    auto more = continuation_logprobs(model, contexts, text_fields(items, "stereotype", "crows_pairs"), batch_size);
    auto less = continuation_logprobs(model, contexts, text_fields(items, "anti_stereotype", "crows_pairs"), batch_size);
    std::vector<double> flags;
    for (size_t i = 0; i < items.size(); ++i) flags.push_back(more[i] > less[i]);
    out[condition] = {{"stereotype_preferred", proportion_json(flags)}};
  }
  return out;
}

json heldout_nll(TextModel& model, const std::vector<std::string>& texts, int64_t batch_size) {
  std::vector<int64_t> counts;
  auto logprobs = continuation_logprobs(model, std::vector<std::string>(texts.size()), texts, batch_size, &counts);
  double total = 0;
  int64_t tokens = 0;
  for (size_t i = 0; i < texts.size(); ++i) total += logprobs[i], tokens += counts[i];
  return {{"nll_per_token", tokens > 0 ? number_or_null(-total / static_cast<double>(tokens)) : json(nullptr)},
          {"tokens", tokens}, {"documents", texts.size()}};
}

json in_context_copying(TextModel& model, const std::vector<json>& items, int64_t batch_size) {
  SamplingOptions greedy;
  greedy.do_sample = false;
  greedy.max_new_tokens = 8;
  greedy.batch_size = batch_size;
  greedy.stop_at_newline = true;
  auto continuations = generate_responses(model, text_fields(items, "prefix", "copying"), greedy, PromptStyle{false, ""});
  std::vector<double> copied;
  std::map<std::string, std::vector<double>> by_kind;
  for (size_t i = 0; i < items.size(); ++i) {
    // The first word of the continuation, without its punctuation, is the town named earlier in the text.
    std::string word;
    for (char c : continuations[i]) {
      if (std::isalnum(static_cast<unsigned char>(c))) word += c;
      else if (!word.empty()) break;
    }
    const double hit = word == text_field(items[i], "target", "copying") ? 1.0 : 0.0;
    copied.push_back(hit);
    by_kind[items[i].value("kind", std::string("other"))].push_back(hit);
    if (items[i].contains("target_kind")) by_kind[items[i].value("target_kind", std::string())].push_back(hit);
  }
  json out = {{"accuracy", proportion_json(copied)}, {"by_kind", json::object()}};
  for (const auto& [kind, hits] : by_kind) out["by_kind"][kind] = proportion_json(hits);
  return out;
}

}  // namespace rlhf::eval
