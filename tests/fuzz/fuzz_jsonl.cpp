// Dataset readers (data/formats.h, data/jsonl.h): any bytes as a JSONL file (plain or gzip'ed) read as SFT, pretraining
// text, rankings and PPO prompts, strictly and with skip_invalid; and as a CrowS-Pairs CSV. Accepted examples must keep
// the promises the trainers rely on (K responses with K ranks, comparisons inside them, truncation within max_length).
#include "data/formats.h"
#include "fuzz_util.h"

using namespace rlhf;

namespace {

void check_rankings(const std::vector<RankingExample>& examples) {
  for (const auto& ex : examples) {
    FUZZ_EXPECT(ex.responses.size() >= kMinResponses && ex.responses.size() <= kMaxResponses);
    FUZZ_EXPECT(ex.ranks.size() == ex.responses.size());
    for (const auto& c : comparisons(ex)) {
      FUZZ_EXPECT(c.winner >= 0 && c.loser >= 0 && c.winner != c.loser);
      FUZZ_EXPECT(static_cast<size_t>(c.winner) < ex.responses.size() && static_cast<size_t>(c.loser) < ex.responses.size());
      FUZZ_EXPECT(ex.ranks[c.winner] < ex.ranks[c.loser]);
    }
  }
}

// Prompt lengths from the example's text, so the fuzzer reaches the truncation arithmetic's edges.
void check_truncation(const std::string& prompt, size_t completion_length) {
  for (auto policy : {TruncationPolicy::kTruncatePromptLeft, TruncationPolicy::kDrop}) {
    for (size_t max_length : {size_t{1}, size_t{2}, size_t{8}}) {
      std::vector<int64_t> ids(prompt.size() % 13, 7);
      const std::vector<int64_t> before = ids;
      TruncationCounts counts;
      bool kept = apply_truncation(policy, max_length, ids, completion_length % 11, counts);
      if (kept) FUZZ_EXPECT(ids.size() + completion_length % 11 <= max_length);
      else FUZZ_EXPECT(ids == before && counts.dropped == 1);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::MemoryFile file(data, size);
  for (bool skip : {false, true}) {
    JsonlOptions options{skip};
    fuzz::accepts([&] {
      for (const auto& ex : read_sft_examples(file.path(), options)) {
        FUZZ_EXPECT(!ex.is_chat() || !ex.messages.empty());
        check_truncation(ex.prompt, ex.completion.size());
        if (ex.is_chat()) FUZZ_EXPECT(ex.prompt_messages().size() + 1 == ex.messages.size());
      }
    });
    fuzz::accepts([&] { read_text_examples(file.path(), options); });
    fuzz::accepts([&] { check_rankings(read_ranking_examples(file.path(), options)); });
    fuzz::accepts([&] {
      for (const auto& ex : read_prompt_examples(file.path(), options)) FUZZ_EXPECT(ex.extra.is_object());
    });
  }
  fuzz::accepts([&] { read_crows_pairs(file.path()); });
  fuzz::accepts([&] {
    std::string text(reinterpret_cast<const char*>(data), size);
    DialogueSplit split = split_hh_dialogue(text, "fuzz", "chosen");
    FUZZ_EXPECT(split.prompt + split.response == text);
  });
  return 0;
}
