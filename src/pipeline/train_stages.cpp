// Pipeline stages that train or choose models: pretraining, SFT, FLAN-style SFT, the reward model and its
// cross-validation over labeler groups, the SFT epoch chosen by RM score, PPO and PPO-ptx.
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

#include "common/error.h"
#include "common/files.h"
#include "eval/benchmarks.h"
#include "infer/scoring.h"
#include "infer/text.h"
#include "io/checkpoint.h"
#include "io/model_dir.h"
#include "pipeline/records.h"
#include "pipeline/stage_bodies.h"
#include "train/ppo.h"
#include "train/reward.h"
#include "train/sft.h"
#include "world/world.h"

namespace rlhf::pipeline {

using json = nlohmann::json;

namespace {

TrainingOptions training(const PipelineConfig& c, const std::string& output_dir, double lr, int64_t batch, int64_t epochs) {
  TrainingOptions t;
  t.output_dir = output_dir;
  t.learning_rate = lr;
  t.per_device_train_batch_size = batch;
  t.num_train_epochs = epochs;
  t.max_length = c.context_length;
  t.seed = c.seed;
  t.group_by_length = c.group_by_length;
  t.warmup_ratio = 0.05;
  t.logging_steps = 10;
  t.device = c.device;
  // An interrupted stage continues from its checkpoint; otherwise it starts afresh over whatever an earlier attempt
  // left (a stage whose settings changed has had its outputs removed: stages.cpp).
  t.resume_from_checkpoint = newest_checkpoint(output_dir) ? "true" : "false";
  t.overwrite_output_dir = true;
  return t;
}

int64_t parameters_of(const std::string& model_dir) {
  return load_model_config(model_dir + "/config.json").parameter_count();
}

}  // namespace

json stage_pretrain(const PipelineConfig& c, const RunPaths& p, StageCompute& compute) {
  ModelConfig config = tiny_config("llama", c.vocab_size, c.hidden_size, c.num_layers, c.num_heads, c.num_heads,
                                   c.context_length);
  auto tokenizer = load_tokenizer(p.tokenizer());
  config.eos_token_id = config.pad_token_id = tokenizer->eos_id();
  make_dirs(p.model("base"));
  make_dirs(p.sized_data(""));
  write_file_atomic(p.sized_data("base_config.json"), model_config_to_json(config));
  SftOptions o;
  o.train = training(c, p.model("base"), c.pretrain_learning_rate, c.pretrain_batch_size, c.pretrain_epochs);
  o.train.warmup_ratio = 0.02;
  o.train.group_by_length = false;  // packed windows: all of one length
  o.packing_strategy = c.pretrain_packing;
  o.init_config = p.sized_data("base_config.json");
  o.tokenizer = p.tokenizer();
  o.dataset = p.world() + "/corpus.jsonl";
  o.eval_dataset = p.world() + "/heldout_corpus.jsonl";
  o.save_every_epoch = false;
  auto r = run_sft(o);
  compute.parameters = config.parameter_count();
  compute.tokens_trained = r.tokens_trained;
  json summary = {{"steps", r.steps}, {"train_loss", r.train_loss}, {"heldout_loss", r.eval_loss},
                  {"parameters", compute.parameters}};
  // Whether pretraining taught in-context copying (a town named once, completed where it comes back): instruction
  // following is built on it, so it is the first thing to look at when SFT does not take.
  const std::string probes = p.world() + "/benchmarks/copying.jsonl";
  if (file_exists(probes)) {
    TextModel base = load_text_model("base", p.model("base"), "plain", c.device, p.tokenizer());
    summary["in_context_copying"] = eval::in_context_copying(base, read_records(probes), 64);
    const json& copying = summary["in_context_copying"];
    auto share = [&](const char* kind) {
      return copying["by_kind"].contains(kind) ? 100.0 * copying["by_kind"][kind]["value"].get<double>() : 0.0;
    };
    std::printf("pretrain: in-context copying %.1f %% of %.0f probes (known towns %.1f %%, unseen villages %.1f %%); "
                "held-out loss %.3f\n",
                100.0 * copying["accuracy"]["value"].get<double>(), copying["accuracy"]["n"].get<double>(),
                share("known"), share("village"), r.eval_loss);
    std::fflush(stdout);
  }
  return summary;
}

json stage_sft(const PipelineConfig& c, const RunPaths& p, StageCompute& compute) {
  SftOptions o;
  o.train = training(c, p.model("sft_run"), c.sft_learning_rate, c.sft_batch_size, c.sft_epochs);
  o.model_name_or_path = p.model("base");
  o.dataset = p.data("sft.jsonl");
  o.save_every_epoch = true;  // the paper picks the epoch by RM score, not by validation loss
  auto r = run_sft(o);
  compute.parameters = parameters_of(p.model("base"));
  compute.tokens_trained = r.tokens_trained;
  return {{"steps", r.steps}, {"train_loss", r.train_loss}, {"epochs", r.epoch_dirs}};
}

json stage_flan_sft(const PipelineConfig& c, const RunPaths& p, StageCompute& compute) {
  // The FLAN-style baseline: the same SFT, on the public suite's templated tasks instead of demonstrations.
  // As many examples as the SFT stage has demonstrations, so that the two baselines cost about the same.
  auto items = read_records(p.world() + "/benchmarks/public_nlp_train.jsonl");
  if (static_cast<int64_t>(items.size()) > c.max_sft_prompts) items.resize(static_cast<size_t>(c.max_sft_prompts));
  std::vector<json> examples;
  for (const auto& item : items) examples.push_back({{"prompt", item["prompt"]}, {"completion", item["completion"]}});
  write_records(p.data("flan_sft.jsonl"), examples);
  SftOptions o;
  o.train = training(c, p.model("flan_sft"), c.sft_learning_rate, c.sft_batch_size, std::max<int64_t>(1, c.sft_epochs / 2));
  o.model_name_or_path = p.model("base");
  o.dataset = p.data("flan_sft.jsonl");
  o.save_every_epoch = false;
  // Not grouped by length: the public suite's templates differ in length, so length-sorted batches would each hold
  // one task (its loss ended at 1.5 instead of 0.35 when they did).
  o.train.group_by_length = false;
  auto r = run_sft(o);
  compute.parameters = parameters_of(p.model("base"));
  compute.tokens_trained = r.tokens_trained;
  return {{"steps", r.steps}, {"train_loss", r.train_loss}};
}

json stage_reward_model(const PipelineConfig& c, const RunPaths& p, StageCompute& compute, const Round& round) {
  RewardOptions o;
  o.train = training(c, p.model(round.rm()), c.rm_learning_rate, c.rm_batch_size, c.rm_epochs);
  o.model_name_or_path = last_sft_epoch(p);  // every round's RM starts from SFT (a later round's sees more rankings)
  o.dataset = p.sized_data(round.rankings_file());
  o.lm_coef = c.rm_lm_coef;
  o.eval_fraction = 0.15;
  o.normalize_dataset = p.data("sft.jsonl");
  auto r = run_reward_training(o);
  compute.parameters = parameters_of(o.model_name_or_path);
  compute.tokens_trained = r.tokens_trained;
  return {{"steps", r.steps}, {"train_loss", r.train_loss}, {"validation_accuracy", r.eval_accuracy},
          {"validation_comparisons", r.eval_pairs}, {"reward_offset", r.reward_offset}};
}

json stage_rm_cross_validation(const PipelineConfig& c, const RunPaths& p, StageCompute& compute) {
  // Train on 4 labeler groups' rankings, test on the 5th (the paper's Table: RM generalisation to held-out labelers).
  auto rankings = read_records(p.sized_data("rankings_by_group.jsonl"));
  int groups = 0;
  for (const auto& r : rankings) groups = std::max(groups, r["labeler_group"].get<int>() + 1);
  json folds = json::array();
  for (int fold = 0; fold < groups; ++fold) {
    // Every 10th prompt of the training groups is kept out of training: the RM's accuracy on unseen prompts of the
    // groups it learned from, beside its accuracy on the held-out group. At most rm_cv_max_prompts train each fold's
    // RM (five RMs are the pipeline's most expensive evaluation; the main RM trains on everything).
    std::vector<json> train, train_heldout, test;
    int64_t seen = 0;
    for (const auto& ranking : rankings) {
      if (ranking["labeler_group"].get<int>() == fold) {
        test.push_back(ranking);
      } else if (seen++ % 10 == 0) {
        train_heldout.push_back(ranking);
      } else if (static_cast<int64_t>(train.size()) < c.rm_cv_max_prompts) {
        train.push_back(ranking);
      }
    }
    const std::string dir = p.model("rm_cv/fold-" + std::to_string(fold));
    write_records(dir + "/train.jsonl", train);
    write_records(dir + "/train_groups_heldout.jsonl", train_heldout);
    write_records(dir + "/test.jsonl", test);
    RewardOptions o;
    o.train = training(c, dir, c.rm_learning_rate, c.rm_batch_size, c.rm_epochs);
    o.train.save_total_limit = 1;
    o.model_name_or_path = last_sft_epoch(p);
    o.dataset = dir + "/train.jsonl";
    o.eval_dataset = dir + "/test.jsonl";
    o.quiet = true;
    auto r = run_reward_training(o);
    compute.tokens_trained += r.tokens_trained;
    // Accuracy on unseen prompts of the training groups, with the fold's model.
    auto model = load_model(dir);
    auto tokenizer = load_tokenizer(dir);
    int64_t correct = 0, pairs = 0;
    for (const auto& ranking : train_heldout) {
      std::vector<std::string> prompts, responses;
      for (const auto& response : ranking["responses"]) prompts.push_back(ranking["prompt"]), responses.push_back(response);
      auto rewards = score_texts(*model, *tokenizer, PromptFormat::plain(), prompts, responses, 0.0, 16, c.context_length);
      const auto order = ranking["ranking"].get<std::vector<int>>();
      for (size_t a = 0; a < order.size(); ++a)
        for (size_t b = a + 1; b < order.size(); ++b) correct += rewards[order[a]] > rewards[order[b]], ++pairs;
    }
    folds.push_back({{"fold", fold}, {"held_out_group", fold}, {"test_accuracy", r.eval_accuracy},
                     {"test_comparisons", r.eval_pairs},
                     {"train_groups_accuracy", pairs ? static_cast<double>(correct) / static_cast<double>(pairs) : -1.0},
                     {"train_groups_comparisons", pairs}});
    remove_tree(dir + "/checkpoints");
  }
  compute.parameters = parameters_of(last_sft_epoch(p));
  json result = {{"folds", folds}};
  write_file_atomic(p.root + "/rm_cv.json", result.dump(2));
  return result;
}

json stage_sft_select(const PipelineConfig& c, const RunPaths& p, StageCompute& compute, const Round& first) {
  // The paper: "we select the final SFT model by RM score on the validation set" (validation loss overfits early).
  auto reward_model = load_model(p.model(first.rm()));
  const double offset = load_reward_offset(p.model(first.rm()));
  auto tokenizer = load_tokenizer(p.tokenizer());
  auto validation = read_records(p.data("validation.jsonl"));
  std::vector<std::string> prompts;
  for (size_t i = 0; i < validation.size() && static_cast<int64_t>(i) < c.select_prompts; ++i)
    prompts.push_back(validation[i]["prompt"].get<std::string>());
  GenerationOptions g;
  g.max_new_tokens = c.max_new_tokens;
  g.do_sample = false;
  g.eos_token_id = tokenizer->eos_id();
  g.pad_token_id = std::max<int64_t>(0, tokenizer->pad_id());
  json scores = json::object();
  std::string best;
  double best_score = -1e300;
  for (const auto& entry : std::filesystem::directory_iterator(p.model("sft_run"))) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || name.rfind("epoch-", 0) != 0) continue;
    auto model = load_model(entry.path().string());
    auto generator = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(c.seed));
    auto s = sample_responses(*model, *tokenizer, PromptFormat::plain(), prompts, g, 64, generator);
    compute.tokens_generated += s.tokens_generated, compute.tokens_scored += s.tokens_prompted;
    compute.tokens_scored += s.tokens_prompted + s.tokens_generated;  // the RM reads the same prompts and responses
    auto rewards = score_texts(*reward_model, *tokenizer, PromptFormat::plain(), prompts, s.responses, offset, 32,
                               c.context_length);
    double mean = 0;
    for (double r : rewards) mean += r / static_cast<double>(rewards.size());
    scores[name] = mean;
    if (mean > best_score) best_score = mean, best = entry.path().string();
  }
  auto chosen = load_model(best);
  save_model(*chosen, p.model("sft"));
  copy_tokenizer_files(p.tokenizer(), p.model("sft"));
  compute.parameters = chosen->config().parameter_count();
  return {{"rm_score_by_epoch", scores}, {"chosen", std::filesystem::path(best).filename().string()}};
}

