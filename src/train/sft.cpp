#include "train/sft.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json.h"
#include "common/files.h"
#include "data/dataset_rows.h"
#include "data/formats.h"
#include "infer/batch.h"
#include "io/hf_cache.h"
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
  o.add("dataset", &s.dataset, "training JSONL (a folder: as dataset_name)");
  o.add("eval_dataset", &s.eval_dataset, "validation JSONL (optional; a folder: its dataset_test_split)");
  o.add("prompt_format", &s.prompt_format, "plain | hh | chatml | llama3 | zephyr | chat");
  o.add("save_every_epoch", &s.save_every_epoch, "write OUTPUT/epoch-N after each epoch");
  o.add("packing", &s.packing, "pack examples into max_length windows (packing_strategy)");
  o.add("packing_strategy", &s.packing_strategy,
        "bfd: whole examples, best-fit decreasing, each attending only to itself (TRL's default) | wrapped: end to end, "
        "cut every max_length tokens, attending across boundaries; {\"text\"} data is always packed so");
  o.add("completion_only_loss", &s.completion_only_loss,
        "prompt-completion data: loss on the completion only (false: on every token)");
  o.add("assistant_only_loss", &s.assistant_only_loss,
        "messages data: loss on the assistant's reply only (false: on every token; TRL's default is false)");
  o.add("quiet", &s.quiet, "no progress bar");
  bind_trl_sft_names(o);
}

namespace {

// Whether the first row is pretraining text: {"text"} without a prompt or messages (an Arrow row holds every column,
// null where a row has none).
bool is_text_dataset(const std::vector<std::string>& files) {
  const json row = first_row(files);  // invalid JSON is not text: the typed reader reports the error with its line
  auto has = [&](const char* key) { return row.contains(key) && !row[key].is_null(); };
  return row.is_object() && has("text") && !has("prompt") && !has("messages");
}

// A conversation rendered by the model's chat template with every assistant reply trained (TRL's assistant_only_loss;
// the named formats train the last reply only). Fitted to max_length as fit_to_length fits a prompt and its response,
// the earlier turns standing as the prompt: cut from the left, each kept token keeping its mask.
Sequence encode_every_reply(const Tokenizer& tokenizer, const PromptFormat& format, const SftExample& ex,
                            size_t max_length, TruncationPolicy policy, TruncationCounts& counts, bool* kept) {
  ConversationTokens turns;
  try {
    turns = format.encode_turns(tokenizer, ex.messages);
  } catch (const Error& e) {
    fail(ex.source + ": " + e.what());
  }
  const auto reply_start = turns.ids.begin() + static_cast<std::ptrdiff_t>(turns.last_reply_start);
  PromptTokens tokens{std::vector<int64_t>(turns.ids.begin(), reply_start), std::vector<int64_t>(reply_start, turns.ids.end())};
  const size_t before = tokens.prompt_ids.size();
  Sequence s = fit_to_length(std::move(tokens), max_length, policy, counts, kept);
  const size_t cut = before - static_cast<size_t>(s.prompt_length);  // prompt tokens removed from the left
  s.loss_mask.assign(turns.trained.begin() + static_cast<std::ptrdiff_t>(cut),
                     turns.trained.begin() + static_cast<std::ptrdiff_t>(cut + s.ids.size()));
  return s;
}

struct Tokenized {
  std::vector<Sequence> sequences;
  TruncationCounts truncation;
  std::string summary;
};

Tokenized tokenize(const std::vector<std::string>& files, const Tokenizer& tokenizer, const PromptFormat& format,
                   const SftOptions& o, bool pack) {
  const TrainingOptions& t = o.train;
  Tokenized out;
  JsonlOptions jsonl{t.skip_invalid_lines};
  ReadReport report;
  const size_t max_length = static_cast<size_t>(t.max_length);
  if (is_text_dataset(files)) {
    // Pretraining: every text + EOS, packed into windows of max_length (packing_strategy; no padding wasted).
    out.sequences = pack_texts(read_text_examples(files, jsonl, &report), tokenizer, max_length,
                               prompt_wants_bos(tokenizer), true, parse_packing_strategy(o.packing_strategy));
  } else {
    const TruncationPolicy policy = parse_truncation_policy(t.truncation);
    for (const auto& ex : read_sft_examples(files, jsonl, &report)) {
      bool kept = true;
      Sequence s = ex.is_chat() && o.assistant_only_loss && format.chat_template()
                       ? encode_every_reply(tokenizer, format, ex, max_length, policy, out.truncation, &kept)
                       : fit_to_length(ex.is_chat() ? encode_prompt(tokenizer, format, ex.prompt_messages(), ex.completion)
                                                    : encode_prompt(tokenizer, format, ex.prompt, ex.completion),
                                       max_length, policy, out.truncation, &kept);
      // TRL's completion_only_loss / assistant_only_loss false: the prompt's tokens are trained on too.
      if (!(ex.is_chat() ? o.assistant_only_loss : o.completion_only_loss)) s.prompt_length = 0;
      if (kept) out.sequences.push_back(std::move(s));
    }
    if (pack) out.sequences = pack_sequences(out.sequences, max_length, parse_packing_strategy(o.packing_strategy));
  }
  out.summary = report.summary();
  return out;
}

// TRL's SFT evaluation: the token mean of the loss and of top-1 accuracy over the held-out set's trained tokens, and
// the tokens (prompt included) it read.
Scalars evaluate(TransformerImpl& model, const std::vector<Sequence>& data, int64_t batch_size, int64_t pad_id,
                 torch::Device device) {
  torch::NoGradGuard no_grad;
  double total = 0, correct = 0, weight = 0, tokens_read = 0;
  for (size_t start = 0; start < data.size(); start += static_cast<size_t>(batch_size)) {
    std::vector<const Sequence*> rows;
    for (size_t i = start; i < std::min(data.size(), start + static_cast<size_t>(batch_size)); ++i) rows.push_back(&data[i]);
    auto batch = pad_right(rows, pad_id, device);
    const auto lm = language_model_loss_and_accuracy(model, batch);
    total += lm.loss.item<double>() * lm.tokens, correct += lm.correct, weight += lm.tokens;
    tokens_read += batch.attention.sum().item<double>();
  }
  return {{"loss", weight > 0 ? total / weight : 0.0},
          {"mean_token_accuracy", weight > 0 ? correct / weight : 0.0},
          {"num_tokens", tokens_read}};
}

}  // namespace

