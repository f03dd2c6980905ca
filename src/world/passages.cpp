#include "world/passages.h"

#include <algorithm>

#include "world/language.h"
#include "world/phrases.h"
#include "world/random.h"

namespace rlhf::world {

std::string any_city(const KnowledgeBase& kb, Rng& rng) {
  const Country& c = kb.countries[rng.below(kb.countries.size())];
  return rng.chance(0.5) ? c.capital : c.largest_city;
}

std::vector<std::string> event_sentences(const Animal& animal, const Thing& thing, const std::string& city,
                                         const std::string& other_city) {
  return {capitalize(with_article(animal.name)) + " went to " + city + ".",
          "The " + animal.name + " saw " + with_article(thing.colour + " " + thing.name) + ".",
          "In " + other_city + " the " + animal.name + " was happy."};
}

const std::vector<std::string>& person_relations() {
  static const std::vector<std::string> list = {"occupation", "home", "pets", "age", "likes"};
  return list;
}

std::string person_fact_sentence(const std::string& who, const std::string& relation, const std::string& object) {
  if (relation == "occupation") return who + " is " + with_article(object) + ".";
  if (relation == "home") return who + " lives in " + object + ".";
  if (relation == "pets") return who + " has " + object + ".";
  if (relation == "age") return who + " is " + object + " years old.";
  return who + " likes the colour " + object + ".";
}

Passage person_passage(const KnowledgeBase& kb, Rng& rng, const std::vector<std::string>& relations) {
  Passage p;
  const bool pools = !kb.first_names.empty() && !kb.last_names.empty();
  do p.subject = pools ? rng.pick(kb.first_names) + " " + rng.pick(kb.last_names)
                       : make_name("first", rng) + " " + make_name("last", rng);
  while (kb.is_known_name(lower(p.subject)));
  p.pronoun = rng.chance(0.5) ? "he" : "she";
  std::map<std::string, std::string> all = {
      {"occupation", occupation_words()[rng.below(occupation_words().size())].name},
      {"home", any_city(kb, rng)},
      {"pets", std::to_string(rng.range(2, 6)) + " " + rng.pick(pet_words())},
      {"age", std::to_string(rng.range(20, 70))},
      {"likes", rng.pick(colour_words())}};
  std::vector<std::string> sentences_out;
  for (const auto& relation : relations) {
    p.facts[relation] = all[relation];
    std::string who = sentences_out.empty() ? p.subject : capitalize(p.pronoun);
    sentences_out.push_back(person_fact_sentence(who, relation, all[relation]));
    std::string object = relation == "age" ? all[relation] : lower(all[relation]);
    p.claims.push_back({relation, lower(p.subject), object});
  }
  p.text = join_words(sentences_out, " ");
  return p;
}

std::vector<std::string> pick_relations(Rng& rng, int count, bool need_home) {
  std::vector<std::string> rest = {"home", "pets", "age", "likes"};
  rng.shuffle(rest);
  if (need_home) std::stable_partition(rest.begin(), rest.end(), [](const std::string& r) { return r == "home"; });
  std::vector<std::string> out = {"occupation"};
  for (int i = 0; i + 1 < count && i < static_cast<int>(rest.size()); ++i) out.push_back(rest[static_cast<size_t>(i)]);
  if (need_home) {
    std::vector<std::string> tail(out.begin() + 1, out.end());
    rng.shuffle(tail);
    std::copy(tail.begin(), tail.end(), out.begin() + 1);
  }
  return out;
}

}  // namespace rlhf::world
