#include "infer/batch.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "common/error.h"
#include "model/logprobs.h"

namespace rlhf {

PackingStrategy parse_packing_strategy(const std::string& name, const std::string& where) {
  if (name == "wrapped") return PackingStrategy::kWrapped;
  if (name == "bfd") return PackingStrategy::kBfd;
  fail(where, "bfd or wrapped", name);
}

namespace {

// One example to pack: its tokens and which of them are trained.
struct Piece {
  std::vector<int64_t> ids;
  std::vector<uint8_t> trained;
};

// Examples end to end, cut every `window` tokens.
std::vector<Sequence> wrap(const std::vector<Piece>& pieces, size_t window, bool keep_last) {
  std::vector<int64_t> stream;
  std::vector<uint8_t> trained;
  for (const auto& p : pieces) {
    stream.insert(stream.end(), p.ids.begin(), p.ids.end());
    trained.insert(trained.end(), p.trained.begin(), p.trained.end());
  }
  std::vector<Sequence> windows;
  for (size_t start = 0; keep_last ? start + 1 < stream.size() : start + window <= stream.size(); start += window) {
    const size_t end = std::min(stream.size(), start + window);
    Sequence s;
    s.ids.assign(stream.begin() + static_cast<std::ptrdiff_t>(start), stream.begin() + static_cast<std::ptrdiff_t>(end));
    s.loss_mask.assign(trained.begin() + static_cast<std::ptrdiff_t>(start),
                       trained.begin() + static_cast<std::ptrdiff_t>(end));
    windows.push_back(std::move(s));
  }
  return windows;
}

// Best-fit decreasing: longest piece first, each into the window with the least room that still holds it. A piece's
// first token is never trained: nothing before it in its own example predicts it.
std::vector<Sequence> best_fit_decreasing(std::vector<Piece> pieces, size_t window) {
  std::vector<Piece> fitted;
  for (auto& p : pieces)  // longer than a window: window-long pieces
    for (size_t start = 0; start < p.ids.size(); start += window) {
      const size_t end = std::min(p.ids.size(), start + window);
      fitted.push_back({std::vector<int64_t>(p.ids.begin() + static_cast<std::ptrdiff_t>(start),
                                             p.ids.begin() + static_cast<std::ptrdiff_t>(end)),
                        std::vector<uint8_t>(p.trained.begin() + static_cast<std::ptrdiff_t>(start),
                                             p.trained.begin() + static_cast<std::ptrdiff_t>(end))});
    }
  std::vector<size_t> order(fitted.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return fitted[a].ids.size() > fitted[b].ids.size(); });
  std::vector<Sequence> windows;
  std::multimap<size_t, size_t> room;  // free tokens -> window
  for (size_t i : order) {
    const Piece& p = fitted[i];
    if (p.ids.empty()) continue;
    auto it = room.lower_bound(p.ids.size());
    size_t w;
    if (it == room.end()) {
      w = windows.size();
      windows.emplace_back();
    } else {
      w = it->second;
      room.erase(it);
    }
    Sequence& s = windows[w];
    for (size_t j = 0; j < p.ids.size(); ++j) {
      s.ids.push_back(p.ids[j]);
      s.loss_mask.push_back(j == 0 ? 0 : p.trained[j]);
      s.positions.push_back(static_cast<int64_t>(j));
    }
    if (s.ids.size() < window) room.emplace(window - s.ids.size(), w);
  }
  return windows;
}

}  // namespace

std::vector<Sequence> pack_texts(const std::vector<std::string>& texts, const Tokenizer& tokenizer, size_t window,
                                 bool add_bos, bool keep_last, PackingStrategy strategy) {
  const int64_t eos = tokenizer.eos_id();
  std::vector<Piece> pieces;
  for (const auto& text : texts) {
    Piece p;
    // Apart, a text starts as it does in a stream: after an EOS (the start token the evaluation gives a text too),
    // unless the tokenizer adds its own BOS.
    if (strategy == PackingStrategy::kBfd && !add_bos && eos >= 0) p.ids.push_back(eos);
    auto ids = tokenizer.encode(text, add_bos);
    p.ids.insert(p.ids.end(), ids.begin(), ids.end());
    if (eos >= 0) p.ids.push_back(eos);
    p.trained.assign(p.ids.size(), 1);
    pieces.push_back(std::move(p));
  }
  if (strategy == PackingStrategy::kBfd) return best_fit_decreasing(std::move(pieces), window);
  return wrap(pieces, window, keep_last);
}

std::vector<Sequence> pack_sequences(const std::vector<Sequence>& examples, size_t window, PackingStrategy strategy) {
  std::vector<Piece> pieces;
  for (const auto& e : examples) {
    Piece p{e.ids, {}};
    for (size_t i = 0; i < e.ids.size(); ++i)
      p.trained.push_back(!e.loss_mask.empty() ? e.loss_mask[i] : static_cast<int64_t>(i) >= e.prompt_length ? 1 : 0);
    pieces.push_back(std::move(p));
  }
  if (strategy == PackingStrategy::kBfd) return best_fit_decreasing(std::move(pieces), window);
  return wrap(pieces, window, true);
}

Sequence fit_to_length(PromptTokens tokens, size_t max_length, TruncationPolicy policy, TruncationCounts& counts,
                       bool* kept) {
  if (tokens.response_ids.size() >= max_length) tokens.response_ids.resize(max_length - 1);
  *kept = apply_truncation(policy, max_length, tokens.prompt_ids, tokens.response_ids.size(), counts);
  Sequence s;
  s.prompt_length = static_cast<int64_t>(tokens.prompt_ids.size());
  s.ids = tokens.prompt_ids;
  s.ids.insert(s.ids.end(), tokens.response_ids.begin(), tokens.response_ids.end());
  return s;
}

