#include "world/phrases.h"

#include <cctype>

#include "world/language.h"
#include "world/random.h"

namespace rlhf::world {

namespace {

std::string plural_of(const KnowledgeBase& kb, const std::string& animal) {
  const Animal* a = kb.animal(animal);
  return a ? a->plural : animal + "s";
}

// variant < 0: the canonical wording.
std::string fact_variant(const KnowledgeBase& kb, const std::string& relation, const std::string& s,
                         const std::string& o, int variant) {
  int v = variant < 0 ? 0 : variant;
  if (relation == "capital") return v % 2 == 0 ? "The capital of " + s + " is " + o + "." : o + " is the capital of " + s + ".";
  if (relation == "largest_city")
    return v % 2 == 0 ? "The largest city of " + s + " is " + o + "." : o + " is the largest city in " + s + ".";
  if (relation == "region") return v % 2 == 0 ? s + " is in the " + o + "." : s + " is a country in the " + o + ".";
  if (relation == "class") {
    if (v % 3 == 2) return capitalize(plural_of(kb, s)) + " are " + plural_of_class(o) + ".";
    return capitalize(with_article(s)) + " is " + with_article(o) + ".";
  }
  if (relation == "colour") return v % 2 == 0 ? "The " + s + " is " + o + "." : "The colour of the " + s + " is " + o + ".";
  if (relation == "occupation") return v % 2 == 0 ? s + " is " + with_article(o) + "." : s + " works as " + with_article(o) + ".";
  if (relation == "home") return s + " lives in " + o + ".";
  if (relation == "sum" || relation == "product" || relation == "difference") return s + " is " + o + ".";
  return s + " " + relation + " " + o + ".";
}

std::string question_variant(const std::string& relation, const std::string& s, int v) {
  if (relation == "capital") {
    if (v % 3 == 1) return "Which city is the capital of " + s + "?";
    if (v % 3 == 2) return "What is the capital city of " + s + "?";
    return "What is the capital of " + s + "?";
  }
  if (relation == "largest_city") return v % 2 ? "Which is the largest city in " + s + "?" : "What is the largest city of " + s + "?";
  if (relation == "region") return v % 2 ? "In which part of the world is " + s + "?" : "Where is " + s + "?";
  if (relation == "class") {
    if (v % 3 == 1) return "What class of animal is " + with_article(s) + "?";
    if (v % 3 == 2) return "What type of animal is " + with_article(s) + "?";
    return "What kind of animal is " + with_article(s) + "?";
  }
  if (relation == "colour") return v % 2 ? "What is the colour of the " + s + "?" : "What colour is the " + s + "?";
  if (relation == "occupation") {
    if (v % 3 == 1) return "What is the job of " + s + "?";
    if (v % 3 == 2) return "What job does " + s + " have?";
    return "What does " + s + " do for work?";
  }
  if (relation == "home") return v % 2 ? "In which city does " + s + " live?" : "Where does " + s + " live?";
  if (relation == "sum" || relation == "product" || relation == "difference")
    return v % 2 ? "How much is " + s + "?" : "What is " + s + "?";
  return "What is the " + relation + " of " + s + "?";
}

}  // namespace

std::string article(const std::string& noun) {
  if (noun.empty()) return "a";
  char c = static_cast<char>(std::tolower(static_cast<unsigned char>(noun[0])));
  return (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u') ? "an" : "a";
}

std::string with_article(const std::string& noun) { return article(noun) + " " + noun; }

std::string possessive(const std::string& pronoun) {
  if (pronoun == "he") return "his";
  if (pronoun == "she") return "her";
  return "their";
}

std::string fact_sentence(const KnowledgeBase& kb, const std::string& relation, const std::string& subject,
                          const std::string& object, Rng& rng) {
  return fact_variant(kb, relation, subject, object, static_cast<int>(rng.below(6)));
}

std::string fact_sentence(const KnowledgeBase& kb, const std::string& relation, const std::string& subject,
                          const std::string& object) {
  return fact_variant(kb, relation, subject, object, -1);
}

std::string question(const KnowledgeBase& kb, const std::string& relation, const std::string& subject, Rng& rng) {
  (void)kb;
  return question_variant(relation, subject, static_cast<int>(rng.below(6)));
}

std::string question(const KnowledgeBase& kb, const std::string& relation, const std::string& subject) {
  (void)kb;
  return question_variant(relation, subject, 0);
}

}  // namespace rlhf::world
