#include "pipeline/pipeline.h"

#include <cstdio>
#include <filesystem>

#include "common/error.h"
#include "common/files.h"
#include "pipeline/stage_bodies.h"

namespace rlhf::pipeline {

using json = nlohmann::json;

constexpr int kStagesVersion = 2;

void bind_pipeline_options(Options& o, PipelineConfig& c) {
  o.add("preset", &c.preset, "demo | paper");
  o.add("output_dir", &c.output_dir, "the run directory");
  o.add("seed", &c.seed, "seed of the world and of every stage");
  o.add("vocab_size", &c.vocab_size, "BPE vocabulary of the base model");
  o.add("hidden_size", &c.hidden_size, "base model width");
  o.add("num_layers", &c.num_layers, "base model depth");
  o.add("num_heads", &c.num_heads, "attention heads");
  o.add("context_length", &c.context_length, "longest sequence");
  o.add("pretrain_epochs", &c.pretrain_epochs, "passes over the world's corpus");
  o.add("pretrain_learning_rate", &c.pretrain_learning_rate, "pretraining learning rate");
  o.add("sft_epochs", &c.sft_epochs, "SFT epochs (one model kept per epoch)");
  o.add("sft_learning_rate", &c.sft_learning_rate, "SFT learning rate");
  o.add("rm_learning_rate", &c.rm_learning_rate, "reward model learning rate");
  o.add("rm_k_min", &c.rm_k_min, "fewest responses ranked per prompt");
  o.add("rm_k_max", &c.rm_k_max, "most responses ranked per prompt");
  o.add("rm_cross_validation", &c.rm_cross_validation, "5-fold RM cross-validation over labeler groups");
  o.add("rm_cv_max_prompts", &c.rm_cv_max_prompts, "training prompts of each cross-validation fold's RM");
  o.add("ppo_episodes", &c.ppo_episodes, "PPO episodes");
  o.add("ppo_rollout_batch_size", &c.ppo_rollout_batch_size, "episodes per PPO iteration");
  o.add("ppo_learning_rate", &c.ppo_learning_rate, "policy learning rate");
  o.add("kl_coef", &c.kl_coef, "β");
  o.add("ptx_coef", &c.ptx_coef, "γ of PPO-ptx");
  o.add("ptx_ratio", &c.ptx_ratio, "pretraining windows per episode");
  o.add("max_sft_prompts", &c.max_sft_prompts, "cap on SFT prompts");
  o.add("max_rm_prompts", &c.max_rm_prompts, "cap on RM prompts");
  o.add("max_ppo_prompts", &c.max_ppo_prompts, "cap on PPO prompts");
  o.add("max_eval_prompts", &c.max_eval_prompts, "cap on test prompts");
  o.add("device", &c.device, "auto | cpu | cuda | cuda:N");
  o.add("run_eval", &c.run_eval, "finish with the evaluation and report");
  o.add("eval_test_prompts", &c.eval.test_prompts, "test prompts judged per model in the evaluation");
  o.add("eval_benchmark_items", &c.eval.benchmark_items, "items per benchmark suite in the evaluation");
  world::bind_options(o, c.world);
}

void apply_preset(PipelineConfig& c) {
  c.world.preset = c.preset;
  if (c.preset == "demo") return;  // the defaults are the demo's
  if (c.preset == "paper") {
    c.hidden_size = 256, c.num_layers = 6, c.num_heads = 8, c.context_length = 192;
    c.pretrain_epochs = 3, c.sft_epochs = 8;
    c.max_sft_prompts = 13000 / 4, c.max_rm_prompts = 33000 / 8, c.max_ppo_prompts = 31000 / 8,
    c.max_eval_prompts = 400;
    c.rm_k_max = 9, c.ppo_episodes = 8192, c.ppo_rollout_batch_size = 128, c.rm_cv_max_prompts = 2000;
    c.eval = eval::EvalOptions();  // the evaluation's full defaults
    return;
  }
  fail("preset", "demo or paper", "'" + c.preset + "'");
}

int run_pipeline(const PipelineConfig& c) {
  RunPaths p{c.output_dir};
  make_dirs(p.root);
  StageRunner runner(p.root);
  // kStagesVersion changes when what a stage computes changes, so that runs of an older build are not reused.
  json settings = {{"seed", c.seed}, {"preset", c.preset}, {"version", kStagesVersion}};
  json world_settings;
  world::to_json(world_settings, c.world);
  json model = {{"vocab", c.vocab_size},
                {"hidden", c.hidden_size},
                {"layers", c.num_layers},
                {"heads", c.num_heads},
                {"context", c.context_length}};
  auto with = [&](json extra) {
    extra.update(settings);
    return extra;
  };
  runner.run("world", with({{"world", world_settings}}), {}, [&](StageCompute& k) { return stage_world(c, p, k); },
             {p.world()});
  runner.run("tokenizer", with({{"vocab", c.vocab_size}}), {"world"},
             [&](StageCompute& k) { return stage_tokenizer(c, p, k); }, {p.tokenizer()});
  runner.run("pretrain", with({{"model", model}, {"epochs", c.pretrain_epochs}, {"lr", c.pretrain_learning_rate}}),
             {"tokenizer"}, [&](StageCompute& k) { return stage_pretrain(c, p, k); }, {p.model("base")});
  runner.run("curate",
             with({{"shares", {c.sft_share, c.rm_share}},
                   {"caps", {c.max_sft_prompts, c.max_rm_prompts, c.max_ppo_prompts, c.max_eval_prompts}}}),
             {"world"}, [&](StageCompute& k) { return stage_curate(c, p, k); });
  runner.run("demonstrations", settings, {"curate"}, [&](StageCompute& k) { return stage_demonstrations(c, p, k); });
  runner.run("sft", with({{"epochs", c.sft_epochs}, {"lr", c.sft_learning_rate}}), {"pretrain", "demonstrations"},
             [&](StageCompute& k) { return stage_sft(c, p, k); }, {p.model("sft_run")});
  runner.run("flan_sft", with({{"lr", c.sft_learning_rate}}), {"pretrain"},
             [&](StageCompute& k) { return stage_flan_sft(c, p, k); }, {p.model("flan_sft")});
  runner.run("rankings", with({{"k", {c.rm_k_min, c.rm_k_max}}, {"tokens", c.max_new_tokens}}), {"sft"},
             [&](StageCompute& k) { return stage_rankings(c, p, k); });
  runner.run("rm", with({{"lr", c.rm_learning_rate}}), {"rankings"},
             [&](StageCompute& k) { return stage_reward_model(c, p, k); }, {p.model("rm")});
  if (c.rm_cross_validation)
    runner.run("rm_cv", with({{"lr", c.rm_learning_rate}, {"prompts", c.rm_cv_max_prompts}}), {"rankings"},
               [&](StageCompute& k) { return stage_rm_cross_validation(c, p, k); }, {p.model("rm_cv")});
  runner.run("sft_select", with({{"prompts", c.select_prompts}}), {"rm", "sft"},
             [&](StageCompute& k) { return stage_sft_select(c, p, k); }, {p.model("sft")});
  json ppo = with({{"episodes", c.ppo_episodes},
                   {"batch", c.ppo_rollout_batch_size},
                   {"lr", c.ppo_learning_rate},
                   {"vlr", c.ppo_value_learning_rate},
                   {"kl", c.kl_coef},
                   {"length", c.ppo_response_length},
                   {"mini_batches", c.ppo_mini_batches},
                   {"temperature", c.temperature}});
  runner.run("ppo", ppo, {"sft_select"}, [&](StageCompute& k) { return stage_ppo(c, p, k, false); }, {p.model("ppo")});
  ppo["ptx"] = {c.ptx_coef, c.ptx_ratio};
  runner.run("ppo_ptx", ppo, {"sft_select"}, [&](StageCompute& k) { return stage_ppo(c, p, k, true); },
             {p.model("ppo_ptx")});
  runner.write_compute(p.root + "/compute.json");  // the evaluation reads the training stages' compute
  json report = json::object();
  if (c.run_eval) {
    json eval_settings = {{"test_prompts", c.eval.test_prompts},
                          {"benchmark_items", c.eval.benchmark_items},
                          {"toxicity", {c.eval.toxicity_prompts, c.eval.toxicity_samples}},
                          {"tokens", c.eval.max_new_tokens},
                          {"real_data_items", c.eval.real_data_items}};
    std::vector<std::string> after = {"ppo", "ppo_ptx", "flan_sft", "pretrain"};
    if (c.rm_cross_validation) after.push_back("rm_cv");
    runner.run("eval", with(eval_settings), after, [&](StageCompute& k) { return stage_report(c, p, k); },
               {p.root + "/report"});
    runner.write_compute(p.root + "/compute.json");
    report = runner.summary("eval");
  }
  print_headlines(runner.summary("rm"), runner.summary("rankings"), report);
  std::printf("run directory: %s\n", p.root.c_str());
  return 0;
}

}  // namespace rlhf::pipeline
