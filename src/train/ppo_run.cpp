// run_ppo: everything PPO needs from disk (models, tokenizer, prompts, pretraining text), then train_ppo, then the
// policy and value model written as HF model directories.
#include <algorithm>
#include <cstdio>

#include "common/error.h"
#include "common/files.h"
#include "data/formats.h"
#include "io/formats/safetensors.h"
#include "io/hf_cache.h"
#include "io/model_dir.h"
#include "tokenizer/prompt_format.h"
#include "tokenizer/tokenizer.h"
#include "train/distributed.h"
#include "train/ppo.h"
#include "train/reward.h"

namespace rlhf {

namespace {

// The reward model must read the policy's tokens as the same text. We refuse a different tokenizer instead of
// re-tokenising (a choice, documented in the README): vocabularies must agree on size and on a probe text.
void check_same_tokenizer(const Tokenizer& policy, const std::string& reward_dir) {
  if (!file_exists(reward_dir + "/tokenizer.json") && !file_exists(reward_dir + "/tokenizer.model") &&
      !file_exists(reward_dir + "/vocab.json"))
    return;  // no tokenizer stored beside the RM: it was trained on the policy's ids
  auto reward = load_tokenizer(reward_dir);
  const std::string probe = "The reward model must read the policy's tokens: 12345 ünïcödé!";
  if (reward->vocab_size() != policy.vocab_size() || reward->encode(probe) != policy.encode(probe))
    fail(reward_dir, "a reward model with the policy's tokenizer (same vocabulary and ids)",
         "a different tokenizer (" + std::to_string(reward->vocab_size()) + " vs " + std::to_string(policy.vocab_size()) +
             " tokens); train the RM from the same SFT model");
}

// --save_rollouts: each iteration's rollout tensors in OUTPUT/rollouts/iteration-N.safetensors (-rank-R under data
// parallelism), fp32 and int64 as they are.
RolloutObserver rollout_writer(const std::string& output_dir) {
  const Rendezvous where = rendezvous_from_environment();
  make_dirs(output_dir + "/rollouts");
  return [=](int64_t iteration, const RolloutTensors& tensors) {
    std::vector<TensorBytes> bytes;
    std::vector<torch::Tensor> keep;
    for (const auto& [name, tensor] : tensors) {
      if (!tensor.defined()) continue;
      auto t = tensor.scalar_type() == torch::kLong ? tensor.contiguous() : tensor.to(torch::kFloat32).contiguous();
      keep.push_back(t);
      bytes.push_back({name, t.scalar_type() == torch::kLong ? DType::I64 : DType::F32, t.sizes().vec(), t.data_ptr(),
                       static_cast<size_t>(t.numel() * t.element_size())});
    }
    std::string file = output_dir + "/rollouts/iteration-" + std::to_string(iteration + 1);
    if (where.world_size > 1) file += "-rank-" + std::to_string(where.rank);
    write_safetensors(file + ".safetensors", bytes);
  };
}

// Sizes that resolve_ppo_batch_sizes reads: a negative one is an error, not a request for the default.
void need_positive_sizes(const PpoOptions& o) {
  auto need = [](bool ok, const std::string& option, int64_t found) {
    if (!ok) fail("ppo: --" + option, "1 or more", std::to_string(found));
  };
  need(o.rollout_batch_size >= 0, "rollout_batch_size", o.rollout_batch_size);
  need(o.train.per_device_train_batch_size >= 0, "per_device_train_batch_size", o.train.per_device_train_batch_size);
  need(o.train.gradient_accumulation_steps >= 0, "gradient_accumulation_steps", o.train.gradient_accumulation_steps);
}

}  // namespace

PpoOptions resolve_ppo_batch_sizes(PpoOptions o) {
  TrainingOptions& t = o.train;
  const int64_t mini_batches = std::max<int64_t>(1, o.num_mini_batches);
  if (t.per_device_train_batch_size <= 0 && t.gradient_accumulation_steps <= 0) {
    if (o.rollout_batch_size <= 0) o.rollout_batch_size = 64;
    t.per_device_train_batch_size = std::max<int64_t>(1, o.rollout_batch_size / mini_batches);
    t.gradient_accumulation_steps = 1;
    return o;
  }
  if (t.per_device_train_batch_size <= 0) t.per_device_train_batch_size = 8;  // HF's default
  if (t.gradient_accumulation_steps <= 0) t.gradient_accumulation_steps = 1;
  const int64_t derived = t.per_device_train_batch_size * t.gradient_accumulation_steps * mini_batches;
  if (o.rollout_batch_size > 0 && o.rollout_batch_size != derived)
    fail("ppo: --rollout_batch_size " + std::to_string(o.rollout_batch_size),
         "the episodes per_device_train_batch_size x gradient_accumulation_steps x num_mini_batches make (" +
             std::to_string(t.per_device_train_batch_size) + " x " + std::to_string(t.gradient_accumulation_steps) +
             " x " + std::to_string(mini_batches) + " = " + std::to_string(derived) + ", TRL's PPOConfig)",
         "a different number; give one or the other");
  o.rollout_batch_size = derived;
  return o;
}

PpoResult run_ppo(const PpoOptions& given, const TextRewardFunction& text_reward) {
  PpoOptions o = given;
  for (std::string* path : {&o.model_name_or_path, &o.sft_model_path, &o.reward_model_path, &o.value_model_path})
    *path = resolve_model_path(*path);
  if (!o.model_name_or_path.empty()) {  // TRL's ModelConfig: the tokenizer, and the policy unless sft_model_path says
    if (o.sft_model_path.empty()) o.sft_model_path = o.model_name_or_path;
    if (o.tokenizer.empty()) o.tokenizer = o.model_name_or_path;
  }
  const DatasetFiles files = resolve_trl_options(o.train, o.dataset, nullptr, "ppo");
  need_positive_sizes(o);
  o = resolve_ppo_batch_sizes(o);
  const TrainingOptions& t = o.train;
  check(!t.output_dir.empty(), "ppo: --output_dir is required");
  check(!o.sft_model_path.empty(), "ppo: --sft_model_path is required");
  check(!o.reward_model_path.empty(), "ppo: --reward_model_path is required");
  check(!o.dataset.empty(), "ppo: --dataset (prompts) is required");
  validate_training_options(t, "ppo");
  auto need = [](bool ok, const std::string& option, const std::string& expected, int64_t found) {
    if (!ok) fail("ppo: --" + option, expected, std::to_string(found));
  };
  need(o.rollout_batch_size >= 1, "rollout_batch_size", "1 or more", o.rollout_batch_size);
  need(o.num_mini_batches >= 1, "num_mini_batches", "1 or more", o.num_mini_batches);
  need(o.num_ppo_epochs >= 1, "num_ppo_epochs", "1 or more", o.num_ppo_epochs);
  need(o.response_length >= 1 && o.response_length < t.max_length, "response_length",
       "1 to max_length - 1 (" + std::to_string(t.max_length - 1) + ")", o.response_length);
  need(o.ptx_max_length >= 2, "ptx_max_length", "2 or more", o.ptx_max_length);
  need(o.ptx_ratio >= 0, "ptx_ratio", "0 or more", o.ptx_ratio);
  DataParallel group(t, "ppo");  // the rendezvous first, so that all ranks learn rank 0's verdict on the folder
  const auto output_lock = claim_output_dir(t, group);  // held until the models are written
  const torch::Device device = data_parallel_device(pick_device(t.device));
  torch::manual_seed(static_cast<uint64_t>(t.seed));
  const std::string tokenizer_path = !o.tokenizer.empty() ? o.tokenizer : o.sft_model_path;
  auto tokenizer = load_tokenizer(tokenizer_path);
  check_same_tokenizer(*tokenizer, o.reward_model_path);
  const PromptFormat format = PromptFormat::from_name(o.prompt_format, o.sft_model_path);
  const int64_t eos_id = format.end_of_response_id(*tokenizer);
  if (eos_id < 0)
    fail("ppo: " + tokenizer_path, "an end-of-response token for the " + format.name() + " format (eos_token)",
         "none (responses could not end; set eos_token in tokenizer_config.json)");
  const int64_t pad_id = pad_id_of(*tokenizer);

  PpoModels models;
  LoadOptions load{torch::kFloat32, device};
  models.policy = load_model(o.sft_model_path, load);
  check_model_fits_tokenizer(models.policy->config(), o.sft_model_path, tokenizer->vocab_size(), tokenizer_path, "ppo");
  // With LoRA the reference is the policy's frozen base with adapters disabled: the weights are held once.
  models.reference = t.memory.use_peft ? models.policy : load_model(o.sft_model_path, load);
  models.reward_model = load_model(o.reward_model_path, load);
  check_model_fits_tokenizer(models.reward_model->config(), o.reward_model_path, tokenizer->vocab_size(),
                             tokenizer_path, "ppo");
  check(models.reward_model->has_score_head(), "ppo: " + o.reward_model_path + " is not a reward model (no score head)");
  models.reward_offset = load_reward_offset(o.reward_model_path);
  // The value model starts from the normalised RM (the paper): the offset of the directory it is read from.
  models.value_offset = load_reward_offset(o.value_model_path.empty() ? o.reward_model_path : o.value_model_path);
  if (t.memory.use_peft && o.value_model_path.empty()) {
    models.value_model = models.reward_model;  // adapters + its own head over the RM's base; the RM is that base
  } else {
    Transformer value_source = load_model(o.value_model_path.empty() ? o.reward_model_path : o.value_model_path, load);
    models.value_model = value_source->has_lm_head() ? copy_with_heads(*value_source, false, true) : value_source;
  }

  JsonlOptions jsonl{t.skip_invalid_lines};
  ReadReport report;
  std::vector<std::vector<int64_t>> prompts;
  for (const auto& ex : read_prompt_examples(files.train, jsonl, &report))
    prompts.push_back((ex.prompt_messages.empty() ? encode_prompt(*tokenizer, format, ex.prompt, "", false)
                                                  : encode_prompt(*tokenizer, format, ex.prompt_messages, "", false))
                          .prompt_ids);
  // train_ppo keeps the end of a prompt longer than max_length - response_length; all of them that long is a mistake.
  size_t too_long = 0;
  for (const auto& p : prompts) too_long += static_cast<int64_t>(p.size()) > t.max_length - o.response_length;
  const std::string room = std::to_string(t.max_length - o.response_length);
  check_some_examples_fit(prompts.size() - too_long, too_long, 0, o.dataset,
                          "--max_length minus --response_length = " + room + " tokens", "ppo");
  size_t longest = 0;
  for (const auto& p : prompts) longest = std::max(longest, p.size());
  longest = std::min<size_t>(longest, static_cast<size_t>(std::max<int64_t>(1, t.max_length - o.response_length))) +
            static_cast<size_t>(o.response_length);
  check_fits_positions(models.reward_model->config(), o.reward_model_path, longest, "ppo");
  if (!o.ptx_dataset.empty()) longest = std::max(longest, static_cast<size_t>(o.ptx_max_length));
  check_fits_positions(models.policy->config(), o.sft_model_path, longest, "ppo");
  std::vector<Sequence> ptx;
  if (!o.ptx_dataset.empty())  // as SFT encodes pretraining text
    ptx = pack_texts(read_text_examples(split_files(o.ptx_dataset, t.dataset_train_split), jsonl), *tokenizer,
                     static_cast<size_t>(o.ptx_max_length), prompt_wants_bos(*tokenizer), false,
                     parse_packing_strategy(o.ptx_packing));
  if (!o.quiet) {
    const std::string ptx_summary = ptx.empty() || o.ptx_coef <= 0 || o.ptx_ratio <= 0
                                        ? "plain PPO (no ptx)"
                                        : "PPO-ptx, ptx_coef " + std::to_string(o.ptx_coef) + ", ptx_ratio " +
                                              std::to_string(o.ptx_ratio);
    std::fprintf(stderr, "ppo: %s; %zu prompts; %zu pretraining windows; %s\n", report.summary().c_str(),
                 prompts.size(), ptx.size(), ptx_summary.c_str());
  }
  RewardFunction reward_function;
  if (text_reward)  // each response decoded as the evaluation reads it: the tokens before EOS, specials skipped
    reward_function = [&](const std::vector<int64_t>& indices, const torch::Tensor& ids, const torch::Tensor& mask) {
      auto cpu_ids = ids.to(torch::kCPU), cpu_mask = mask.to(torch::kCPU);
      std::vector<float> scores;
      for (int64_t b = 0; b < cpu_ids.size(0); ++b) {
        std::vector<int64_t> tokens;
        for (int64_t t = 0; t < cpu_ids.size(1) && cpu_mask[b][t].item<int64_t>() != 0; ++t) {
          const int64_t id = cpu_ids[b][t].item<int64_t>();
          if (id == eos_id) break;
          tokens.push_back(id);
        }
        scores.push_back(static_cast<float>(
            text_reward(static_cast<size_t>(indices[static_cast<size_t>(b)]), tokenizer->decode(tokens, true))));
      }
      return torch::tensor(scores);
    };
  auto result = train_ppo(o, models, prompts, ptx, eos_id, pad_id, reward_function, nullptr,
                          o.save_rollouts ? rollout_writer(t.output_dir) : nullptr, &group);
  if (rendezvous_from_environment().rank != 0) return result;  // rank 0 writes the models
  save_model(*models.policy, t.output_dir);
  copy_tokenizer_files(tokenizer_path, t.output_dir);
  save_model(*models.value_model, t.output_dir + "/value_model");
  // Its read-out less this offset is V (as for the RM it came from), so --value_model_path on it reads the same values.
  save_reward_offset(t.output_dir + "/value_model", models.value_offset);
  return result;
}

}  // namespace rlhf
