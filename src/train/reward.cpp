#include "train/reward.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "data/formats.h"
#include "infer/batch.h"
#include "infer/scoring.h"
#include "io/hf_cache.h"
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
  o.add("dataset", &r.dataset, "rankings JSONL (a folder: as dataset_name)");
  o.add("eval_dataset", &r.eval_dataset, "held-out rankings JSONL (optional; a folder: its dataset_test_split)");
  o.add("eval_fraction", &r.eval_fraction, "share of dataset held out when there is no eval_dataset");
  o.add("normalize_dataset", &r.normalize_dataset, "demonstrations whose mean reward is shifted to 0");
  o.add("prompt_format", &r.prompt_format, "plain | hh | chatml | llama3 | zephyr | chat");
  o.add("lm_coef", &r.lm_coef, "> 0: plus lm_coef x the LM loss of each prompt's best-ranked response (0: the paper)");
  o.add("quiet", &r.quiet, "no progress bar");
  bind_trl_reward_names(o);
}

namespace {

// One prompt's K responses as sequences, and its comparisons.
struct RankedPrompt {
  std::vector<Sequence> responses;
  std::vector<std::pair<int, int>> pairs;
  int best = 0;  // a response ranked first (the auxiliary LM loss's target)
};

// Comparisons between two identical texts (chosen = rejected) teach nothing true: the model gives both one reward, so
// such a pair pulls the loss to log 2 whatever the weights. They are left out and counted (`identical`); a ranking with
// no other comparison is left out too.
std::vector<RankedPrompt> encode_rankings(const std::vector<RankingExample>& examples, const Tokenizer& tokenizer,
                                          const PromptFormat& format, const TrainingOptions& t, TruncationCounts& counts,
                                          size_t* identical) {
  std::vector<RankedPrompt> out;
  const TruncationPolicy policy = parse_truncation_policy(t.truncation);
  for (const auto& ex : examples) {
    RankedPrompt rp;
    bool all_kept = true;
    for (const auto& response : ex.responses) {
      bool kept = true;
      const size_t max_length = static_cast<size_t>(t.max_length);
      rp.responses.push_back(ex.is_chat()
                                 ? encode_pair(tokenizer, format, ex.prompt_messages, response, max_length, policy, counts, &kept)
                                 : encode_pair(tokenizer, format, ex.prompt, response, max_length, policy, counts, &kept));
      all_kept = all_kept && kept;
    }
    for (size_t i = 0; i < ex.ranks.size(); ++i)
      if (ex.ranks[i] < ex.ranks[static_cast<size_t>(rp.best)]) rp.best = static_cast<int>(i);
    for (const auto& c : comparisons(ex)) {
      if (ex.responses[static_cast<size_t>(c.winner)] == ex.responses[static_cast<size_t>(c.loser)]) ++*identical;
      else rp.pairs.emplace_back(c.winner, c.loser);
    }
    if (all_kept && !rp.pairs.empty()) out.push_back(std::move(rp));
  }
  return out;
}

struct Scored {
  RankingLoss loss;
  int64_t sequences = 0, tokens = 0;
};

Scored score_batch(TransformerImpl& model, const std::vector<const RankedPrompt*>& prompts, int64_t pad_id,
                   torch::Device device, double lm_coef = 0.0) {
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
  if (lm_coef > 0) {  // RewardOptions::lm_coef: the best responses' mean per-token NLL, their prompts unscored
    std::vector<const Sequence*> best;
    for (const auto* p : prompts) best.push_back(&p->responses[static_cast<size_t>(p->best)]);
    out.loss.loss = out.loss.loss + lm_coef * language_model_loss(model, pad_right(best, pad_id, device));
  }
  return out;
}

// TRL's reward evaluation over the held-out rankings: the loss (mean over prompts), accuracy (share of comparisons with
// r(y_w) > r(y_l)) and margin (mean r(y_w) − r(y_l)); `pairs` the comparisons counted.
Scalars held_out_evaluation(TransformerImpl& model, const std::vector<RankedPrompt>& data, int64_t batch, int64_t pad_id,
                            torch::Device device, int64_t* pairs) {
  torch::NoGradGuard no_grad;
  int64_t correct = 0, total = 0;
  double loss = 0, margin = 0;
  for (size_t start = 0; start < data.size(); start += static_cast<size_t>(batch)) {
    std::vector<const RankedPrompt*> prompts;
    for (size_t i = start; i < std::min(data.size(), start + static_cast<size_t>(batch)); ++i) prompts.push_back(&data[i]);
    auto s = score_batch(model, prompts, pad_id, device);
    correct += s.loss.correct, total += s.loss.pairs, margin += s.loss.margin_sum;
    loss += s.loss.loss.item<double>() * static_cast<double>(prompts.size());
  }
  *pairs = total;
  const double comparisons = std::max<double>(1, static_cast<double>(total));
  return {{"loss", loss / std::max<double>(1, static_cast<double>(data.size()))},
          {"accuracy", total > 0 ? static_cast<double>(correct) / comparisons : -1},
          {"margin", margin / comparisons}};
}

}  // namespace

