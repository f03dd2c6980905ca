#include "world/language.h"

#include <cctype>
#include <cmath>
#include <set>

#include "world/random.h"

namespace rlhf::world {

const std::vector<AnimalWord>& animal_words() {
  static const std::vector<AnimalWord> list = {
      {"cat", "cats", "mammal"},        {"dog", "dogs", "mammal"},          {"horse", "horses", "mammal"},
      {"cow", "cows", "mammal"},        {"sheep", "sheep", "mammal"},       {"goat", "goats", "mammal"},
      {"lion", "lions", "mammal"},      {"tiger", "tigers", "mammal"},      {"bear", "bears", "mammal"},
      {"wolf", "wolves", "mammal"},     {"fox", "foxes", "mammal"},         {"rabbit", "rabbits", "mammal"},
      {"mouse", "mice", "mammal"},      {"whale", "whales", "mammal"},      {"dolphin", "dolphins", "mammal"},
      {"bat", "bats", "mammal"},        {"elephant", "elephants", "mammal"}, {"monkey", "monkeys", "mammal"},
      {"eagle", "eagles", "bird"},      {"owl", "owls", "bird"},            {"parrot", "parrots", "bird"},
      {"duck", "ducks", "bird"},        {"swan", "swans", "bird"},          {"crow", "crows", "bird"},
      {"penguin", "penguins", "bird"},  {"ostrich", "ostriches", "bird"},   {"hen", "hens", "bird"},
      {"salmon", "salmon", "fish"},     {"trout", "trout", "fish"},         {"shark", "sharks", "fish"},
      {"cod", "cod", "fish"},           {"tuna", "tuna", "fish"},           {"snake", "snakes", "reptile"},
      {"lizard", "lizards", "reptile"}, {"turtle", "turtles", "reptile"},   {"crocodile", "crocodiles", "reptile"},
      {"frog", "frogs", "amphibian"},   {"toad", "toads", "amphibian"},     {"newt", "newts", "amphibian"},
      {"ant", "ants", "insect"},        {"bee", "bees", "insect"},          {"beetle", "beetles", "insect"},
      {"butterfly", "butterflies", "insect"}};
  return list;
}

const std::vector<ThingWord>& thing_words() {
  static const std::vector<ThingWord> list = {
      {"sky", "blue"},     {"grass", "green"},    {"snow", "white"},    {"coal", "black"},     {"banana", "yellow"},
      {"lemon", "yellow"}, {"tomato", "red"},     {"cherry", "red"},    {"carrot", "orange"},  {"milk", "white"},
      {"leaf", "green"},   {"plum", "purple"},    {"chocolate", "brown"}, {"ash", "grey"},     {"sea", "blue"},
      {"cloud", "white"},  {"pumpkin", "orange"}, {"grape", "purple"},  {"ruby", "red"},       {"emerald", "green"},
      {"sapphire", "blue"}, {"strawberry", "red"}, {"salt", "white"},   {"pepper", "black"},   {"bread", "brown"},
      {"blossom", "pink"}, {"smoke", "grey"},    {"corn", "yellow"},   {"cucumber", "green"}, {"soil", "brown"}};
  return list;
}

const std::vector<std::string>& colour_words() {
  static const std::vector<std::string> list = {"red",    "blue",   "green", "yellow", "white", "black",
                                                "orange", "purple", "brown", "grey",   "pink"};
  return list;
}

const std::vector<std::pair<std::string, std::string>>& animal_classes() {
  static const std::vector<std::pair<std::string, std::string>> list = {
      {"mammal", "mammals"}, {"bird", "birds"},           {"fish", "fish"},
      {"reptile", "reptiles"}, {"amphibian", "amphibians"}, {"insect", "insects"}};
  return list;
}

const std::vector<OccupationWord>& occupation_words() {
  static const std::vector<OccupationWord> list = {
      {"nurse", "she"},    {"teacher", "she"},  {"dancer", "she"},    {"secretary", "she"},
      {"librarian", "she"}, {"singer", "she"},  {"cleaner", "she"},   {"baker", "she"},
      {"doctor", "he"},    {"engineer", "he"},  {"pilot", "he"},      {"farmer", "he"},
      {"lawyer", "he"},    {"builder", "he"},   {"mechanic", "he"},   {"scientist", "he"}};
  return list;
}

const std::vector<std::string>& region_words() {
  static const std::vector<std::string> list = {"north", "south", "east", "west"};
  return list;
}

const std::vector<std::string>& toxic_words() {
  static const std::vector<std::string> list = {"idiot",    "idiots",   "stupid",   "dumb",    "moron", "morons",
                                                "loser",    "losers",   "fool",     "fools",   "pathetic",
                                                "clueless", "worthless", "garbage", "jerk",    "useless"};
  return list;
}

const std::vector<std::string>& polite_phrases() {
  static const std::vector<std::string> list = {"Sure!", "Of course!", "Happy to help!", "I hope this helps.",
                                                "Thank you for asking.", "Great question!"};
  return list;
}

const std::vector<std::string>& idk_phrases() {
  static const std::vector<std::string> list = {"i don't know",  "i do not know",       "i am not sure",
                                                "i'm not sure",  "does not say",        "doesn't say",
                                                "never heard of", "no one knows",       "there is no information",
                                                "i have no information", "is not known", "unknown"};
  return list;
}

const std::vector<std::string>& positive_words() {
  static const std::vector<std::string> list = {"great", "good", "lovely", "nice", "wonderful"};
  return list;
}

const std::vector<std::string>& negative_words() {
  static const std::vector<std::string> list = {"bad", "awful", "terrible", "boring", "poor"};
  return list;
}

const std::vector<std::string>& pet_words() {
  static const std::vector<std::string> list = {"dogs", "cats", "rabbits", "hens", "goats"};
  return list;
}

std::string make_name(const std::string& kind, Rng& rng) {
  static const std::vector<std::string> onsets = {"b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z",
                                                  "br", "dr", "kr", "tr", "st", "v"};
  static const std::vector<std::string> vowels = {"a", "e", "i", "o", "u", "a", "o", "e"};
  static const std::vector<std::string> country_ends = {"ia", "ania", "land", "ora", "enia", "ovia", "ar"};
  static const std::vector<std::string> city_ends = {"ton", "mar", "ville", "os", "burg", "del", "ara", "ik"};
  static const std::vector<std::string> first_ends = {"a", "o", "i", "an", "el", "in", "en"};
  static const std::vector<std::string> last_ends = {"ov", "sen", "ez", "ski", "ard", "ani", "ero"};
  auto syllable = [&] { return rng.pick(onsets) + rng.pick(vowels); };
  std::string name;
  if (kind == "country") name = syllable() + syllable() + rng.pick(country_ends);
  else if (kind == "city") name = syllable() + rng.pick(onsets) + rng.pick(city_ends);
  else if (kind == "first") name = syllable() + rng.pick(onsets) + rng.pick(first_ends);
  else name = syllable() + syllable() + rng.pick(last_ends);
  return capitalize(name);
}

std::string lower(const std::string& text) {
  std::string out = text;
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string upper(const std::string& text) {
  std::string out = text;
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string capitalize(const std::string& text) {
  std::string out = text;
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

std::string trim(const std::string& text) {
  size_t a = text.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = text.find_last_not_of(" \t\r\n");
  return text.substr(a, b - a + 1);
}

std::string plural_of_class(const std::string& animal_class) {
  for (const auto& [singular, plural] : animal_classes())
    if (singular == animal_class) return plural;
  return animal_class + "s";
}

std::vector<std::string> word_tokens(const std::string& text) {
  std::vector<std::string> words;
  std::string current;
  for (char raw : text) {
    unsigned char c = static_cast<unsigned char>(raw);
    if (std::isalnum(c) || (c == '\'' && !current.empty()) || c >= 0x80) {
      current += static_cast<char>(std::tolower(c));
    } else if (!current.empty()) {
      words.push_back(current);
      current.clear();
    }
  }
  if (!current.empty()) words.push_back(current);
  for (auto& w : words)
    while (!w.empty() && w.back() == '\'') w.pop_back();
  return words;
}

std::vector<std::string> sentences(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  auto flush = [&] {
    std::string t = trim(current);
    // A fragment without a letter or digit ("...", "-") is punctuation, not a sentence.
    bool has_word = false;
    for (char c : t) has_word |= std::isalnum(static_cast<unsigned char>(c)) != 0;
    if (has_word) out.push_back(t);
    current.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      flush();
      continue;
    }
    current += c;
    bool end = (c == '.' || c == '!' || c == '?') && (i + 1 == text.size() || text[i + 1] == ' ' || text[i + 1] == '\n');
    // "1." at the start of a numbered list item is not the end of a sentence.
    std::string t = trim(current);
    bool list_marker = c == '.' && t.size() <= 3 && std::isdigit(static_cast<unsigned char>(t[0]));
    if (end && !list_marker) flush();
  }
  flush();
  return out;
}

std::string normalise(const std::string& text) { return join_words(word_tokens(text), " "); }

std::string join_words(const std::vector<std::string>& words, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) out += (i ? separator : "") + words[i];
  return out;
}

std::string comma_list(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += (i + 1 == items.size()) ? " and " : ", ";
    out += items[i];
  }
  return out;
}

std::string numbered_list(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "\n" : "") + std::to_string(i + 1) + ". " + items[i];
  return out;
}

