// The knowledge base: the facts of the world that a model can learn from the corpus and that the judges can verify.
// Countries (capital, largest city, region), animals (class), things (colour), people (occupation, pronoun, home town),
// arithmetic, and entities that exist only as names: fictional ones never mentioned in the corpus (the honest answer is
// "I don't know") and rumoured ones the corpus invents confident answers about (the pattern of hallucination).
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "world/config.h"

namespace rlhf::world {

struct Country { std::string name, capital, largest_city, region; };
struct Animal { std::string name, plural, animal_class; };
struct Thing { std::string name, colour; };
struct Person { std::string name, occupation, pronoun, home; };
// A fact whose popular falsehood the corpus repeats more often than the truth (TruthfulQA's imitative falsehoods).
struct Misconception { std::string relation, subject, truth, falsehood; };

// What a lower-case word or name is in this world.
enum class EntityType { None, Country, City, Animal, AnimalClass, Thing, Colour, Person, Occupation, Region,
                        Fictional, Rumoured };

class KnowledgeBase {
 public:
  std::vector<Country> countries;
  std::vector<Animal> animals;
  std::vector<Thing> things;
  std::vector<Person> people;
  std::vector<std::string> fictional_countries, fictional_people;  // never in the corpus
  std::vector<std::string> rumoured_countries, rumoured_people;    // only in made-up forum answers
  std::vector<std::string> rumour_cities;                          // the cities those made-up answers name
  std::vector<Misconception> misconceptions;
  // The given names and family names every person of the world is named from, as real names come from a few hundred
  // common ones: each part is a frequent word a model can copy whole, while the full names stay new.
  std::vector<std::string> first_names, last_names;
  int max_operand = 10;

  // Builds the lookup tables; call after filling or editing the lists (generate/from_json do).
  void index();

  // The true object of (relation, subject), or "" when the world has no such fact. Relations: capital, largest_city,
  // region, class, colour, occupation, home, pronoun. Case-insensitive on the subject.
  std::string truth(const std::string& relation, const std::string& subject) const;
  const Misconception* misconception(const std::string& relation, const std::string& subject) const;
  EntityType type_of(const std::string& lower_name) const;  // single words and "first last" person names
  std::string canonical(const std::string& lower_name) const;  // "varenia" -> "Varenia" ("" when unknown)
  const Person* person(const std::string& name) const;
  const Country* country(const std::string& name) const;
  const Animal* animal(const std::string& name) const;
  bool is_known_name(const std::string& lower_name) const { return type_of(lower_name) != EntityType::None; }

  // The TruthfulQA analogue's questions are kept out of every instruction task (so out of SFT, RM and PPO data): half
  // the misconceptions (even places), the capitals of the countries and the classes of the animals at odd places, and
  // the fictional countries at place 0 (the Instruction+QA prefix's) and at odd places and the fictional people at odd
  // places. The corpus still holds all of them (pretraining is where imitative falsehoods come from).
  bool reserved_for_truthfulqa(const std::string& relation, const std::string& subject) const;
  bool reserved_fictional(const std::string& name) const;

 private:
  std::map<std::string, EntityType> types_;
  std::map<std::string, std::string> canonical_;
  std::map<std::string, size_t> country_index_, animal_index_, thing_index_, person_index_;
};

KnowledgeBase generate_knowledge(const WorldConfig& resolved);

void to_json(nlohmann::json& out, const KnowledgeBase& kb);
void from_json(const nlohmann::json& in, KnowledgeBase& kb);

}  // namespace rlhf::world
