#include "train/reward.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/metrics.h"
#include "common/progress.h"
#include "data/formats.h"
#include "infer/batch.h"
#include "infer/scoring.h"
#include "io/model_dir.h"
#include "tokenizer/tokenizer.h"
#include "train/distributed.h"
#include "train/losses.h"
#include "train/memory.h"

namespace rlhf {

using json = nlohmann::json;

void bind_reward_options(Options& o, RewardOptions& r) {
  bind_training_options(o, r.train);
  o.add("model_name_or_path", &r.model_name_or_path, "SFT model directory to start from");
  o.add("tokenizer", &r.tokenizer, "tokenizer path (default: the model directory)");
  o.add("dataset", &r.dataset, "rankings JSONL");
  o.add("eval_dataset", &r.eval_dataset, "held-out rankings JSONL (optional)");
  o.add("eval_fraction", &r.eval_fraction, "share of dataset held out when there is no eval_dataset");
  o.add("normalize_dataset", &r.normalize_dataset, "demonstrations whose mean reward is shifted to 0");
  o.add("prompt_format", &r.prompt_format, "plain | hh | chatml | llama3 | zephyr | chat");
  o.add("quiet", &r.quiet, "no progress bar");
}

namespace {

// One prompt's K responses as sequences, and its comparisons.
struct RankedPrompt {
  std::vector<Sequence> responses;
  std::vector<std::pair<int, int>> pairs;
};

std::vector<RankedPrompt> encode_rankings(const std::vector<RankingExample>& examples, const Tokenizer& tokenizer,
                                          const PromptFormat& format, const TrainingOptions& t, TruncationCounts& counts) {
  std::vector<RankedPrompt> out;
  const TruncationPolicy policy = parse_truncation_policy(t.truncation);
  for (const auto& ex : examples) {
    RankedPrompt rp;
    bool all_kept = true;
    for (const auto& response : ex.responses) {
      bool kept = true;
      rp.responses.push_back(encode_pair(tokenizer, format, ex.prompt, response, static_cast<size_t>(t.max_length),
                                         policy, counts, &kept));
      all_kept = all_kept && kept;
    }
    for (const auto& c : comparisons(ex)) rp.pairs.emplace_back(c.winner, c.loser);
    if (all_kept && !rp.pairs.empty()) out.push_back(std::move(rp));
  }
  return out;
}

struct Scored {
  RankingLoss loss;
  int64_t sequences = 0, tokens = 0;
};

Scored score_batch(TransformerImpl& model, const std::vector<const RankedPrompt*>& prompts, int64_t pad_id,
                   torch::Device device) {
  std::vector<const Sequence*> rows;
  std::vector<int64_t> offsets;
  std::vector<std::vector<std::pair<int, int>>> pairs;
  for (const auto* p : prompts) {
    offsets.push_back(static_cast<int64_t>(rows.size()));
    for (const auto& s : p->responses) rows.push_back(&s);
    pairs.push_back(p->pairs);
  }
  auto batch = pad_right(rows, pad_id, device);
  auto rewards = score_at_last_token(model, batch.ids, batch.attention);  // K forwards per prompt, one batch
  Scored out{ranking_loss_batch(rewards, offsets, pairs), static_cast<int64_t>(rows.size()),
             batch.attention.sum().item<int64_t>()};
  return out;
}

double held_out_accuracy(TransformerImpl& model, const std::vector<RankedPrompt>& data, int64_t batch, int64_t pad_id,
                         torch::Device device, int64_t* pairs) {
  torch::NoGradGuard no_grad;
  int64_t correct = 0, total = 0;
  for (size_t start = 0; start < data.size(); start += static_cast<size_t>(batch)) {
    std::vector<const RankedPrompt*> prompts;
    for (size_t i = start; i < std::min(data.size(), start + static_cast<size_t>(batch)); ++i) prompts.push_back(&data[i]);
    auto s = score_batch(model, prompts, pad_id, device);
    correct += s.loss.correct, total += s.loss.pairs;
  }
  *pairs = total;
  return total > 0 ? static_cast<double>(correct) / static_cast<double>(total) : -1;
}

}  // namespace

RewardResult run_reward_training(const RewardOptions& o) {
  const TrainingOptions& t = o.train;
  check(!t.output_dir.empty(), "rm: --output_dir is required");
  check(!o.dataset.empty(), "rm: --dataset is required");
  check(!o.model_name_or_path.empty(), "rm: --model_name_or_path (the SFT model) is required");
  validate_training_options(t, "rm");
  DataParallel dp(t, "rm");
  const torch::Device device = dp.device(pick_device(t.device));
  torch::manual_seed(static_cast<uint64_t>(t.seed));
  const std::string tokenizer_path = !o.tokenizer.empty() ? o.tokenizer : o.model_name_or_path;
  auto tokenizer = load_tokenizer(tokenizer_path);
  const PromptFormat format = PromptFormat::from_name(o.prompt_format, o.model_name_or_path);
  const int64_t pad_id = std::max<int64_t>(0, tokenizer->pad_id() >= 0 ? tokenizer->pad_id() : tokenizer->eos_id());

  // The SFT model with its unembedding replaced by a scalar head (a reward model given as input keeps its head).
  Transformer source = load_model(o.model_name_or_path, LoadOptions{torch::kFloat32, device});
  check_model_fits_tokenizer(source->config(), o.model_name_or_path, tokenizer->vocab_size(), tokenizer_path, "rm");
  Transformer model = source->has_score_head() ? source : copy_with_heads(*source, false, true);
  source = Transformer{nullptr};

  JsonlOptions jsonl{t.skip_invalid_lines};
  ReadReport report;
  auto examples = read_ranking_examples(o.dataset, jsonl, &report);
  std::vector<RankingExample> eval_examples;
  if (!o.eval_dataset.empty()) {
    eval_examples = read_ranking_examples(o.eval_dataset, jsonl);
  } else if (o.eval_fraction > 0) {
    // Hold out the last share of a seeded shuffle.
    auto order = epoch_order(examples.size(), t.seed, -1);
    const size_t held = static_cast<size_t>(o.eval_fraction * static_cast<double>(examples.size()));
    std::vector<RankingExample> kept;
    for (size_t i = 0; i < order.size(); ++i) (i < order.size() - held ? kept : eval_examples).push_back(examples[order[i]]);
    examples.swap(kept);
  }
  TruncationCounts counts;
  auto train = encode_rankings(examples, *tokenizer, format, t, counts);
  auto eval = encode_rankings(eval_examples, *tokenizer, format, t, counts);
  check_some_examples_fit(counts.kept, counts.truncated, counts.dropped, o.dataset,
                          "--max_length " + std::to_string(t.max_length) + " tokens", "rm");
  check(!train.empty(), "rm: " + o.dataset + " gave no usable rankings");
  size_t longest = 0;
  for (const auto* set : {&train, &eval})
    for (const auto& ranked : *set)
      for (const auto& s : ranked.responses) longest = std::max(longest, s.ids.size());
  check_fits_positions(model->config(), o.model_name_or_path, longest, "rm");
  if (!o.quiet && dp.is_main())
    std::fprintf(stderr, "rm: %s; %zu train / %zu held-out prompts; truncation: %s\n", report.summary().c_str(),
                 train.size(), eval.size(), counts.summary().c_str());

  const int64_t batch = t.per_device_train_batch_size, accumulation = t.gradient_accumulation_steps;
  const int64_t global_batch = batch * dp.world_size();  // N ranks × b prompts: the same steps as one process with N·b
  const int64_t micro_per_epoch = (static_cast<int64_t>(train.size()) + global_batch - 1) / global_batch;
  const int64_t steps_per_epoch = std::max<int64_t>(1, micro_per_epoch / accumulation);
  const int64_t total_steps = t.max_steps > 0 ? t.max_steps : steps_per_epoch * t.num_train_epochs;
  const int64_t epochs = (total_steps + steps_per_epoch - 1) / steps_per_epoch;

  model->train();
  prepare_trained_model(*model, t.memory, t.dtype, true, o.model_name_or_path);
  auto optimizer = make_adamw(trainable_parameters(*model), t, t.learning_rate);
  Checkpointable what{{{"model", model.get()}}, {{"optimizer", optimizer.get()}}, {}};
  int64_t step = 0, start_epoch = 0, start_micro = 0;
  // The logging window is part of the state, so that a resumed run logs the same means as an uninterrupted one.
  double window_loss = 0;
  int64_t window_steps = 0, window_correct = 0, window_pairs = 0;
  int64_t metrics_lines = -1;  // metrics.jsonl lines written when the checkpoint was taken (-1: not recorded)
  if (t.resume_from_checkpoint) {
    if (auto state = load_latest_checkpoint(t.output_dir, what, {"epoch", "micro_batch"})) {
      metrics_lines = state->value("metrics_lines", int64_t{-1});
      step = (*state)["step"].get<int64_t>();
      start_epoch = (*state)["epoch"].get<int64_t>();
      start_micro = (*state)["micro_batch"].get<int64_t>();
      window_loss = state->value("window_loss", 0.0);
      window_steps = state->value("window_steps", int64_t{0});
      window_correct = state->value("window_correct", int64_t{0});
      window_pairs = state->value("window_pairs", int64_t{0});
    }
  }
  dp.attach(trainable_parameters(*model), *optimizer);
  make_dirs(t.output_dir);
  std::optional<MetricsLogger> logger;  // rank 0 alone logs
  if (dp.is_main())
    logger.emplace(t.output_dir, t.resume_from_checkpoint ? std::optional<int64_t>(step) : std::nullopt,
                   metrics_lines >= 0 ? std::optional<int64_t>(metrics_lines) : std::nullopt);
  ProgressOptions progress_options;
  progress_options.initial_step = step;
  if (o.quiet || !dp.is_main()) progress_options.plain_interval_s = 1e9;
  ProgressBar progress("rm", total_steps, progress_options);
  install_interrupt_handlers();
  AutocastGuard autocast(device, t.dtype);
  BadStepGuard guard(t.max_bad_steps);

  RewardResult result;
  auto checkpoint = [&](int64_t epoch, int64_t micro) {
    dp.checkpoint([&] {
      save_checkpoint(t.output_dir, step, what,
                      {{"epoch", epoch}, {"micro_batch", micro}, {"window_loss", window_loss}, {"window_steps", window_steps},
                       {"metrics_lines", logger->lines_written()},
                       {"window_correct", window_correct}, {"window_pairs", window_pairs}},
                      t.save_total_limit);
    });
  };
  for (int64_t epoch = start_epoch; epoch < epochs && step < total_steps; ++epoch) {
    const auto order = epoch_order(train.size(), t.seed, epoch);
    double step_loss = 0;
    int64_t step_correct = 0, step_pairs = 0;
    for (int64_t micro = epoch == start_epoch ? start_micro : 0; micro < steps_per_epoch * accumulation; ++micro) {
      if (micro * global_batch >= static_cast<int64_t>(order.size())) break;
      std::vector<const RankedPrompt*> prompts;
      const auto [first, last] = dp.rows(micro, batch, static_cast<int64_t>(order.size()));
      for (int64_t i = first; i < last; ++i) prompts.push_back(&train[order[static_cast<size_t>(i)]]);
      // The loss is a mean over this rank's prompts: rescaled so that the averaged gradient is the global mean's.
      const double scale = dp.loss_scale(static_cast<double>(prompts.size()));  // 1 with one process
      if (!prompts.empty()) {
        auto scored = score_batch(*model, prompts, pad_id, device);
        (scored.loss.loss * scale / static_cast<double>(accumulation)).backward();
        step_loss += scored.loss.loss.item<double>() * scale / static_cast<double>(accumulation) /
                     static_cast<double>(dp.world_size());
        step_correct += scored.loss.correct, step_pairs += scored.loss.pairs;
        result.sequences_scored += scored.sequences;
        result.tokens_trained += scored.tokens;
      }
      if ((micro + 1) % accumulation != 0) continue;

      // The global loss, accuracy counts and any rank's interrupt, in one all-reduce; then the gradients.
      const auto global = dp.sum({step_loss, static_cast<double>(step_correct), static_cast<double>(step_pairs),
                                  interrupt_requested() ? 1.0 : 0.0});
      step_loss = global[0];
      window_correct += static_cast<int64_t>(global[1]), window_pairs += static_cast<int64_t>(global[2]);
      step_correct = 0, step_pairs = 0;
      const bool any_rank_interrupted = global[3] > 0;
      dp.average_gradients();

      const double lr = scheduled_learning_rate(t, t.learning_rate, step, total_steps);
      set_learning_rate(*optimizer, lr);
      const double grad_norm =
          t.max_grad_norm > 0 ? torch::nn::utils::clip_grad_norm_(model->parameters(), t.max_grad_norm) : 0.0;
      if (guard.check(step_loss, grad_norm, step + 1, t.output_dir)) dp.optimizer_step();
      optimizer->zero_grad();
      ++step;
      dp.check_parameters(step);
      window_loss += step_loss, ++window_steps;
      progress.update(step, {{"loss", step_loss}});
      if (step % t.logging_steps == 0 || step == total_steps) {
        result.train_loss = window_loss / static_cast<double>(window_steps);
        result.train_accuracy = static_cast<double>(window_correct) / static_cast<double>(std::max<int64_t>(1, window_pairs));
        if (logger)
          logger->log(step, {{"loss", result.train_loss}, {"accuracy", result.train_accuracy}, {"learning_rate", lr},
                             {"grad_norm", grad_norm}, {"skipped_steps", static_cast<double>(guard.skipped())}});
        window_loss = 0, window_steps = 0, window_correct = 0, window_pairs = 0;
      }
      step_loss = 0;
      const bool last_micro = micro + 1 == steps_per_epoch * accumulation;
      if (dp.active() ? any_rank_interrupted : interrupt_requested()) {
        checkpoint(last_micro ? epoch + 1 : epoch, last_micro ? 0 : micro + 1);
        progress.finish();
        throw Interrupted();
      }
      if (t.save_steps > 0 && step % t.save_steps == 0) checkpoint(last_micro ? epoch + 1 : epoch, last_micro ? 0 : micro + 1);
      if (step >= total_steps) break;
    }
    checkpoint(epoch + 1, 0);
  }
  progress.finish();
  model->eval();
  if (!dp.is_main()) {  // rank 0 evaluates and writes the model
    result.steps = step;
    return result;
  }
  if (!eval.empty()) {
    result.eval_accuracy = held_out_accuracy(*model, eval, batch, pad_id, device, &result.eval_pairs);
    logger->log(step, {{"eval_accuracy", result.eval_accuracy}});
  }
  if (!o.normalize_dataset.empty()) {
    std::vector<std::string> prompts, responses;
    for (const auto& ex : read_sft_examples(o.normalize_dataset, jsonl)) {
      if (ex.is_chat()) continue;
      prompts.push_back(ex.prompt), responses.push_back(ex.completion);
    }
    auto raw = score_texts(*model, *tokenizer, format, prompts, responses, 0.0, batch * 4, t.max_length);
    double sum = 0;
    for (double r : raw) sum += r;
    result.reward_offset = raw.empty() ? 0.0 : sum / static_cast<double>(raw.size());
  }
  save_model(*model, t.output_dir);
  copy_tokenizer_files(tokenizer_path, t.output_dir);
  save_reward_offset(t.output_dir, result.reward_offset);
  result.steps = step;
  return result;
}

}  // namespace rlhf