json stage_ppo(const PipelineConfig& c, const RunPaths& p, StageCompute& compute, bool with_ptx, const Round& round,
               int64_t seed_number, const std::string& output_model) {
  PpoOptions o = c.ppo;
  // PPO sizes its batches with rollout_batch_size / num_mini_batches: per_device_train_batch_size and
  // gradient_accumulation_steps are left unset (0), so that they follow (train/ppo.h's resolve_ppo_batch_sizes).
  const std::string model = !output_model.empty() ? output_model
                                                   : (with_ptx ? "ppo_ptx" + round.suffix() : round.ppo()) + seed_suffix(seed_number);
  o.train = training(c, p.model(model), c.ppo.train.learning_rate, 0, 1);
  o.train.seed = c.seed + seed_number - 1;  // --eval_seeds: seed N of PPO's sampling, data order and value head
  o.train.gradient_accumulation_steps = 0;
  o.train.lr_scheduler_type = "constant";
  o.train.warmup_ratio = 0;
  o.train.warmup_steps = c.ppo.train.warmup_steps;  // the schedule's steps are iterations (0 in the demo)
  // Evenly spaced checkpoints, all kept: the over-optimisation curve judges each (they also resume an interrupted run).
  // Another seed's run keeps its last model only: the curve is drawn from the first seed's.
  const int64_t points = seed_number == 1 ? std::max<int64_t>(1, c.ppo_curve_points) : 1;
  const int64_t iterations = std::max<int64_t>(1, c.ppo.total_episodes / std::max<int64_t>(1, c.ppo.rollout_batch_size));
  o.train.save_steps = std::max<int64_t>(1, iterations / points);
  o.train.save_total_limit = points + 1;
  o.sft_model_path = p.model("sft");
  o.reward_model_path = p.model(round.rm());
  if (c.ppo_value_model == "sft") o.value_model_path = p.model("sft");
  o.dataset = p.data("ppo_prompts.jsonl");
  if (with_ptx) {
    o.ptx_dataset = p.world() + "/corpus.jsonl";
    o.ptx_max_length = c.context_length;
    o.ptx_packing = c.pretrain_packing;  // the windows pretraining read
  } else {
    o.ptx_coef = 0;
  }
  TextRewardFunction checker;
  std::unique_ptr<world::World> w;
  std::vector<json> records;
  if (c.ppo_reward == "checker") {
    w = std::make_unique<world::World>(world::World::load(p.world()));
    records = read_records(o.dataset);
    checker = [&](size_t i, const std::string& response) {
      check(i < records.size(), "ppo --ppo_reward checker: prompt " + std::to_string(i) + " beyond " + o.dataset);
      // Trimmed, as the evaluation reads a response.
      const size_t begin = response.find_first_not_of(" \t\r\n"), end = response.find_last_not_of(" \t\r\n");
      const std::string text = begin == std::string::npos ? "" : response.substr(begin, end - begin + 1);
      return world::check_response(records[i]["task_data"], text, w->knowledge()).success() ? 1.0 : 0.0;
    };
  }
  auto r = run_ppo(o, checker);
  compute.parameters = parameters_of(p.model("sft"));
  compute.tokens_generated = r.tokens_generated;
  compute.tokens_scored = r.tokens_scored;
  compute.tokens_trained = r.tokens_trained;
  const size_t n = r.mean_scores.size();
  return {{"iterations", r.iterations}, {"first_score", n ? r.mean_scores.front() : 0.0},
          {"last_score", n ? r.mean_scores.back() : 0.0}, {"last_kl", n ? r.mean_kl.back() : 0.0}};
}

}  // namespace rlhf::pipeline
