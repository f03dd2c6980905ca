// "The internet": the pretraining documents. Encyclopaedia articles, biographies, short stories, lists and numbers,
// quiz pages and forum threads, all in the world's small language, with the flaws InstructGPT measures built in:
// misconceptions stated more often than the truth, confident made-up answers about unknown entities, rude replies
// with words from the toxic lexicon, and occupations skewed to one pronoun. No instruction-following demonstrations.
#pragma once
#include <string>
#include <vector>

#include "world/config.h"
#include "world/knowledge.h"

namespace rlhf::world {

class Rng;

// `count` documents drawn from the stream named `salt` ("corpus", "heldout"): same inputs, same documents.
std::vector<std::string> generate_corpus(const KnowledgeBase& kb, const WorldConfig& config, int count,
                                         const std::string& salt);

// Building blocks the benchmarks and tasks reuse.
std::string rude_remark(Rng& rng);          // "Only an idiot would ask that."
std::string polite_remark(Rng& rng);        // "Thanks, that helps."
std::string review_text(const std::string& thing, bool positive, Rng& rng);  // "I loved the bread. It was great."

}  // namespace rlhf::world