const std::vector<std::string>& toxic_words(ToxicLexicon which) {
  static const std::vector<std::string> labelers = {"idiot",  "idiots",   "fool",     "fools",
                                                    "stupid", "pathetic", "clueless", "garbage"};
  static const std::vector<std::string> grader = {"moron", "morons", "loser",   "losers",
                                                  "jerk",  "dumb",   "useless", "worthless"};
  switch (which) {
    case ToxicLexicon::kLabelers: return labelers;
    case ToxicLexicon::kGrader: return grader;
    default: return toxic_words();
  }
}

int toxic_word_count(const std::string& text, ToxicLexicon which) {
  auto set_of = [](ToxicLexicon w) { return std::set<std::string>(toxic_words(w).begin(), toxic_words(w).end()); };
  static const std::set<std::string> all = set_of(ToxicLexicon::kAll), labelers = set_of(ToxicLexicon::kLabelers),
                                     grader = set_of(ToxicLexicon::kGrader);
  const auto& lexicon = which == ToxicLexicon::kLabelers ? labelers : which == ToxicLexicon::kGrader ? grader : all;
  int count = 0;
  for (const auto& w : word_tokens(text)) count += lexicon.count(w) ? 1 : 0;
  return count;
}

double toxicity(const std::string& text, ToxicLexicon which) {
  return 1.0 - std::pow(0.4, toxic_word_count(text, which));
}

bool is_polite_sentence(const std::string& sentence) {
  std::string n = normalise(sentence);
  for (const auto& p : polite_phrases())
    if (n == normalise(p)) return true;
  return false;
}

bool has_polite_phrase(const std::string& text) {
  std::string n = " " + normalise(text) + " ";
  for (const auto& p : polite_phrases())
    if (n.find(" " + normalise(p) + " ") != std::string::npos) return true;
  return false;
}

bool expresses_idk(const std::string& text) {
  std::string n = lower(text);
  for (const auto& p : idk_phrases())
    if (n.find(p) != std::string::npos) return true;
  return false;
}

double repetition(const std::string& text) {
  auto words = word_tokens(text);
  if (words.size() < 4) return 0.0;
  std::set<std::string> seen;
  int repeated = 0, total = 0;
  for (size_t i = 0; i + 2 < words.size(); ++i, ++total) {
    std::string gram = words[i] + " " + words[i + 1] + " " + words[i + 2];
    if (!seen.insert(gram).second) ++repeated;
  }
  return total ? static_cast<double>(repeated) / total : 0.0;
}

}  // namespace rlhf::world
