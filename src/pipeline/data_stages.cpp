// Pipeline stages that make data: the world, the tokenizer, curated prompt sets, the labelers' demonstrations and
// rankings of sampled outputs.
#include <algorithm>
#include <random>
#include <set>

#include "common/error.h"
#include "common/files.h"
#include "data/curate.h"
#include "data/jsonl.h"
#include "eval/run_layout.h"
#include "infer/text.h"
#include "io/model_dir.h"
#include "pipeline/held_out.h"
#include "pipeline/records.h"
#include "pipeline/stage_bodies.h"
#include "tokenizer/bpe_train.h"
#include "world/world.h"

namespace rlhf::pipeline {

using json = nlohmann::json;

json stage_world(const PipelineConfig& c, const RunPaths& p, StageCompute&) {
  world::WorldConfig config = c.world;
  config.seed = c.seed;
  auto w = world::World::generate(config);
  return w.write(p.world());
}

json stage_tokenizer(const PipelineConfig& c, const RunPaths& p, StageCompute&) {
  std::vector<std::string> texts;
  for (const auto& r : read_records(p.world() + "/corpus.jsonl")) texts.push_back(r["text"].get<std::string>());
  // The instruction format's words must be cheap tokens too, although the corpus has no instructions: add a few lines
  // of the format's skeleton (no content) to the training texts.
  for (int i = 0; i < 50; ++i) texts.push_back("Instruction: \nResponse: ");
  BpeTrainOptions options;
  options.eos_token = options.pad_token = "<|endoftext|>";
  auto tokenizer = train_bpe(texts, c.vocab_size, {"<|endoftext|>"}, options);
  tokenizer->save_pretrained(p.tokenizer());
  return {{"vocab_size", tokenizer->vocab_size()}, {"texts", texts.size()}};
}

json stage_curate(const PipelineConfig& c, const RunPaths& p, StageCompute&) {
  data::CurateOptions options;
  options.seed = static_cast<uint64_t>(c.seed);
  auto report = data::curate_file(p.world() + "/prompt_log.jsonl", p.data("curated"), options);
  // The training users' prompts are shared out to the three datasets (disjoint), as the paper's 13k / 33k / 31k;
  // those of a held-out category go to none of them (nor to validation, which chooses the SFT epoch).
  const HeldOutCategories held_out = HeldOutCategories::parse(c.held_out_categories);
  const auto all_train = read_records(p.data("curated/train.jsonl"));
  auto train = held_out.without(all_train);
  std::mt19937_64 rng(static_cast<uint64_t>(c.seed) * 7 + 3);
  std::shuffle(train.begin(), train.end(), rng);
  const size_t n = train.size(), n_sft = static_cast<size_t>(c.sft_share * static_cast<double>(n)),
               n_rm = static_cast<size_t>(c.rm_share * static_cast<double>(n));
  auto take = [&](size_t from, size_t to, int64_t limit) {
    std::vector<json> out(train.begin() + static_cast<std::ptrdiff_t>(from), train.begin() + static_cast<std::ptrdiff_t>(to));
    if (static_cast<int64_t>(out.size()) > limit) out.resize(static_cast<size_t>(limit));
    return out;
  };
  auto sft = take(0, n_sft, c.max_sft_prompts), rm = take(n_sft, n_sft + n_rm, c.max_rm_prompts),
       ppo = take(n_sft + n_rm, n, c.max_ppo_prompts);
  const auto all_validation = read_records(p.data("curated/validation.jsonl"));
  auto validation = held_out.without(all_validation), test = read_records(p.data("curated/test.jsonl"));
  if (c.max_eval_prompts > 0 && static_cast<int64_t>(test.size()) > c.max_eval_prompts)
    test.resize(static_cast<size_t>(c.max_eval_prompts));
  write_records(p.data("sft_prompts.jsonl"), sft);
  write_records(p.data("rm_prompts.jsonl"), rm);
  write_records(p.data("ppo_prompts.jsonl"), ppo);
  write_records(p.data("validation.jsonl"), validation);
  write_records(p.data("test.jsonl"), test);
  // What `rlhf eval` measures generalisation on (written always: a run re-curated without held-out categories must not
  // keep an earlier run's list).
  write_file_atomic(eval::RunLayout(p.root).held_out_categories(), json({{"categories", held_out.names()}}).dump() + "\n");
  json summary = report.to_json();
  if (!held_out.empty()) {
    size_t test_held_out = 0;
    for (const auto& r : test) test_held_out += held_out.holds(r);
    summary["held_out_categories"] = {{"categories", held_out.names()},
                                      {"removed", {{"train", all_train.size() - train.size()},
                                                   {"validation", all_validation.size() - validation.size()}}},
                                      {"test_prompts", test_held_out}};
  }
  summary["datasets"] = {{"sft", sft.size()}, {"rm", rm.size()}, {"ppo", ppo.size()}, {"validation", validation.size()},
                         {"test", test.size()}};
  return summary;
}

json stage_demonstrations(const PipelineConfig& c, const RunPaths& p, StageCompute&) {
  auto w = world::World::load(p.world());
  std::vector<json> demonstrations;
  // The paper's SFT prompts were mostly written by the labelers themselves (11,295 of 12,725), every category in
  // turn; the API users' prompts follow. A labeler-written prompt that is also a validation or test prompt is left
  // out, so that no held-out prompt is ever trained on.
  std::set<std::string> held_out;
  for (const char* split : {"validation.jsonl", "test.jsonl"})
    for (const auto& record : read_records(p.data(split))) held_out.insert(record["prompt"].get<std::string>());
  std::vector<json> prompts;
  int64_t labeler_written = 0;
  const HeldOutCategories held_out_categories = HeldOutCategories::parse(c.held_out_categories);
  for (auto& record : held_out_categories.labeler_prompts(w, static_cast<int>(c.labeler_prompts), "labeler_prompts"))
    if (!held_out.count(record["prompt"].get<std::string>())) prompts.push_back(std::move(record)), ++labeler_written;
  for (auto& record : read_records(p.data("sft_prompts.jsonl"))) prompts.push_back(std::move(record));
  for (const auto& record : prompts) {
    const auto& labeler = w.labelers().assign(record);
    demonstrations.push_back({{"prompt", record["prompt"]},
                              {"completion", labeler.write_demonstration(record, w.knowledge())},
                              {"labeler", labeler.id}, {"id", record["id"]}, {"task", record["task"]},
                              {"prompt_type", record["prompt_type"]}});
  }
  write_records(p.data("sft.jsonl"), demonstrations);
  return {{"demonstrations", demonstrations.size()}, {"labeler_written", labeler_written},
          {"api", static_cast<int64_t>(demonstrations.size()) - labeler_written}};
}

json stage_rankings(const PipelineConfig& c, const RunPaths& p, StageCompute& compute, const Round& round) {
  auto w = world::World::load(p.world());
  auto tokenizer = load_tokenizer(p.tokenizer());
  const PromptFormat format = PromptFormat::plain();
  auto records = read_records(p.data("rm_prompts.jsonl"));
  if (c.rm_labeler_prompts > 0) {
    // Labeler-written prompts of their own draw (not the SFT set's), none of them a held-out prompt.
    std::set<std::string> held_out;
    for (const char* split : {"validation.jsonl", "test.jsonl"})
      for (const auto& record : read_records(p.data(split))) held_out.insert(record["prompt"].get<std::string>());
    const HeldOutCategories held_out_categories = HeldOutCategories::parse(c.held_out_categories);
    for (auto& record : held_out_categories.labeler_prompts(w, static_cast<int>(c.rm_labeler_prompts), "rm_labeler_prompts")) {
      if (held_out.count(record["prompt"].get<std::string>())) continue;
      record["id"] = "r" + record["id"].get<std::string>().substr(1);
      records.push_back(std::move(record));
    }
  }
  std::vector<std::string> prompts;
  for (const auto& r : records) prompts.push_back(r["prompt"].get<std::string>());
  // K responses per prompt (K uniform in [k_min, k_max]): K-1 samples of the last SFT epoch, 1 of the base model
  // prompted few-shot, so that labelers compare outputs of different quality as in the paper. A later round of
  // iterated RLHF: K-1 samples of the previous round's PPO policy and 1 of the chosen SFT model, so that labelers see
  // (and rank) what that policy learnt to exploit in its RM, beside what it started from.
  const bool first = round.number == 1;
  const uint64_t later_round = static_cast<uint64_t>(round.number - 1);  // 0 in round 1: its draws as they were
  std::mt19937_64 rng(static_cast<uint64_t>(c.seed) * 31 + 5 + later_round * 1000003);
  std::vector<int64_t> k(records.size());
  for (auto& x : k) x = c.rm_k_min + static_cast<int64_t>(rng() % static_cast<uint64_t>(c.rm_k_max - c.rm_k_min + 1));
  GenerationOptions g;
  g.max_new_tokens = c.max_new_tokens;
  g.temperature = c.temperature;
  g.eos_token_id = tokenizer->eos_id();
  g.pad_token_id = std::max<int64_t>(0, tokenizer->pad_id());
  auto generator = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(c.seed) + 11 + later_round * 7919);
  std::vector<std::vector<std::string>> responses(records.size());
  {
    auto sft = load_model(first ? last_sft_epoch(p) : p.model(round.previous().ppo()));
    std::vector<std::string> repeated;
    std::vector<size_t> owner;
    const int64_t not_sampled = c.rm_rank_demonstration ? 2 : 1;  // the base model's response, a demonstration
    for (size_t i = 0; i < records.size(); ++i)
      for (int64_t j = 0; j + not_sampled < k[i]; ++j) repeated.push_back(prompts[i]), owner.push_back(i);
    auto s = sample_responses(*sft, *tokenizer, format, repeated, g, 64, generator);
    for (size_t j = 0; j < owner.size(); ++j) responses[owner[j]].push_back(s.responses[j]);
    compute.tokens_generated += s.tokens_generated, compute.tokens_scored += s.tokens_prompted;
    compute.parameters = sft->config().parameter_count();
  }
  if (!first) {  // one sample of the SFT model PPO started from
    auto sft = load_model(p.model("sft"));
    auto s = sample_responses(*sft, *tokenizer, format, prompts, g, 64, generator);
    for (size_t i = 0; i < records.size(); ++i) responses[i].push_back(s.responses[i]);
    compute.tokens_generated += s.tokens_generated, compute.tokens_scored += s.tokens_prompted;
  } else {
    auto base = load_model(p.model("base"));
    auto demos = read_records(p.data("sft.jsonl"));
    std::vector<std::pair<std::string, std::string>> shots;
    for (size_t i = 0; i < std::min<size_t>(2, demos.size()); ++i)
      shots.emplace_back(demos[i]["prompt"].get<std::string>(), demos[i]["completion"].get<std::string>());
    auto s = sample_responses(*base, *tokenizer, format, prompts, g, 64, generator, few_shot_prefix(format, shots));
    for (size_t i = 0; i < records.size(); ++i) responses[i].push_back(s.responses[i]);
    compute.tokens_generated += s.tokens_generated, compute.tokens_scored += s.tokens_prompted;
  }
  if (c.rm_rank_demonstration)  // written by another labeler than the one who ranks, as a demonstration would be
    for (size_t i = 0; i < records.size(); ++i) {
      json other = records[i];
      other["id"] = other["id"].get<std::string>() + "-demonstration";
      responses[i].push_back(w.labelers().write_demonstration(other));
    }
  // Training labelers rank (rankings.jsonl, for the RM); for the cross-validation over groups, a labeler of every group
  // ranks a share of the prompts (rankings_by_group.jsonl, round 1 only).
  std::vector<json> ranked, by_group;
  if (!first) ranked = read_records(p.sized_data(round.previous().rankings_file()));
  const size_t earlier = ranked.size();
  const int groups = w.labelers().groups();
  for (size_t i = 0; i < records.size(); ++i) {
    std::shuffle(responses[i].begin(), responses[i].end(), rng);
    const auto& labeler = w.labelers().assign(records[i]);
    ranked.push_back({{"prompt", prompts[i]}, {"responses", responses[i]},
                      {"ranking", labeler.rank(records[i], responses[i], w.knowledge())}, {"labeler", labeler.id},
                      {"labeler_group", labeler.group}, {"id", records[i]["id"]}});
    if (!first) continue;
    const int group = static_cast<int>(i % static_cast<size_t>(groups));
    auto members = w.labelers().group(group);
    const auto& cv_labeler = *members[i / static_cast<size_t>(groups) % members.size()];
    by_group.push_back({{"prompt", prompts[i]}, {"responses", responses[i]},
                        {"ranking", cv_labeler.rank(records[i], responses[i], w.knowledge())},
                        {"labeler", cv_labeler.id}, {"labeler_group", group}, {"id", records[i]["id"]}});
  }
  make_dirs(p.sized_data(""));
  write_records(p.sized_data(round.rankings_file()), ranked);
  if (first) write_records(p.sized_data("rankings_by_group.jsonl"), by_group);
  const double agreement = w.labelers().inter_labeler_agreement(records, responses);
  return {{"prompts", ranked.size() - earlier}, {"inter_labeler_agreement", agreement}};
}

}  // namespace rlhf::pipeline
