#include "train/sft.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/metrics.h"
#include "common/progress.h"
#include "data/formats.h"
#include "infer/batch.h"
#include "io/model_dir.h"
#include "tokenizer/prompt_format.h"
#include "tokenizer/tokenizer.h"
#include "train/distributed.h"
#include "train/losses.h"
#include "train/memory.h"

namespace rlhf {

using json = nlohmann::json;

void bind_sft_options(Options& o, SftOptions& s) {
  bind_training_options(o, s.train);
  o.add("model_name_or_path", &s.model_name_or_path, "model directory to fine-tune");
  o.add("init_config", &s.init_config, "config.json of a model to initialise randomly (pretraining)");
  o.add("tokenizer", &s.tokenizer, "tokenizer path (default: the model directory)");
  o.add("dataset", &s.dataset, "training JSONL");
  o.add("eval_dataset", &s.eval_dataset, "validation JSONL (optional)");
  o.add("prompt_format", &s.prompt_format, "plain | hh | chatml | llama3 | zephyr | chat");
  o.add("save_every_epoch", &s.save_every_epoch, "write OUTPUT/epoch-N after each epoch");
  o.add("quiet", &s.quiet, "no progress bar");
}

namespace {

bool is_text_dataset(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      auto j = json::parse(line);
      return j.is_object() && j.contains("text") && !j.contains("prompt") && !j.contains("messages");
    } catch (const json::exception&) {
      return false;  // the typed reader reports the error with its line
    }
  }
  return false;
}

struct Tokenized {
  std::vector<Sequence> sequences;
  TruncationCounts truncation;
  std::string summary;
};

Tokenized tokenize(const std::string& path, const Tokenizer& tokenizer, const PromptFormat& format,
                   const TrainingOptions& t) {
  Tokenized out;
  JsonlOptions jsonl{t.skip_invalid_lines};
  ReadReport report;
  const size_t max_length = static_cast<size_t>(t.max_length);
  if (is_text_dataset(path)) {
    // Pretraining: every text + EOS, packed end to end into windows of max_length (no padding wasted).
    std::vector<int64_t> stream;
    for (const auto& text : read_text_examples(path, jsonl, &report)) {
      auto ids = tokenizer.encode(text, prompt_wants_bos(tokenizer));
      stream.insert(stream.end(), ids.begin(), ids.end());
      if (tokenizer.eos_id() >= 0) stream.push_back(tokenizer.eos_id());
    }
    for (size_t start = 0; start + 1 < stream.size(); start += max_length) {
      Sequence s;
      s.ids.assign(stream.begin() + static_cast<std::ptrdiff_t>(start),
                   stream.begin() + static_cast<std::ptrdiff_t>(std::min(stream.size(), start + max_length)));
      out.sequences.push_back(std::move(s));
    }
  } else {
    const TruncationPolicy policy = parse_truncation_policy(t.truncation);
    for (const auto& ex : read_sft_examples(path, jsonl, &report)) {
      PromptTokens tokens = ex.is_chat() ? encode_prompt(tokenizer, format, ex.prompt_messages(), ex.completion)
                                         : encode_prompt(tokenizer, format, ex.prompt, ex.completion);
      if (tokens.response_ids.size() >= max_length) {  // the response alone does not fit: cut its end
        tokens.response_ids.resize(max_length - 1);
      }
      if (!apply_truncation(policy, max_length, tokens.prompt_ids, tokens.response_ids.size(), out.truncation)) continue;
      Sequence s;
      s.prompt_length = static_cast<int64_t>(tokens.prompt_ids.size());
      s.ids = tokens.prompt_ids;
      s.ids.insert(s.ids.end(), tokens.response_ids.begin(), tokens.response_ids.end());
      out.sequences.push_back(std::move(s));
    }
  }
  out.summary = report.summary();
  return out;
}

double evaluate_loss(TransformerImpl& model, const std::vector<Sequence>& data, int64_t batch_size, int64_t pad_id,
                     torch::Device device) {
  torch::NoGradGuard no_grad;
  double total = 0, weight = 0;
  for (size_t start = 0; start < data.size(); start += static_cast<size_t>(batch_size)) {
    std::vector<const Sequence*> rows;
    for (size_t i = start; i < std::min(data.size(), start + static_cast<size_t>(batch_size)); ++i) rows.push_back(&data[i]);
    auto batch = pad_right(rows, pad_id, device);
    const double tokens = (batch.loss_mask.slice(1, 1) * batch.attention.slice(1, 1)).sum().item<double>();
    total += language_model_loss(model, batch).item<double>() * tokens, weight += tokens;
  }
  return weight > 0 ? total / weight : 0;
}

}  // namespace

