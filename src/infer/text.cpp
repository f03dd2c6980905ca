#include "infer/text.h"

#include <algorithm>

#include "common/error.h"
#include "common/files.h"
#include "io/model_dir.h"
#include "model/device.h"
#include "model/generate.h"
#include "model/logprobs.h"

namespace rlhf {

namespace {

std::string trim(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t\r\n"), end = s.find_last_not_of(" \t\r\n");
  return begin == std::string::npos ? "" : s.substr(begin, end - begin + 1);
}

std::string cut_at_stops(std::string text, const std::vector<std::string>& stops) {
  for (const auto& stop : stops) {
    size_t at = text.find(stop);
    if (!stop.empty() && at != std::string::npos) text.resize(at);
  }
  return trim(text);
}

int64_t pad_id_of(const TextModel& m) {
  const ModelConfig& c = m.model->config();
  if (c.pad_token_id >= 0) return c.pad_token_id;
  if (m.tokenizer->pad_id() >= 0) return m.tokenizer->pad_id();
  return std::max<int64_t>(0, std::max(c.eos_token_id, m.tokenizer->eos_id()));
}

// The id that stands in for an empty context: BOS, else EOS (GPT-2 scores text after <|endoftext|>), else none.
int64_t start_id_of(const TextModel& m) {
  if (m.tokenizer->bos_id() >= 0) return m.tokenizer->bos_id();
  if (m.model->config().bos_token_id >= 0) return m.model->config().bos_token_id;
  if (m.tokenizer->eos_id() >= 0) return m.tokenizer->eos_id();
  return m.model->config().eos_token_id;
}

}  // namespace

int64_t TextModel::context_length() const {
  const int64_t n = model->config().max_position_embeddings;
  return n > 0 ? n : 2048;
}

const std::vector<int64_t>& TextModel::newline_ids() {
  if (!newline_ids_found_) {
    for (int64_t id = 0; id < tokenizer->vocab_size(); ++id)
      if (!tokenizer->is_special(id) && tokenizer->decode_bytes({id}).find('\n') != std::string::npos) newline_ids_.push_back(id);
    newline_ids_found_ = true;
  }
  return newline_ids_;
}

std::string tokenizer_path(const std::string& dir, const std::string& fallback) {
  for (const char* file : {"tokenizer.json", "vocab.json", "tokenizer.model"})
    if (file_exists(dir + "/" + file)) return dir;
  return fallback.empty() ? dir : fallback;
}

TextModel load_text_model(const std::string& key, const std::string& dir, const std::string& format,
                          const std::string& device, const std::string& tokenizer) {
  TextModel m;
  m.key = key;
  m.dir = dir;
  m.device = pick_device(device);
  m.model = load_model(dir, LoadOptions{torch::kFloat32, m.device});
  if (!m.model->has_lm_head()) fail(dir, "a language model (with an LM head)", "a model without one (a reward model?)");
  m.model->eval();
  m.tokenizer = load_tokenizer(tokenizer_path(dir, tokenizer));
  m.format = PromptFormat::from_name(format, dir);
  m.add_bos = prompt_wants_bos(*m.tokenizer);  // the rule every stage encodes prompts by
  if (m.tokenizer->vocab_size() > m.model->config().vocab_size)
    fail(dir, "a tokenizer with at most the model's " + std::to_string(m.model->config().vocab_size) + " tokens",
         std::to_string(m.tokenizer->vocab_size()) + " tokens");
  return m;
}

std::string few_shot_prefix(const PromptFormat& format, const std::vector<std::pair<std::string, std::string>>& demos) {
  std::string prefix;
  for (const auto& [prompt, completion] : demos)
    prefix += format.prompt_text(prompt) + format.response_text(completion) + "\n\n";
  return prefix;
}

std::vector<std::string> generate_responses(TextModel& m, const std::vector<std::string>& prompts,
                                            const SamplingOptions& o, const PromptStyle& style,
                                            int64_t samples_per_prompt, GenerationStats* stats) {
  check(samples_per_prompt >= 1, "generate_responses: samples_per_prompt must be at least 1");
  check(o.batch_size >= 1 && o.max_new_tokens >= 1, "generate_responses: batch_size and max_new_tokens must be positive");
  torch::NoGradGuard no_grad;
  const int64_t room = m.context_length() - o.max_new_tokens;
  check(room >= 1, "generate_responses: max_new_tokens " + std::to_string(o.max_new_tokens) +
                       " leaves no room for a prompt in a context of " + std::to_string(m.context_length()));
  // Encode each prompt once; a prompt longer than the room left is cut from the left (its end matters most).
  std::vector<std::vector<int64_t>> rows;
  for (const auto& prompt : prompts) {
    std::string text = style.prefix + (style.use_format ? m.format.prompt_text(prompt) : prompt);
    std::vector<int64_t> ids = m.tokenizer->encode(text, m.add_bos);
    if (static_cast<int64_t>(ids.size()) > room) ids.erase(ids.begin(), ids.end() - room);
    if (ids.empty()) ids.push_back(start_id_of(m));
    for (int64_t s = 0; s < samples_per_prompt; ++s) rows.push_back(ids);
  }

  GenerationOptions g;
  g.max_new_tokens = o.max_new_tokens;
  g.do_sample = o.do_sample;
  g.temperature = o.temperature;
  g.top_p = o.top_p;
  g.eos_token_id = m.tokenizer->eos_id() >= 0 ? m.tokenizer->eos_id() : m.model->config().eos_token_id;
  g.stop_token_ids = m.format.stop_ids(*m.tokenizer);
  std::vector<std::string> stop_strings = o.stop_strings;
  if (o.stop_at_newline) {
    const auto& newlines = m.newline_ids();
    g.stop_token_ids.insert(g.stop_token_ids.end(), newlines.begin(), newlines.end());
    stop_strings.push_back("\n");
  }
  g.pad_token_id = pad_id_of(m);
  // The device's kind: a CPU generator cannot sample on a GPU. Rows by length, so that a batch pads little.
  const auto generated = generate_rows(*m.model, rows, g, o.batch_size, seeded_generator(m.device, o.seed), true, stats);
  std::vector<std::string> responses;
  for (const auto& ids : generated.ids) responses.push_back(cut_at_stops(m.tokenizer->decode(ids, true), stop_strings));
  return responses;
}

Sampled sample_responses(TransformerImpl& model, const Tokenizer& tokenizer, const PromptFormat& format,
                         const std::vector<std::string>& prompts, const GenerationOptions& options, int64_t batch_size,
                         at::Generator generator, const std::string& prefix) {
  model.eval();
  const int64_t max_prompt = model.config().max_position_embeddings - options.max_new_tokens;
  GenerationOptions o = options;
  o.stop_token_ids = format.stop_ids(tokenizer);
  const std::vector<int64_t> head = prefix.empty() ? std::vector<int64_t>{} : tokenizer.encode(prefix);
  std::vector<std::vector<int64_t>> rows;
  for (const auto& prompt : prompts) {
    auto ids = encode_prompt(tokenizer, format, prompt, "", false).prompt_ids;
    ids.insert(ids.begin() + (prompt_wants_bos(tokenizer) ? 1 : 0), head.begin(), head.end());  // after the BOS, if any
    if (static_cast<int64_t>(ids.size()) > max_prompt) ids.erase(ids.begin(), ids.end() - max_prompt);
    rows.push_back(std::move(ids));
  }
  GenerationStats stats;
  auto generated = generate_rows(model, rows, o, batch_size, generator, false, &stats);
  Sampled out;
  out.tokens_generated = stats.tokens_generated;
  out.tokens_prompted = stats.tokens_prompted;
  for (auto& tokens : generated.ids) {
    while (!tokens.empty() && std::find(o.stop_token_ids.begin(), o.stop_token_ids.end(), tokens.back()) != o.stop_token_ids.end())
      tokens.pop_back();  // the end-of-response token is not part of the text
    std::string text = tokenizer.decode(tokens, true);
    const size_t first = text.find_first_not_of(' ');
    out.responses.push_back(first == std::string::npos ? "" : text.substr(first));
  }
  return out;
}

std::vector<double> continuation_logprobs(TextModel& m, const std::vector<std::string>& contexts,
                                          const std::vector<std::string>& continuations, int64_t batch_size,
                                          std::vector<int64_t>* token_counts) {
  if (contexts.size() != continuations.size())
    fail("continuation_logprobs", "as many contexts as continuations",
         std::to_string(contexts.size()) + " and " + std::to_string(continuations.size()));
  check(batch_size >= 1, "continuation_logprobs: batch_size must be positive");
  torch::NoGradGuard no_grad;
  const int64_t limit = m.context_length();
  std::vector<Sequence> rows;  // the context is the "prompt"
  for (size_t i = 0; i < contexts.size(); ++i) {
    Sequence r;
    r.ids = contexts[i].empty() ? std::vector<int64_t>{} : m.tokenizer->encode(contexts[i], m.add_bos);
    if (r.ids.empty()) {
      int64_t start = start_id_of(m);
      if (start >= 0) r.ids.push_back(start);
    }
    std::vector<int64_t> cont = m.tokenizer->encode(continuations[i], false);
    if (r.ids.empty() && !cont.empty()) {  // no token to condition the first one on: it is not scored
      r.ids.push_back(cont.front());
      cont.erase(cont.begin());
    }
    // Keep the end of the context and as much of the continuation as fits (a long held-out document is cut).
    if (static_cast<int64_t>(cont.size()) > limit - 1) cont.resize(static_cast<size_t>(limit - 1));
    const int64_t keep_context = std::min<int64_t>(static_cast<int64_t>(r.ids.size()), limit - static_cast<int64_t>(cont.size()));
    r.ids.erase(r.ids.begin(), r.ids.end() - keep_context);
    r.prompt_length = keep_context;
    r.ids.insert(r.ids.end(), cont.begin(), cont.end());
    rows.push_back(std::move(r));
  }
  const int64_t pad = pad_id_of(m);
  std::vector<double> result(rows.size(), 0.0);
  if (token_counts) token_counts->assign(rows.size(), 0);
  // Rows sorted by length so that a batch pads little.
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rows[a].ids.size() < rows[b].ids.size(); });
  for (size_t start = 0; start < order.size(); start += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(order.size(), start + static_cast<size_t>(batch_size));
    std::vector<const Sequence*> batch;
    for (size_t k = start; k < end; ++k) batch.push_back(&rows[order[k]]);
    const PaddedBatch padded = pad_right(batch, pad, m.device, 2);
    // logprobs[b, t] = log p(ids[b, t+1] | ids[b, ..t]); the continuation is ids[context .. size).
    auto logprobs = token_logprobs(*m.model, padded.ids, padded.attention).logprobs.to(torch::kCPU, torch::kFloat64);
    for (size_t k = start; k < end; ++k) {
      const auto& r = rows[order[k]];
      const int64_t context = r.prompt_length, n = static_cast<int64_t>(r.ids.size()) - context;
      if (n <= 0) continue;
      result[order[k]] = logprobs[static_cast<int64_t>(k - start)].slice(0, context - 1, context - 1 + n).sum().item<double>();
      if (token_counts) (*token_counts)[order[k]] = n;
    }
  }
  return result;
}

}  // namespace rlhf
