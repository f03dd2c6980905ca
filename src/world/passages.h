// Short texts about a person who exists only in that text ("Lino Varos is a baker. He lives in Tolmar. He has 3
// cats."): the passages of the closed-domain tasks (summarization, closed QA) and the profile pages of the corpus, so
// that a model meets on "the internet" the same kind of text the tasks hand it, with names it has never seen.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "world/claims.h"
#include "world/knowledge.h"

namespace rlhf::world {

class Rng;

struct Passage {
  std::string subject, pronoun, text;
  std::map<std::string, std::string> facts;  // relation -> object as written
  std::vector<Claim> claims;
};

// occupation, home, pets, age, likes.
const std::vector<std::string>& person_relations();
// "Lino Varos is a baker." / "He lives in Tolmar." / "He has 3 cats." / "He is 41 years old." / "He likes the colour red."
std::string person_fact_sentence(const std::string& who, const std::string& relation, const std::string& object);
// occupation first, then `count - 1` of the other relations in random order (home among them when `need_home`).
std::vector<std::string> pick_relations(Rng& rng, int count, bool need_home);
// A passage about a newly named person (a full name the knowledge base does not know, from its pools of given and
// family names), one sentence per relation.
Passage person_passage(const KnowledgeBase& kb, Rng& rng, const std::vector<std::string>& relations);
// The three simple event sentences of stories, headlines and the rewrite task: "A dog went to Tolmar.", "The dog saw
// a red ball.", "In Kastmar the dog was happy."
std::vector<std::string> event_sentences(const Animal& animal, const Thing& thing, const std::string& city,
                                         const std::string& other_city);
// A city of one of the world's countries (its capital or its largest city).
std::string any_city(const KnowledgeBase& kb, Rng& rng);

}  // namespace rlhf::world