SftResult run_sft(const SftOptions& o) {
  const TrainingOptions& t = o.train;
  check(!t.output_dir.empty(), "sft: --output_dir is required");
  check(!o.dataset.empty(), "sft: --dataset is required");
  check(!o.model_name_or_path.empty() || !o.init_config.empty(), "sft: give --model_name_or_path or --init_config");
  validate_training_options(t, "sft");
  DataParallel dp(t, "sft");
  const torch::Device device = dp.device(pick_device(t.device));
  torch::manual_seed(static_cast<uint64_t>(t.seed));

  const std::string tokenizer_path = !o.tokenizer.empty() ? o.tokenizer : o.model_name_or_path;
  auto tokenizer = load_tokenizer(tokenizer_path);
  Transformer model{nullptr};
  if (!o.model_name_or_path.empty()) {
    model = load_model(o.model_name_or_path, LoadOptions{torch::kFloat32, device});
  } else {
    model = Transformer(load_model_config(o.init_config));
    init_weights(*model);
    model->to(device);
  }
  const ModelConfig& config = model->config();
  const std::string model_path = !o.model_name_or_path.empty() ? o.model_name_or_path : o.init_config;
  check_model_fits_tokenizer(config, model_path, tokenizer->vocab_size(), tokenizer_path, "sft");
  const PromptFormat format = PromptFormat::from_name(o.prompt_format, o.model_name_or_path);
  // Demonstrations end with the end-of-response token, which is how the model learns to stop (pretraining text only
  // separates documents with EOS when there is one).
  if (format.end_of_response_id(*tokenizer) < 0 && !is_text_dataset(o.dataset))
    fail("sft: " + tokenizer_path, "an end-of-response token for the " + format.name() + " format (eos_token)",
         "none (the model could not learn to stop; set eos_token in tokenizer_config.json)");
  const int64_t pad_id = std::max<int64_t>(0, tokenizer->pad_id() >= 0 ? tokenizer->pad_id() : tokenizer->eos_id());

  Tokenized train = tokenize(o.dataset, *tokenizer, format, t);
  check_some_examples_fit(train.truncation.kept, train.truncation.truncated, train.truncation.dropped, o.dataset,
                          "--max_length " + std::to_string(t.max_length) + " tokens", "sft");
  check(!train.sequences.empty(), "sft: " + o.dataset + " gave no training examples");
  Tokenized eval;
  if (!o.eval_dataset.empty()) eval = tokenize(o.eval_dataset, *tokenizer, format, t);
  size_t longest = 0;
  for (const auto* set : {&train, &eval})
    for (const auto& s : set->sequences) longest = std::max(longest, s.ids.size());
  check_fits_positions(config, model_path, longest, "sft");
  if (!o.quiet && dp.is_main()) {
    std::fprintf(stderr, "sft: %s; %zu sequences; truncation: %s\n", train.summary.c_str(), train.sequences.size(),
                 train.truncation.summary().c_str());
  }

  const int64_t batch = t.per_device_train_batch_size, accumulation = t.gradient_accumulation_steps;
  const int64_t global_batch = batch * dp.world_size();  // N ranks × b rows: the same steps as one process with N·b
  const int64_t micro_per_epoch = (static_cast<int64_t>(train.sequences.size()) + global_batch - 1) / global_batch;
  const int64_t steps_per_epoch = std::max<int64_t>(1, micro_per_epoch / accumulation);
  const int64_t total_steps = t.max_steps > 0 ? t.max_steps : steps_per_epoch * t.num_train_epochs;
  const int64_t epochs = t.max_steps > 0 ? (total_steps + steps_per_epoch - 1) / steps_per_epoch : t.num_train_epochs;

  model->train();
  prepare_trained_model(*model, t.memory, t.dtype, false, model_path);
  auto optimizer = make_adamw(trainable_parameters(*model), t, t.learning_rate);
  Checkpointable what{{{"model", model.get()}}, {{"optimizer", optimizer.get()}}, {}};
  int64_t step = 0, start_epoch = 0, start_micro = 0;
  // The logging window (steps since the last logged loss) is part of the state: a run interrupted between two logged
  // steps must log the same mean loss after resuming as an uninterrupted one.
  double window_loss = 0;
  int64_t window_steps = 0;
  int64_t metrics_lines = -1;  // metrics.jsonl lines written when the checkpoint was taken (-1: not recorded)
  if (t.resume_from_checkpoint) {
    if (auto state = load_latest_checkpoint(t.output_dir, what, {"epoch", "micro_batch"})) {
      metrics_lines = state->value("metrics_lines", int64_t{-1});
      step = (*state)["step"].get<int64_t>();
      start_epoch = (*state)["epoch"].get<int64_t>();
      start_micro = (*state)["micro_batch"].get<int64_t>();
      window_loss = state->value("window_loss", 0.0);
      window_steps = state->value("window_steps", int64_t{0});

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
  ProgressBar progress("sft", total_steps, progress_options);
  install_interrupt_handlers();
  AutocastGuard autocast(device, t.dtype);
  BadStepGuard guard(t.max_bad_steps);

  SftResult result;
  auto checkpoint = [&](int64_t epoch, int64_t micro) {
    dp.checkpoint([&] {
      save_checkpoint(t.output_dir, step, what,
                      {{"epoch", epoch}, {"micro_batch", micro}, {"window_loss", window_loss}, {"window_steps", window_steps},
                       {"metrics_lines", logger->lines_written()}},
                      t.save_total_limit);
    });
  };
  // A checkpoint taken after an epoch's last step still names that epoch (with micro_batch past its end), so that a
  // run resumed from it still evaluates and writes that epoch's model before going on.
  for (int64_t epoch = start_epoch; epoch < epochs; ++epoch) {
    const auto order = epoch_order(train.sequences.size(), t.seed, epoch);
    double step_loss = 0;
    for (int64_t micro = epoch == start_epoch ? start_micro : 0; micro < steps_per_epoch * accumulation; ++micro) {
      if (step >= total_steps) break;
      if (micro * global_batch >= static_cast<int64_t>(order.size())) break;
      std::vector<const Sequence*> rows;
      const auto [first, last] = dp.rows(micro, batch, static_cast<int64_t>(order.size()));
      for (int64_t i = first; i < last; ++i) rows.push_back(&train.sequences[order[static_cast<size_t>(i)]]);
      if (!dp.active()) {
        auto padded = pad_right(rows, pad_id, device);
        auto loss = language_model_loss(*model, padded);
        (loss / static_cast<double>(accumulation)).backward();
        step_loss += loss.item<double>() / static_cast<double>(accumulation);
        result.tokens_trained += padded.loss_mask.sum().item<int64_t>();
      } else if (rows.empty()) {
        dp.loss_scale(0);  // the end of an epoch left this rank nothing; it still takes part in the count
      } else {
        // The loss is a mean over this rank's tokens: rescaled so that the averaged gradient is the global mean's.
        auto padded = pad_right(rows, pad_id, device);
        const double tokens = (padded.loss_mask.slice(1, 1) * padded.attention.slice(1, 1)).sum().item<double>();
        const double scale = dp.loss_scale(tokens) / static_cast<double>(accumulation);
        auto loss = language_model_loss(*model, padded);
        (loss * scale).backward();
        step_loss += loss.item<double>() * scale / static_cast<double>(dp.world_size());
        result.tokens_trained += padded.loss_mask.sum().item<int64_t>();
      }
      if ((micro + 1) % accumulation != 0) continue;

      // The global loss and any rank's interrupt, in one all-reduce; then the gradients.
      const auto global = dp.sum({step_loss, interrupt_requested() ? 1.0 : 0.0});
      step_loss = global[0];
      const bool any_rank_interrupted = global[1] > 0;
      dp.average_gradients();

      const double lr = scheduled_learning_rate(t, t.learning_rate, step, total_steps);
      set_learning_rate(*optimizer, lr);
      const double grad_norm = t.max_grad_norm > 0
                                   ? torch::nn::utils::clip_grad_norm_(model->parameters(), t.max_grad_norm)
                                   : 0.0;
      if (guard.check(step_loss, grad_norm, step + 1, t.output_dir)) dp.optimizer_step();  // step + 1: as logged
      optimizer->zero_grad();
      ++step;
      dp.check_parameters(step);
      window_loss += step_loss, ++window_steps;
      progress.update(step, {{"loss", step_loss}, {"lr", lr}});
      if (step % t.logging_steps == 0 || step == total_steps) {
        result.train_loss = window_loss / static_cast<double>(window_steps);
        if (logger) logger->log(step, {{"loss", result.train_loss}, {"learning_rate", lr}, {"grad_norm", grad_norm},
                          {"epoch", static_cast<double>(epoch) + static_cast<double>(micro + 1) / static_cast<double>(steps_per_epoch * accumulation)},
                          {"skipped_steps", static_cast<double>(guard.skipped())}});
        window_loss = 0, window_steps = 0;
      }
      step_loss = 0;
      if (dp.active() ? any_rank_interrupted : interrupt_requested()) {
        checkpoint(epoch, micro + 1);
        progress.finish();
        throw Interrupted();
      }
      if (t.save_steps > 0 && step % t.save_steps == 0) checkpoint(epoch, micro + 1);
    }
    if (!eval.sequences.empty() && dp.is_main()) {
      model->eval();
      result.eval_loss = evaluate_loss(*model, eval.sequences, batch, pad_id, device);
      model->train();
      logger->log(step, {{"eval_loss", result.eval_loss}});
    }
    if (o.save_every_epoch && dp.is_main()) {
      const std::string dir = t.output_dir + "/epoch-" + std::to_string(epoch + 1);
      save_model(*model, dir);
      copy_tokenizer_files(tokenizer_path, dir);
      result.epoch_dirs.push_back(dir);
    }
    checkpoint(epoch + 1, 0);
  }
  progress.finish();
  if (dp.active()) std::fprintf(stderr, "sft: %s\n", dp.memory_summary().c_str());
  if (dp.is_main()) {
    save_model(*model, t.output_dir);
    copy_tokenizer_files(tokenizer_path, t.output_dir);
  }
  result.steps = step;
  return result;
}

}  // namespace rlhf