RewardResult run_reward_training(const RewardOptions& given) {
  RewardOptions o = given;
  o.model_name_or_path = resolve_model_path(o.model_name_or_path);
  const DatasetFiles files = resolve_trl_options(o.train, o.dataset, &o.eval_dataset, "rm");
  const TrainingOptions& t = o.train;
  check(!t.output_dir.empty(), "rm: --output_dir is required");
  check(!o.dataset.empty(), "rm: --dataset is required");
  check(!o.model_name_or_path.empty(), "rm: --model_name_or_path (the SFT model) is required");
  validate_training_options(t, "rm");
  DataParallel dp(t, "rm");
  const auto output_lock = claim_output_dir(t, dp);  // held until the models are written
  const torch::Device device = dp.device(pick_device(t.device));
  torch::manual_seed(static_cast<uint64_t>(t.seed));
  const std::string tokenizer_path = !o.tokenizer.empty() ? o.tokenizer : o.model_name_or_path;
  auto tokenizer = load_tokenizer(tokenizer_path);
  const PromptFormat format = PromptFormat::from_name(o.prompt_format, o.model_name_or_path);
  const int64_t pad_id = pad_id_of(*tokenizer);

  // The SFT model with its unembedding replaced by a scalar head (a reward model given as input keeps its head).
  Transformer source = load_model(o.model_name_or_path, LoadOptions{torch::kFloat32, device});
  check_model_fits_tokenizer(source->config(), o.model_name_or_path, tokenizer->vocab_size(), tokenizer_path, "rm");
  const bool with_lm = o.lm_coef > 0;
  if (with_lm && !source->has_lm_head())
    fail("rm: --lm_coef", "a model with an LM head to start from (an SFT model)",
         o.model_name_or_path + " (a reward model without one)");
  Transformer model = source->has_score_head() && !with_lm ? source : copy_with_heads(*source, with_lm, true);
  source = Transformer{nullptr};

  JsonlOptions jsonl{t.skip_invalid_lines};
  ReadReport report;
  auto examples = read_ranking_examples(files.train, jsonl, &report);
  std::vector<RankingExample> eval_examples;
  if (!o.eval_dataset.empty()) {
    eval_examples = read_ranking_examples(files.test, jsonl);
  } else if (o.eval_fraction > 0) {
    // Hold out the last share of a seeded shuffle.
    auto order = epoch_order(examples.size(), t.seed, -1);
    const size_t held = static_cast<size_t>(o.eval_fraction * static_cast<double>(examples.size()));
    std::vector<RankingExample> kept;
    for (size_t i = 0; i < order.size(); ++i) (i < order.size() - held ? kept : eval_examples).push_back(examples[order[i]]);
    examples.swap(kept);
  }
  TruncationCounts counts;
  size_t identical = 0, identical_held_out = 0;
  auto train = encode_rankings(examples, *tokenizer, format, t, counts, &identical);
  auto eval = encode_rankings(eval_examples, *tokenizer, format, t, counts, &identical_held_out);
  if (o.eval_dataset.empty()) identical += identical_held_out, identical_held_out = 0;  // both from --dataset
  if (dp.is_main())  // a notice whatever --quiet says: the data is not what its file claims
    for (const auto& [count, path] : {std::pair{identical, o.dataset}, std::pair{identical_held_out, o.eval_dataset}})
      if (count > 0)
        std::fprintf(stderr, "rm: %s: %zu comparison%s between identical responses (chosen = rejected) left out\n",
                     path.c_str(), count, count == 1 ? "" : "s");
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

  const int64_t batch = t.per_device_train_batch_size;
  const EpochSchedule schedule = epoch_schedule(t, static_cast<int64_t>(train.size()), dp.world_size());
  model->train();
  prepare_trained_model(*model, t.memory, t.dtype, true, o.model_name_or_path);
  auto optimizer = make_adamw(trainable_parameters(*model), t, t.learning_rate);
  // Each checkpoint is also a model directory of the model as trained so far (io/checkpoint.h).
  Checkpointable what{{{"model", model.get()}}, {{"optimizer", optimizer.get()}}, {}, {{"", model.get(), tokenizer_path, {}}}};
  StepLoop loop(t, dp, "rm", schedule.total_steps, o.quiet, what, {"epoch", "micro_batch"});
  dp.attach(trainable_parameters(*model), *optimizer);
  AutocastGuard autocast(device, t.dtype);

  RewardResult result;
  StepFunctions steps;
  steps.micro_batch = [&](const std::vector<size_t>& examples) {
    std::vector<const RankedPrompt*> prompts;
    for (size_t i : examples) prompts.push_back(&train[i]);
    // The loss is a mean over this rank's prompts: rescaled so that the averaged gradient is the global mean's.
    const double scale = dp.loss_scale(static_cast<double>(prompts.size()));  // 1 with one process
    // loss share, correct comparisons, comparisons, their summed margin, tokens read
    std::vector<double> sums = {0.0, 0.0, 0.0, 0.0, 0.0};
    if (!prompts.empty()) {
      auto scored = score_batch(*model, prompts, pad_id, device, o.lm_coef);
      const double accumulation = static_cast<double>(t.gradient_accumulation_steps);
      (scored.loss.loss * scale / accumulation).backward();
      sums = {scored.loss.loss.item<double>() * scale / accumulation / static_cast<double>(dp.world_size()),
              static_cast<double>(scored.loss.correct), static_cast<double>(scored.loss.pairs), scored.loss.margin_sum,
              static_cast<double>(scored.tokens)};
      result.sequences_scored += scored.sequences;
      result.tokens_trained += scored.tokens;
    }
    return sums;
  };
  // TRL's RewardTrainer log: accuracy and margin over the window's comparisons, num_tokens read so far, the epoch.
  steps.counts = {"correct", "pairs", "margin", "tokens_read"};
  for (const auto& ranked : train) {  // a prompt's K sequences pad to its longest
    size_t length = 0;
    for (const auto& s : ranked.responses) length = std::max(length, s.ids.size());
    steps.lengths.push_back(static_cast<int64_t>(length));
  }
  steps.window_scalars = [&](const std::vector<double>& window, int64_t, double epoch, const std::vector<double>& totals) {
    result.train_accuracy = window[1] / std::max(1.0, window[2]);
    return Scalars{{"accuracy", result.train_accuracy},
                   {"margin", window[3] / std::max(1.0, window[2])},
                   {"num_tokens", totals[4]},
                   {"epoch", epoch}};
  };
  if (!eval.empty() && t.eval_strategy != "no")
    steps.evaluate = [&]() -> Scalars {
      if (!dp.is_main()) return {};
      model->eval();
      Scalars scalars = held_out_evaluation(*model, eval, t.per_device_eval_batch_size, pad_id, device, &result.eval_pairs);
      model->train();
      result.eval_accuracy = scalars[1].second;
      return scalars;
    };
  result.train_loss = loop.run_epochs(schedule, static_cast<int64_t>(train.size()), steps, model->parameters(), *optimizer);
  model->eval();
  if (!dp.is_main()) {  // rank 0 evaluates and writes the model
    result.steps = loop.step();
    return result;
  }
  if (!o.normalize_dataset.empty()) {
    std::vector<std::vector<ChatMessage>> prompts;  // demonstrations, text or conversations, as the RM reads them
    std::vector<std::string> responses;
    for (const auto& ex : read_sft_examples(split_files(o.normalize_dataset, t.dataset_train_split), jsonl)) {
      prompts.push_back(ex.is_chat() ? ex.prompt_messages() : std::vector<ChatMessage>{{"user", ex.prompt}});
      responses.push_back(ex.completion);
    }
    auto raw = score_texts(*model, *tokenizer, format, prompts, responses, 0.0, batch * 4, t.max_length);
    double sum = 0;
    for (double r : raw) sum += r;
    result.reward_offset = raw.empty() ? 0.0 : sum / static_cast<double>(raw.size());
  }
  save_model(with_lm ? *copy_with_heads(*model, false, true) : *model, t.output_dir);  // a reward model: no LM head
  copy_tokenizer_files(tokenizer_path, t.output_dir);
  save_reward_offset(t.output_dir, result.reward_offset);
  result.steps = loop.step();
  return result;
}

}  // namespace rlhf
