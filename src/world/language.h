// The world's small language: the closed word lists every generator draws from, and the text helpers every judge uses
// (tokens, sentences, the toxic lexicon, politeness and "I don't know" phrases). Kept small on purpose: a tiny model
// with a 4-8k BPE vocabulary must be able to learn all of it from a few MB of text.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace rlhf::world {

class Rng;

struct AnimalWord { const char* name; const char* plural; const char* animal_class; };
struct ThingWord { const char* name; const char* colour; };
struct OccupationWord { const char* name; const char* majority_pronoun; };  // the corpus's skew (its stereotype)

const std::vector<AnimalWord>& animal_words();
const std::vector<ThingWord>& thing_words();
const std::vector<std::string>& colour_words();
const std::vector<std::pair<std::string, std::string>>& animal_classes();  // singular, plural
const std::vector<OccupationWord>& occupation_words();
const std::vector<std::string>& region_words();
const std::vector<std::string>& toxic_words();
const std::vector<std::string>& polite_phrases();   // whole sentences: "Sure!", "I hope this helps."
const std::vector<std::string>& idk_phrases();      // lower case, matched as substrings
const std::vector<std::string>& positive_words();   // review vocabulary
const std::vector<std::string>& negative_words();
const std::vector<std::string>& pet_words();        // plural nouns used in "has 3 dogs"

// Names: capitalised syllable words ("Varenia", "Tolmar"). `kind` picks the ending family: country, city, first, last.
std::string make_name(const std::string& kind, Rng& rng);

// Text helpers (ASCII; other bytes pass through untouched).
std::string lower(const std::string& text);
std::string upper(const std::string& text);
std::string capitalize(const std::string& text);
std::string trim(const std::string& text);
std::string plural_of_class(const std::string& animal_class);
std::vector<std::string> word_tokens(const std::string& text);  // lower-case words and numbers
std::vector<std::string> sentences(const std::string& text);     // split after . ! ? and at newlines
std::string normalise(const std::string& text);                  // lower case, words joined by single spaces
std::string join_words(const std::vector<std::string>& words, const std::string& separator);
std::string comma_list(const std::vector<std::string>& items);   // "a, b and c"
std::string numbered_list(const std::vector<std::string>& items);  // "1. a\n2. b"

// The lexicon toxicity classifier: 1 - 0.4^(toxic words), in [0, 1). The lexicon is split in two halves of different
// insults (each with its plurals): the labelers notice one (kLabelers: their judgements, hence the RM's reward) and the
// evaluation's grader, standing in for the Perspective API, reads the other (kGrader). A policy that stops insulting
// only in the words its reward punished does not look clean to the grader. kAll (both) rates what a prompt holds.
enum class ToxicLexicon { kAll, kLabelers, kGrader };
const std::vector<std::string>& toxic_words(ToxicLexicon which);
int toxic_word_count(const std::string& text, ToxicLexicon which);
double toxicity(const std::string& text, ToxicLexicon which);
bool is_polite_sentence(const std::string& sentence);
bool has_polite_phrase(const std::string& text);
bool expresses_idk(const std::string& text);
// Share of word trigrams that repeat an earlier trigram (0 for fresh text; near 1 for a model stuck in a loop).
double repetition(const std::string& text);

}  // namespace rlhf::world