SftResult run_sft(const SftOptions& given) {
  SftOptions o = given;
  o.model_name_or_path = resolve_model_path(o.model_name_or_path);
  const DatasetFiles files = resolve_trl_options(o.train, o.dataset, &o.eval_dataset, "sft");
  const TrainingOptions& t = o.train;
  check(!t.output_dir.empty(), "sft: --output_dir is required");
  check(!o.dataset.empty(), "sft: --dataset is required");
  check(!o.model_name_or_path.empty() || !o.init_config.empty(), "sft: give --model_name_or_path or --init_config");
  validate_training_options(t, "sft");
  DataParallel dp(t, "sft");
  const auto output_lock = claim_output_dir(t, dp);  // held until the model is written
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
  if (format.end_of_response_id(*tokenizer) < 0 && !is_text_dataset(files.train))
    fail("sft: " + tokenizer_path, "an end-of-response token for the " + format.name() + " format (eos_token)",
         "none (the model could not learn to stop; set eos_token in tokenizer_config.json)");
  const int64_t pad_id = pad_id_of(*tokenizer);

  Tokenized train = tokenize(files.train, *tokenizer, format, o, o.packing);
  check_some_examples_fit(train.truncation.kept, train.truncation.truncated, train.truncation.dropped, o.dataset,
                          "--max_length " + std::to_string(t.max_length) + " tokens", "sft");
  check(!train.sequences.empty(), "sft: " + o.dataset + " gave no training examples");
  Tokenized eval;
  if (!o.eval_dataset.empty() && t.eval_strategy != "no") eval = tokenize(files.test, *tokenizer, format, o, false);
  size_t longest = 0;
  for (const auto* set : {&train, &eval})
    for (const auto& s : set->sequences) longest = std::max(longest, s.ids.size());
  check_fits_positions(config, model_path, longest, "sft");
  if (!o.quiet && dp.is_main()) {
    std::fprintf(stderr, "sft: %s; %zu sequences; truncation: %s\n", train.summary.c_str(), train.sequences.size(),
                 train.truncation.summary().c_str());
  }

  const EpochSchedule schedule = epoch_schedule(t, static_cast<int64_t>(train.sequences.size()), dp.world_size());
  model->train();
  prepare_trained_model(*model, t.memory, t.dtype, false, model_path);
  auto optimizer = make_adamw(trainable_parameters(*model), t, t.learning_rate);
  // Each checkpoint is also a model directory of the model as trained so far (io/checkpoint.h).
  Checkpointable what{{{"model", model.get()}}, {{"optimizer", optimizer.get()}}, {}, {{"", model.get(), tokenizer_path, {}}}};
  StepLoop loop(t, dp, "sft", schedule.total_steps, o.quiet, what, {"epoch", "micro_batch"});
  dp.attach(trainable_parameters(*model), *optimizer);
  AutocastGuard autocast(device, t.dtype);

  SftResult result;
  const double accumulation = static_cast<double>(t.gradient_accumulation_steps);
  StepFunctions steps;
  steps.micro_batch = [&](const std::vector<size_t>& examples) {
    std::vector<const Sequence*> rows;
    for (size_t i : examples) rows.push_back(&train.sequences[i]);
    double loss_share = 0, correct = 0, targets = 0, tokens_read = 0;
    if (!dp.active()) {
      auto padded = pad_right(rows, pad_id, device);
      auto lm = language_model_loss_and_accuracy(*model, padded);
      (lm.loss / accumulation).backward();
      loss_share = lm.loss.item<double>() / accumulation;
      correct = lm.correct, targets = lm.tokens, tokens_read = padded.attention.sum().item<double>();
      result.tokens_trained += static_cast<int64_t>(tokens_read);
    } else if (rows.empty()) {
      dp.loss_scale(0);  // the end of an epoch left this rank nothing; it still takes part in the count
    } else {
      // The loss is a mean over this rank's tokens: rescaled so that the averaged gradient is the global mean's.
      auto padded = pad_right(rows, pad_id, device);
      const double tokens = (padded.loss_mask.slice(1, 1) * padded.attention.slice(1, 1)).sum().item<double>();
      const double scale = dp.loss_scale(tokens) / accumulation;
      auto lm = language_model_loss_and_accuracy(*model, padded);
      (lm.loss * scale).backward();
      loss_share = lm.loss.item<double>() * scale / static_cast<double>(dp.world_size());
      correct = lm.correct, targets = lm.tokens, tokens_read = padded.attention.sum().item<double>();
      result.tokens_trained += static_cast<int64_t>(tokens_read);
    }
    return std::vector<double>{loss_share, correct, targets, tokens_read};
  };
  // TRL's SFT log: mean_token_accuracy over the window's trained tokens, num_tokens read so far (prompt included).
  steps.counts = {"correct", "targets", "tokens_read"};
  for (const auto& s : train.sequences) steps.lengths.push_back(static_cast<int64_t>(s.ids.size()));
  steps.window_scalars = [&](const std::vector<double>& window, int64_t, double epoch, const std::vector<double>& totals) {
    return Scalars{{"epoch", epoch},
                   {"mean_token_accuracy", window[1] / std::max(1.0, window[2])},
                   {"num_tokens", totals[3]}};
  };
  if (!eval.sequences.empty())
    steps.evaluate = [&]() -> Scalars {
      if (!dp.is_main()) return {};
      model->eval();
      Scalars scalars = evaluate(*model, eval.sequences, t.per_device_eval_batch_size, pad_id, device);
      model->train();
      result.eval_loss = scalars[0].second, result.eval_mean_token_accuracy = scalars[1].second;
      return scalars;
    };
  steps.end_of_epoch = [&](int64_t epoch) {
    if (o.save_every_epoch && dp.is_main()) {
      const std::string dir = t.output_dir + "/epoch-" + std::to_string(epoch + 1);
      save_model(*model, dir);
      copy_tokenizer_files(tokenizer_path, dir);
      result.epoch_dirs.push_back(dir);
    }
  };
  result.train_loss = loop.run_epochs(schedule, static_cast<int64_t>(train.sequences.size()), steps, model->parameters(),
                                      *optimizer);
  if (dp.active()) std::fprintf(stderr, "sft: %s\n", dp.memory_summary().c_str());
  if (dp.is_main()) {
    save_model(*model, t.output_dir);
    copy_tokenizer_files(tokenizer_path, t.output_dir);
  }
  result.steps = loop.step();
  return result;
}

}  // namespace rlhf