PaddedBatch pad_right(const std::vector<const Sequence*>& sequences, int64_t pad_id, torch::Device device,
                      int64_t min_length) {
  const int64_t B = static_cast<int64_t>(sequences.size());
  int64_t T = min_length;
  for (const auto* s : sequences) T = std::max<int64_t>(T, static_cast<int64_t>(s->ids.size()));
  auto ids = torch::full({B, T}, pad_id, torch::kLong);
  auto attention = torch::zeros({B, T}, torch::kLong);
  auto loss_mask = torch::zeros({B, T}, torch::kLong);
  const bool apart = std::any_of(sequences.begin(), sequences.end(), [](const Sequence* s) { return !s->positions.empty(); });
  // Pads are examples of their own (position 0): they see only themselves and nothing sees them.
  auto positions = apart ? torch::zeros({B, T}, torch::kLong) : torch::Tensor();
  for (int64_t b = 0; b < B; ++b) {
    const auto& s = *sequences[b];
    const int64_t n = static_cast<int64_t>(s.ids.size());
    ids[b].slice(0, 0, n).copy_(torch::tensor(s.ids, torch::kLong));
    attention[b].slice(0, 0, n).fill_(1);
    if (!s.loss_mask.empty())
      loss_mask[b].slice(0, 0, n).copy_(torch::tensor(std::vector<int64_t>(s.loss_mask.begin(), s.loss_mask.end())));
    else
      loss_mask[b].slice(0, s.prompt_length, n).fill_(1);
    if (apart)
      positions[b].slice(0, 0, n).copy_(s.positions.empty() ? torch::arange(n, torch::kLong) : torch::tensor(s.positions, torch::kLong));
  }
  return {ids.to(device), attention.to(device), loss_mask.to(device), apart ? positions.to(device) : torch::Tensor()};
}

LeftPadded left_pad(const std::vector<const std::vector<int64_t>*>& rows, int64_t pad_id) {
  int64_t width = 1;
  for (const auto* row : rows) width = std::max<int64_t>(width, static_cast<int64_t>(row->size()));
  auto ids = torch::full({static_cast<int64_t>(rows.size()), width}, pad_id, torch::kLong);
  auto mask = torch::zeros_like(ids);
  for (size_t b = 0; b < rows.size(); ++b) {
    const int64_t n = static_cast<int64_t>(rows[b]->size());
    if (n == 0) continue;
    ids[static_cast<int64_t>(b)].slice(0, width - n).copy_(torch::tensor(*rows[b], torch::kLong));
    mask[static_cast<int64_t>(b)].slice(0, width - n).fill_(1);
  }
  return {ids, mask};
}

GeneratedRows generate_rows(TransformerImpl& model, const std::vector<std::vector<int64_t>>& rows,
                            const GenerationOptions& options, int64_t batch_size, at::Generator generator, bool by_length,
                            GenerationStats* stats) {
  const torch::Device device = model.embed_tokens.device();
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (by_length)
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rows[a].size() < rows[b].size(); });
  GeneratedRows out;
  out.ids.resize(rows.size()), out.logprobs.resize(rows.size());
  for (size_t start = 0; start < rows.size(); start += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(rows.size(), start + static_cast<size_t>(batch_size));
    std::vector<const std::vector<int64_t>*> batch;
    for (size_t k = start; k < end; ++k) batch.push_back(&rows[order[k]]);
    const LeftPadded prompts = left_pad(batch, options.pad_token_id);
    const auto ids = prompts.ids.to(device), mask = prompts.mask.to(device);
    const auto t0 = std::chrono::steady_clock::now();
    auto generated = generate(model, ids, mask, options, generator);
    // The clock stops when the tokens are here: on a GPU the copy waits for the queued work.
    const auto response_ids = generated.response_ids.to(torch::kCPU).contiguous();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto lengths = generated.response_mask.sum(1).to(torch::kCPU);
    const auto logprobs = generated.response_logprobs.to(torch::kCPU, torch::kFloat32).contiguous();
    for (int64_t i = 0; i < response_ids.size(0); ++i) {
      const int64_t n = lengths[i].item<int64_t>();
      const int64_t* tokens = response_ids[i].data_ptr<int64_t>();
      const float* lp = logprobs[i].data_ptr<float>();
      const size_t row = order[start + static_cast<size_t>(i)];
      out.ids[row].assign(tokens, tokens + n);
      out.logprobs[row].assign(lp, lp + n);
      if (stats) stats->tokens_generated += n;
    }
    if (stats) {
      stats->tokens_prompted += prompts.mask.sum().item<int64_t>();
      stats->batch_positions += response_ids.numel();
      stats->seconds += seconds;
    }
  }
  return out;
}

int64_t pad_id_of(const Tokenizer& tokenizer) {
  return std::max<int64_t>(0, tokenizer.pad_id() >= 0 ? tokenizer.pad_id() : tokenizer.eos_id());
}

torch::Tensor last_token_index(const torch::Tensor& mask) {
  auto positions = torch::arange(mask.size(1), mask.options().dtype(torch::kLong)).unsqueeze(0);
  return (positions * mask.to(torch::kLong)).argmax(1);
}

torch::Tensor score_at_last_token(TransformerImpl& model, const torch::Tensor& ids, const torch::Tensor& mask) {
  auto hidden = model.hidden_states(ids, positions_from_mask(mask), mask);  // [B, T, C]
  auto last = last_token_index(mask);
  auto picked = hidden.gather(1, last.view({-1, 1, 1}).expand({-1, 1, hidden.size(2)})).squeeze(1);  // [B, C]
  return model.scores(picked);
}

}  // namespace rlhf
