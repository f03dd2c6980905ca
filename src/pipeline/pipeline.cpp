#include "pipeline/pipeline.h"

#include <cstdio>
#include <sstream>
#include <filesystem>

#include "common/error.h"
#include "common/files.h"
#include "infer/batch.h"
#include "pipeline/held_out.h"
#include "pipeline/stage_bodies.h"

namespace rlhf::pipeline {

using json = nlohmann::json;

constexpr int kStagesVersion = 2;

void bind_pipeline_options(Options& o, PipelineConfig& c) {
  // The world's knobs first, so that the pipeline's own "preset" and "seed" (which the world shares) replace the
  // world's bindings: --seed reaches the world, the splits and every stage (run_pipeline copies both into the world).
  world::bind_options(o, c.world);
  o.add("preset", &c.preset, "demo | paper");
  o.add("output_dir", &c.output_dir, "the run directory");
  o.add("seed", &c.seed, "seed of the world, the data splits and every stage");
  o.add("vocab_size", &c.vocab_size, "BPE vocabulary of the base model");
  o.add("model_sizes", &c.model_sizes, "several model sizes, NAME:HIDDENxLAYERSxHEADS,... (paper preset: three); "
                                      "empty: one size from hidden_size, num_layers, num_heads");
  o.add("hidden_size", &c.hidden_size, "base model width");
  o.add("num_layers", &c.num_layers, "base model depth");
  o.add("num_heads", &c.num_heads, "attention heads");
  o.add("context_length", &c.context_length, "longest sequence");
  o.add("pretrain_epochs", &c.pretrain_epochs, "passes over the world's corpus");
  o.add("pretrain_learning_rate", &c.pretrain_learning_rate, "pretraining learning rate");
  o.add("pretrain_batch_size", &c.pretrain_batch_size, "pretraining sequences per step");
  o.add("pretrain_packing", &c.pretrain_packing,
        "bfd (each document attends only to itself) | wrapped (documents end to end, attending across)");
  o.add("labeler_prompts", &c.labeler_prompts, "prompts the labelers write themselves for SFT demonstrations");
  o.add("sft_epochs", &c.sft_epochs, "SFT epochs (one model kept per epoch)");
  o.add("sft_learning_rate", &c.sft_learning_rate, "SFT learning rate");
  o.add("group_by_length", &c.group_by_length,
        "SFT's and the RM's batches of examples of about one length (less padding; false: in the seeded order)");
  o.add("sft_select_prompts", &c.select_prompts, "validation prompts whose RM score chooses the SFT epoch");
  o.add("rm_learning_rate", &c.rm_learning_rate, "reward model learning rate");
  o.add("rm_epochs", &c.rm_epochs, "reward model epochs (the paper: 1; the demo's small RM underfits in one)");
  o.add("rm_lm_coef", &c.rm_lm_coef, "> 0: the RM also keeps an LM loss on each prompt's best response (rm --lm_coef)");
  o.add("rlhf_rounds", &c.rlhf_rounds,
        "rankings -> RM -> PPO rounds; a later round's labelers rank the previous PPO policy's samples beside "
        "SFT's and its RM trains on every round's rankings (iterated RLHF)");
  o.add("rm_k_min", &c.rm_k_min, "fewest responses ranked per prompt");
  o.add("rm_k_max", &c.rm_k_max, "most responses ranked per prompt");
  o.add("rm_labeler_prompts", &c.rm_labeler_prompts, "prompts the labelers write themselves for the RM's rankings");
  o.add("rm_rank_demonstration", &c.rm_rank_demonstration,
        "one of each prompt's ranked responses is a labeler's demonstration instead of an SFT sample");
  o.add("rankings_temperature", &c.temperature, "sampling temperature of the responses labelers rank");
  o.add("rm_cross_validation", &c.rm_cross_validation, "5-fold RM cross-validation over labeler groups");
  o.add("rm_cv_max_prompts", &c.rm_cv_max_prompts, "training prompts of each cross-validation fold's RM");
  o.add("ppo_reward", &c.ppo_reward, "rm (the reward model) | checker (the world's verdict: a diagnostic upper bound)");
  o.add("ppo_value_model", &c.ppo_value_model, "rm (the paper: the value model starts as the RM) | sft (a new head on SFT)");
  o.add("ppo_episodes", &c.ppo.total_episodes, "PPO episodes");
  o.add("ppo_rollout_batch_size", &c.ppo.rollout_batch_size, "episodes per PPO iteration");
  o.add("ppo_learning_rate", &c.ppo.train.learning_rate, "policy learning rate");
  o.add("ppo_temperature", &c.ppo.temperature, "PPO's sampling temperature (its log-probs are taken at it too)");
  o.add("ppo_advantage_estimator", &c.ppo.advantage_estimator,
        "gae (the paper: a value model) | rloo (leave-one-out over --ppo_samples_per_prompt; no value model)");
  o.add("ppo_samples_per_prompt", &c.ppo.n_samples_per_prompt, "responses sampled per prompt in a PPO rollout batch");
  o.add("ppo_epochs", &c.ppo.num_ppo_epochs, "passes over each rollout batch");
  o.add("ppo_mini_batches", &c.ppo.num_mini_batches, "minibatches per rollout batch");
  o.add("kl_coef", &c.ppo.kl_coef, "β");
  o.add("kl_coef_candidates", &c.kl_coef_candidates,
        "β values to choose from, comma-separated: PPO-ptx trained with each, the one the training labelers prefer "
        "to SFT most on validation prompts is used (\"\": --kl_coef)");
  o.add("ppo_learning_rate_candidates", &c.ppo_learning_rate_candidates,
        "PPO learning rates to choose from the same way (with --kl_coef_candidates: every pair)");
  o.add("ppo_select_prompts", &c.ppo_select_prompts,
        "validation prompts that choose PPO's settings among the candidates (0: all)");
  o.add("ptx_coef", &c.ppo.ptx_coef, "γ of PPO-ptx");
  o.add("ptx_ratio", &c.ppo.ptx_ratio, "pretraining windows per episode");
  o.add("eval_seeds", &c.eval_seeds,
        "PPO and PPO-ptx trained with this many seeds (seed, seed+1, ...); the evaluation reports each seed's task "
        "success and win rates against SFT, their mean and spread");
  o.add("ppo_curve_points", &c.ppo_curve_points,
        "PPO checkpoints kept per PPO stage, evenly spaced, for the over-optimisation curve (1: the last only)");
  o.add("ppo_ema_decay", &c.ppo.ema_decay, "> 0: PPO saves an EMA of the policy's weights");
  o.add("ppo_freezing_actor_steps", &c.ppo.freezing_actor_steps,
        "first PPO iterations that train the value model only (they count towards --ppo_episodes)");
  o.add("ppo_warmup_iterations", &c.ppo.train.warmup_steps, "PPO iterations of learning-rate warm-up");
  o.add("held_out_categories", &c.held_out_categories,
        "task categories kept out of SFT, RM and PPO data (e.g. extraction,rewrite); the evaluation reports success "
        "on their test prompts");
  o.add("sft_share", &c.sft_share, "share of the curated training prompts that labelers write demonstrations for");
  o.add("rm_share", &c.rm_share, "share of the curated training prompts whose samples labelers rank (PPO: the rest)");
  o.add("max_sft_prompts", &c.max_sft_prompts, "cap on SFT prompts");
  o.add("max_rm_prompts", &c.max_rm_prompts, "cap on RM prompts");
  o.add("max_ppo_prompts", &c.max_ppo_prompts, "cap on PPO prompts");
  o.add("max_eval_prompts", &c.max_eval_prompts, "cap on test prompts (0: all)");
  o.add("device", &c.device, "auto | cpu | cuda | cuda:N");
  o.add("run_eval", &c.run_eval, "finish with the evaluation and report");
  o.add("eval_test_prompts", &c.eval.test_prompts, "test prompts judged per model in the evaluation");
  o.add("eval_benchmark_items", &c.eval.benchmark_items, "items per benchmark suite in the evaluation");
  o.add("eval_curve_prompts", &c.eval.curve_prompts, "test prompts each PPO checkpoint of the over-optimisation curve is judged on");
}

void apply_preset(PipelineConfig& c) {
  c.world.preset = c.preset;
  if (c.preset == "demo") return;  // the defaults are the demo's
  if (c.preset == "paper") {
    // Three sizes, the analogue of the paper's 1.3B / 6B / 175B (about 1M, 5M and 20M parameters here).
    c.model_sizes = "small:128x4x4,medium:256x6x8,large:512x8x8", c.context_length = 192;
    c.pretrain_epochs = 3, c.sft_epochs = 8;
    c.pretrain_learning_rate = 2e-3, c.pretrain_batch_size = 32;  // the demo's 5e-3 is for its one small model
    c.max_sft_prompts = 13000 / 4, c.max_rm_prompts = 33000 / 8, c.max_ppo_prompts = 31000 / 8;
    c.rm_epochs = 1;  // the paper's: its RM data is 4x the demo's
    c.rm_k_max = 9, c.ppo.total_episodes = 8192, c.ppo.rollout_batch_size = 128, c.rm_cv_max_prompts = 2000;
    // The paper's PPO (PPO.md): γ 27.8 with 8 pretraining windows per episode, an EMA of the policy, 10 iterations of
    // warm-up.
    c.ppo.ptx_coef = 27.8, c.ppo.ptx_ratio = 8, c.ppo.ema_decay = 0.992, c.ppo.train.warmup_steps = 10;
    c.eval = eval::EvalOptions();  // the evaluation's full defaults, on every test prompt
    c.eval.test_prompts = 0;
    return;
  }
  fail("preset", "demo or paper", "'" + c.preset + "'");
}

std::vector<ModelSize> parse_model_sizes(const PipelineConfig& c) {
  if (c.model_sizes.empty()) return {{"", c.hidden_size, c.num_layers, c.num_heads}};
  std::vector<ModelSize> sizes;
  std::stringstream list(c.model_sizes);
  std::string item;
  while (std::getline(list, item, ',')) {
    ModelSize size;
    const size_t colon = item.find(':');
    char x1 = 0, x2 = 0;
    std::stringstream shape(colon == std::string::npos ? "" : item.substr(colon + 1));
    if (colon == 0 || colon == std::string::npos || !(shape >> size.hidden_size >> x1 >> size.num_layers >> x2 >> size.num_heads) ||
        x1 != 'x' || x2 != 'x' || !shape.eof() || size.hidden_size <= 0 || size.num_layers <= 0 || size.num_heads <= 0 ||
        size.hidden_size % size.num_heads != 0)
      fail("model_sizes", "NAME:HIDDENxLAYERSxHEADS[,...] with HIDDEN a multiple of HEADS (e.g. small:64x2x2)",
           "'" + item + "'");
    size.name = item.substr(0, colon);
    if (size.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
      fail("model_sizes", "size names of lower-case letters, digits and _", "'" + size.name + "'");
    for (const auto& earlier : sizes)
      if (earlier.name == size.name) fail("model_sizes", "distinct size names", "'" + size.name + "' twice");
    sizes.push_back(size);
  }
  if (sizes.empty()) fail("model_sizes", "at least one size", "'" + c.model_sizes + "'");
  return sizes;
}

int run_pipeline(const PipelineConfig& given) {
  PipelineConfig config = given;
  config.world.seed = config.seed, config.world.preset = config.preset;
  const std::vector<ModelSize> sizes = parse_model_sizes(config);  // before anything runs: a typo fails at once
  parse_packing_strategy(config.pretrain_packing, "--pretrain_packing");
  if (config.ppo_reward != "rm" && config.ppo_reward != "checker") fail("--ppo_reward", "rm or checker", config.ppo_reward);
  if (config.ppo_value_model != "rm" && config.ppo_value_model != "sft")
    fail("--ppo_value_model", "rm or sft", config.ppo_value_model);
  if (config.rm_k_min < 2 || config.rm_k_max < config.rm_k_min)
    fail("--rm_k_min/--rm_k_max", "2 <= rm_k_min <= rm_k_max",
         std::to_string(config.rm_k_min) + " and " + std::to_string(config.rm_k_max));
  if (config.rm_rank_demonstration && config.rm_k_min < 3)
    fail("--rm_k_min", "3 or more with --rm_rank_demonstration (a base-model response, a demonstration and a sample)",
         std::to_string(config.rm_k_min));
  if (config.rm_labeler_prompts < 0) fail("--rm_labeler_prompts", "0 or more", std::to_string(config.rm_labeler_prompts));
  if (config.rlhf_rounds < 1) fail("--rlhf_rounds", "1 or more", std::to_string(config.rlhf_rounds));
  check_ppo_candidates(config);  // a typo in a candidate list fails at once
  if (config.eval_seeds < 1) fail("--eval_seeds", "1 or more", std::to_string(config.eval_seeds));
  if (config.ppo_curve_points < 1) fail("--ppo_curve_points", "1 or more", std::to_string(config.ppo_curve_points));
  const HeldOutCategories held_out = HeldOutCategories::parse(config.held_out_categories);
  const RunPaths shared{config.output_dir, ""};
  make_dirs(shared.root);
  StageRunner runner(shared.root);
  // kStagesVersion changes when what a stage computes changes, so that runs of an older build are not reused.
  const json settings = {{"seed", config.seed}, {"preset", config.preset}, {"version", kStagesVersion}};
  auto with = [&](json extra) {
    extra.update(settings);
    return extra;
  };
  const PipelineConfig& c = config;
  json world_settings;
  world::to_json(world_settings, c.world);
  // Shared by every model size: the world, the tokenizer, the curated prompts and the labelers' demonstrations.
  runner.run("world", with({{"world", world_settings}}), {}, [&](StageCompute& k) { return stage_world(c, shared, k); },
             {shared.world()});
  runner.run("tokenizer", with({{"vocab", c.vocab_size}}), {"world"},
             [&](StageCompute& k) { return stage_tokenizer(c, shared, k); }, {shared.tokenizer()});
  json curate = with({{"shares", {c.sft_share, c.rm_share}},
                      {"caps", {c.max_sft_prompts, c.max_rm_prompts, c.max_ppo_prompts, c.max_eval_prompts}}});
  // Only when given: the demo's stages keep their keys. Every stage that trains comes after curate, so all re-run.
  if (!held_out.empty()) curate["held_out_categories"] = held_out.names();
  runner.run("curate", curate, {"world"}, [&](StageCompute& k) { return stage_curate(c, shared, k); }, {},
             {shared.world() + "/prompt_log.jsonl"});
  runner.run("demonstrations", with({{"labeler_prompts", c.labeler_prompts}}), {"curate"},
             [&](StageCompute& k) { return stage_demonstrations(c, shared, k); }, {},
             {shared.data("sft_prompts.jsonl")});

  // Per size (the paper's 1.3B / 6B / 175B): base model, SFT, rankings of its samples, RM, PPO, PPO-ptx. The RM
  // cross-validation over labeler groups runs for one size (the middle one; the paper's 6B RM).
  json per_size = json::object();
  std::vector<std::string> eval_after = {"curate"};
  for (size_t i = 0; i < sizes.size(); ++i) {
    PipelineConfig sc = config;
    sc.hidden_size = sizes[i].hidden_size, sc.num_layers = sizes[i].num_layers, sc.num_heads = sizes[i].num_heads;
    const RunPaths p{config.output_dir, sizes[i].name};
    auto name = [&](const std::string& stage) { return sizes[i].name.empty() ? stage : stage + "@" + sizes[i].name; };
    const json model = {{"vocab", sc.vocab_size}, {"hidden", sc.hidden_size}, {"layers", sc.num_layers},
                        {"heads", sc.num_heads}, {"context", sc.context_length}};
    runner.run(name("pretrain"),
               with({{"model", model}, {"epochs", sc.pretrain_epochs}, {"lr", sc.pretrain_learning_rate},
                     {"batch", sc.pretrain_batch_size}, {"packing", sc.pretrain_packing}}),
               {"tokenizer"}, [&](StageCompute& k) { return stage_pretrain(sc, p, k); }, {p.model("base")});
    json sft = with({{"epochs", sc.sft_epochs}, {"lr", sc.sft_learning_rate}});
    if (sc.group_by_length) sft["group_by_length"] = true;
    runner.run(name("sft"), sft,
               {name("pretrain"), "demonstrations"}, [&](StageCompute& k) { return stage_sft(sc, p, k); },
               {p.model("sft_run")}, {p.data("sft.jsonl")});
    runner.run(name("flan_sft"), with({{"lr", sc.sft_learning_rate}}), {name("pretrain")},
               [&](StageCompute& k) { return stage_flan_sft(sc, p, k); }, {p.model("flan_sft")});
    json rankings = with({{"k", {sc.rm_k_min, sc.rm_k_max}}, {"tokens", sc.max_new_tokens}});
    // Only when changed: the demo's stages keep their keys. It used to be missing, so a new --temperature reused
    // rankings sampled at the old one.
    if (sc.temperature != 1.0) rankings["temperature"] = sc.temperature;
    if (sc.rm_labeler_prompts > 0) rankings["labeler_prompts"] = sc.rm_labeler_prompts;
    if (sc.rm_rank_demonstration) rankings["demonstration"] = true;
    const Round first{1, sc.rlhf_rounds};
    runner.run(name("rankings"), rankings, {name("sft")},
               [&](StageCompute& k) { return stage_rankings(sc, p, k, first); });
    json rm = with({{"lr", sc.rm_learning_rate}});
    if (sc.rm_epochs != 1) rm["epochs"] = sc.rm_epochs;  // only when not 1: runs from when 1 was the default keep their keys
    if (sc.rm_lm_coef > 0) rm["lm_coef"] = sc.rm_lm_coef;
    if (sc.group_by_length) rm["group_by_length"] = true;
    json ppo = with({{"episodes", sc.ppo.total_episodes},
                     {"batch", sc.ppo.rollout_batch_size},
                     {"lr", sc.ppo.train.learning_rate},
                     {"vlr", sc.ppo.value_learning_rate},
                     {"kl", sc.ppo.kl_coef},
                     {"length", sc.ppo.response_length},
                     {"mini_batches", sc.ppo.num_mini_batches},
                     {"temperature", sc.ppo.temperature}});
    if (sc.ppo.num_ppo_epochs != 1) ppo["epochs"] = sc.ppo.num_ppo_epochs;
    if (sc.ppo_curve_points != 4) ppo["curve_points"] = sc.ppo_curve_points;
    if (sc.ppo.ema_decay > 0) ppo["ema"] = sc.ppo.ema_decay;  // only when set: the demo's stages keep their keys
    if (sc.ppo.advantage_estimator != "gae") ppo["advantage_estimator"] = sc.ppo.advantage_estimator;
    if (sc.ppo.n_samples_per_prompt != 1) ppo["samples_per_prompt"] = sc.ppo.n_samples_per_prompt;
    if (sc.ppo.freezing_actor_steps > 0) ppo["freezing_actor_steps"] = sc.ppo.freezing_actor_steps;
    if (sc.ppo.train.warmup_steps > 0) ppo["warmup"] = sc.ppo.train.warmup_steps;
    if (sc.ppo_reward != "rm") ppo["reward"] = sc.ppo_reward;
    if (sc.ppo_value_model != "rm") ppo["value_model"] = sc.ppo_value_model;
    // Rankings -> RM -> PPO, once (the paper) or --rlhf_rounds times (iterated RLHF: stage_bodies.h's Round).
    for (int64_t number = 1; number <= sc.rlhf_rounds; ++number) {
      const Round round{number, sc.rlhf_rounds};
      auto of_round = [&](json key) {  // a one-round run keeps the keys it always had
        if (round.of > 1) key["round"] = {round.number, round.of};
        return key;
      };
      if (number > 1)
        runner.run(name(round.rankings_stage()), of_round(rankings), {name(round.previous().ppo())},
                   [&](StageCompute& k) { return stage_rankings(sc, p, k, round); });
      runner.run(name(round.rm()), of_round(rm), {name(round.rankings_stage())},
                 [&](StageCompute& k) { return stage_reward_model(sc, p, k, round); }, {p.model(round.rm())},
                 {p.sized_data(round.rankings_file())});
      if (number == 1 && sc.rm_cross_validation && i == sizes.size() / 2) {
        json rm_cv = with({{"lr", sc.rm_learning_rate}, {"prompts", sc.rm_cv_max_prompts}});
        if (sc.rm_epochs != 1) rm_cv["epochs"] = sc.rm_epochs;
        if (sc.group_by_length) rm_cv["group_by_length"] = true;
        runner.run("rm_cv", rm_cv, {name("rankings")},
                   [&](StageCompute& k) { return stage_rm_cross_validation(sc, p, k); }, {p.model("rm_cv")});
        eval_after.push_back("rm_cv");
      }
      if (number == 1)
        runner.run(name("sft_select"), with({{"prompts", sc.select_prompts}}), {name(round.rm()), name("sft")},
                   [&](StageCompute& k) { return stage_sft_select(sc, p, k, first); }, {p.model("sft")});
      if (number == 1 && (!sc.kl_coef_candidates.empty() || !sc.ppo_learning_rate_candidates.empty())) {
        // PPO's settings from validation prompts and training labelers, once, on round 1's RM; every PPO stage after
        // trains with them.
        json select = ppo;
        select["candidates"] = {sc.kl_coef_candidates, sc.ppo_learning_rate_candidates};
        select["prompts"] = sc.ppo_select_prompts;
        select["ptx"] = {sc.ppo.ptx_coef, sc.ppo.ptx_ratio};
        runner.run(name("ppo_select"), select, {name(round.rm()), name("sft_select")},
                   [&](StageCompute& k) { return stage_ppo_select(sc, p, k); }, {p.model("ppo_select")},
                   {p.data("validation.jsonl")});
        const json& chosen = runner.summary(name("ppo_select"));
        sc.ppo.kl_coef = chosen.at("chosen_kl_coef").get<double>();
        sc.ppo.train.learning_rate = chosen.at("chosen_learning_rate").get<double>();
        ppo["kl"] = sc.ppo.kl_coef, ppo["lr"] = sc.ppo.train.learning_rate;
      }
      std::vector<std::string> ppo_after = {name("sft_select")};
      if (number > 1) ppo_after.push_back(name(round.rm()));
      runner.run(name(round.ppo()), of_round(ppo), ppo_after,
                 [&](StageCompute& k) { return stage_ppo(sc, p, k, false, round); }, {p.model(round.ppo())},
                 {p.data("ppo_prompts.jsonl")});
    }
    const Round last{sc.rlhf_rounds, sc.rlhf_rounds};
    json ppo_ptx = ppo;
    if (last.of > 1) ppo_ptx["round"] = {last.number, last.of};
    ppo_ptx["ptx"] = {sc.ppo.ptx_coef, sc.ppo.ptx_ratio};
    std::vector<std::string> ppo_ptx_after = {name("sft_select")};
    if (last.of > 1) ppo_ptx_after.push_back(name("rm"));
    runner.run(name("ppo_ptx"), ppo_ptx, ppo_ptx_after,
               [&](StageCompute& k) { return stage_ppo(sc, p, k, true, last); }, {p.model("ppo_ptx")},
               {p.data("ppo_prompts.jsonl")});
    // --eval_seeds N: PPO and PPO-ptx again with seeds 2..N on the same SFT model and RM (the evaluation reports the
    // spread of what they reach); seed 1's are the run's models.
    for (int64_t seed_number = 2; seed_number <= sc.eval_seeds; ++seed_number) {
      for (const bool with_ptx : {false, true}) {
        json key = with_ptx ? ppo_ptx : ppo;
        key["seed_number"] = seed_number;
        if (last.of > 1) key["round"] = {last.number, last.of};
        const std::string stage = name((with_ptx ? "ppo_ptx" : "ppo") + seed_suffix(seed_number));
        runner.run(stage, key, {name("sft_select"), name("rm")},
                   [&](StageCompute& k) { return stage_ppo(sc, p, k, with_ptx, last, seed_number); },
                   {p.model((with_ptx ? "ppo_ptx" : "ppo") + seed_suffix(seed_number))}, {p.data("ppo_prompts.jsonl")});
        eval_after.push_back(stage);
      }
    }
    per_size[sizes[i].name.empty() ? "all" : sizes[i].name] = {{"rm", runner.summary(name("rm"))},
                                                               {"rankings", runner.summary(name("rankings"))}};
    for (const std::string stage : {"ppo", "ppo_ptx", "flan_sft"}) eval_after.push_back(name(stage));
  }
  runner.write_compute(shared.root + "/compute.json");  // the evaluation reads the training stages' compute
  json report = json::object();
  if (c.run_eval) {
    json eval_settings = {{"test_prompts", c.eval.test_prompts},
                          {"benchmark_items", c.eval.benchmark_items},
                          {"toxicity", {c.eval.toxicity_prompts, c.eval.toxicity_samples}},
                          {"tokens", c.eval.max_new_tokens},
                          {"real_data_items", c.eval.real_data_items},
                          // What the evaluation reports (2: goals, rm_name_swap; 3: idk on unanswerable items,
                          // length-controlled win rates, benchmark_responses.jsonl; 4: the over-optimisation curves):
                          // a new one re-runs the evaluation of an existing run, and only it.
                          {"curve_prompts", c.eval.curve_prompts},
                          {"report_version", 4}};
    if (c.eval_seeds > 1) eval_settings["seeds"] = c.eval_seeds;  // only when given: the demo's stages keep their keys
    runner.run("eval", with(eval_settings), eval_after, [&](StageCompute& k) { return stage_report(c, shared, k); },
               {shared.root + "/report"});
    runner.write_compute(shared.root + "/compute.json");
    report = runner.summary("eval");
  }
  print_headlines(per_size, report);
  std::printf("run directory: %s\n", shared.root.c_str());
  return 0;
}

}  // namespace rlhf::pipeline
