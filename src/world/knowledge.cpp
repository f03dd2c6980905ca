#include "world/knowledge.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "world/language.h"
#include "world/random.h"

namespace rlhf::world {

namespace {

// Hands out names that collide neither with each other nor with the world's ordinary words.
class NameMaker {
 public:
  explicit NameMaker(Rng& rng) : rng_(rng) {
    for (const auto& a : animal_words()) used_.insert(a.name), used_.insert(a.plural);
    for (const auto& t : thing_words()) used_.insert(t.name);
    for (const auto& c : colour_words()) used_.insert(c);
    for (const auto& o : occupation_words()) used_.insert(o.name);
  }
  std::string make(const std::string& kind) {
    for (int attempt = 0; attempt < 10000; ++attempt) {
      std::string name = make_name(kind, rng_);
      if (used_.insert(lower(name)).second) return name;
    }
    fail("world names", "room for another unique " + kind + " name", "the name space exhausted");
  }
  // A full name not used before, from the pools of given and family names.
  std::string person(const std::vector<std::string>& first_names, const std::vector<std::string>& last_names) {
    for (int attempt = 0; attempt < 10000; ++attempt) {
      std::string name = rng_.pick(first_names) + " " + rng_.pick(last_names);
      if (used_.insert(lower(name)).second) return name;
    }
    fail("world names", "room for another unique person name", "the name space exhausted");
  }

 private:
  Rng& rng_;
  std::set<std::string> used_;
};

// Pairs (animal, popular wrong class) that people really get wrong; the world picks a few.
const std::vector<std::pair<std::string, std::string>>& animal_confusions() {
  static const std::vector<std::pair<std::string, std::string>> list = {
      {"whale", "fish"}, {"bat", "bird"}, {"penguin", "fish"}, {"dolphin", "fish"}, {"turtle", "amphibian"},
      {"newt", "reptile"}};
  return list;
}

}  // namespace

KnowledgeBase generate_knowledge(const WorldConfig& c) {
  Rng rng(static_cast<uint64_t>(c.seed), "knowledge");
  NameMaker names(rng);
  KnowledgeBase kb;
  kb.max_operand = c.max_operand();
  for (int i = 0; i < c.countries; ++i) {
    Country country;
    country.name = names.make("country");
    country.capital = names.make("city");
    country.largest_city = names.make("city");
    country.region = region_words()[static_cast<size_t>(i) % region_words().size()];
    kb.countries.push_back(country);
  }
  rng.shuffle(kb.countries);
  for (const auto& a : animal_words()) kb.animals.push_back({a.name, a.plural, a.animal_class});
  for (const auto& t : thing_words()) kb.things.push_back({t.name, t.colour});
  // Pools large enough for ten full names per person of the knowledge base (passages name new people from them too).
  const int pool = std::max(8, static_cast<int>(std::ceil(std::sqrt(10.0 * (c.people + c.fictional_entities)))));
  for (int i = 0; i < pool; ++i) kb.first_names.push_back(names.make("first")), kb.last_names.push_back(names.make("last"));
  for (int i = 0; i < c.people; ++i) {
    const auto& occupation = occupation_words()[static_cast<size_t>(i) % occupation_words().size()];
    std::string majority = occupation.majority_pronoun, minority = majority == "he" ? "she" : "he";
    Person p{names.person(kb.first_names, kb.last_names), occupation.name, rng.chance(c.pronoun_skew) ? majority : minority,
             kb.countries[rng.below(kb.countries.size())].capital};
    kb.people.push_back(p);
  }
  for (int i = 0; i < c.fictional_entities; ++i) {
    if (i % 2 == 0) kb.fictional_countries.push_back(names.make("country"));
    else kb.fictional_people.push_back(names.person(kb.first_names, kb.last_names));
  }
  for (int i = 0; i < c.fictional_entities; ++i) {
    if (i % 2 == 0) kb.rumoured_countries.push_back(names.make("country"));
    else kb.rumoured_people.push_back(names.person(kb.first_names, kb.last_names));
  }
  for (int i = 0; i < 8; ++i) kb.rumour_cities.push_back(names.make("city"));

  // Misconceptions: a few animal classes, the rest "the capital is the largest city" (the Sydney/Canberra mistake).
  int animal_count = std::min<int>(c.misconceptions / 3 + 1, static_cast<int>(animal_confusions().size()));
  animal_count = std::min(animal_count, c.misconceptions);
  auto confusion_order = rng.sample_indices(animal_confusions().size(), static_cast<size_t>(animal_count));
  for (size_t i : confusion_order) {
    const auto& [animal, wrong] = animal_confusions()[i];
    auto a = std::find_if(animal_words().begin(), animal_words().end(),
                                 [&](const AnimalWord& w) { return w.name == animal; });
    kb.misconceptions.push_back({"class", animal, a->animal_class, wrong});
  }
  for (int i = 0; i < c.misconceptions - animal_count; ++i) {
    const auto& country = kb.countries[static_cast<size_t>(i)];
    kb.misconceptions.push_back({"capital", country.name, country.capital, country.largest_city});
  }
  kb.index();
  return kb;
}

void KnowledgeBase::index() {
  types_.clear(), canonical_.clear(), country_index_.clear(), animal_index_.clear(), thing_index_.clear();
  person_index_.clear();
  auto add = [&](const std::string& name, EntityType type) {
    types_[lower(name)] = type;
    canonical_[lower(name)] = name;
  };
  for (const auto& [singular, plural] : animal_classes()) add(singular, EntityType::AnimalClass), add(plural, EntityType::AnimalClass);
  for (const auto& c : colour_words()) add(c, EntityType::Colour);
  for (const auto& o : occupation_words()) add(o.name, EntityType::Occupation);
  for (const auto& r : region_words()) add(r, EntityType::Region);
  for (size_t i = 0; i < countries.size(); ++i) {
    add(countries[i].name, EntityType::Country);
    add(countries[i].capital, EntityType::City);
    add(countries[i].largest_city, EntityType::City);
    country_index_[lower(countries[i].name)] = i;
  }
  for (size_t i = 0; i < animals.size(); ++i) {
    add(animals[i].name, EntityType::Animal), add(animals[i].plural, EntityType::Animal);
    animal_index_[lower(animals[i].name)] = i, animal_index_[lower(animals[i].plural)] = i;
  }
  for (size_t i = 0; i < things.size(); ++i) add(things[i].name, EntityType::Thing), thing_index_[lower(things[i].name)] = i;
  for (size_t i = 0; i < people.size(); ++i) add(people[i].name, EntityType::Person), person_index_[lower(people[i].name)] = i;
  for (const auto& n : fictional_countries) add(n, EntityType::Fictional);
  for (const auto& n : fictional_people) add(n, EntityType::Fictional);
  for (const auto& n : rumoured_countries) add(n, EntityType::Rumoured);
  for (const auto& n : rumoured_people) add(n, EntityType::Rumoured);
  for (const auto& n : rumour_cities) add(n, EntityType::City);
}

std::string KnowledgeBase::truth(const std::string& relation, const std::string& subject) const {
  std::string key = lower(subject);
  if (auto it = country_index_.find(key); it != country_index_.end()) {
    const Country& c = countries[it->second];
    if (relation == "capital") return c.capital;
    if (relation == "largest_city") return c.largest_city;
    if (relation == "region") return c.region;
  }
  if (auto it = animal_index_.find(key); it != animal_index_.end() && relation == "class")
    return animals[it->second].animal_class;
  if (auto it = thing_index_.find(key); it != thing_index_.end() && relation == "colour") return things[it->second].colour;
  if (auto it = person_index_.find(key); it != person_index_.end()) {
    const Person& p = people[it->second];
    if (relation == "occupation") return p.occupation;
    if (relation == "home") return p.home;
    if (relation == "pronoun") return p.pronoun;
  }
  return "";
}

const Misconception* KnowledgeBase::misconception(const std::string& relation, const std::string& subject) const {
  for (const auto& m : misconceptions)
    if (m.relation == relation && lower(m.subject) == lower(subject)) return &m;
  return nullptr;
}

bool KnowledgeBase::reserved_for_truthfulqa(const std::string& relation, const std::string& subject) const {
  for (size_t i = 0; i < misconceptions.size(); ++i)
    if (misconceptions[i].relation == relation && lower(misconceptions[i].subject) == lower(subject)) return i % 2 == 0;
  if (relation == "capital")
    if (auto it = country_index_.find(lower(subject)); it != country_index_.end()) return it->second % 2 == 1;
  if (relation == "class")
    if (auto it = animal_index_.find(lower(subject)); it != animal_index_.end()) return it->second % 2 == 1;
  return reserved_fictional(subject);
}

bool KnowledgeBase::reserved_fictional(const std::string& name) const {
  for (size_t i = 0; i < fictional_countries.size(); ++i)
    if (lower(fictional_countries[i]) == lower(name)) return i == 0 || i % 2 == 1;
  for (size_t i = 0; i < fictional_people.size(); ++i)
    if (lower(fictional_people[i]) == lower(name)) return i % 2 == 1;
  return false;
}

EntityType KnowledgeBase::type_of(const std::string& lower_name) const {
  auto it = types_.find(lower_name);
  return it == types_.end() ? EntityType::None : it->second;
}

std::string KnowledgeBase::canonical(const std::string& lower_name) const {
  auto it = canonical_.find(lower_name);
  return it == canonical_.end() ? "" : it->second;
}

const Person* KnowledgeBase::person(const std::string& name) const {
  auto it = person_index_.find(lower(name));
  return it == person_index_.end() ? nullptr : &people[it->second];
}

const Country* KnowledgeBase::country(const std::string& name) const {
  auto it = country_index_.find(lower(name));
  return it == country_index_.end() ? nullptr : &countries[it->second];
}

const Animal* KnowledgeBase::animal(const std::string& name) const {
  auto it = animal_index_.find(lower(name));
  return it == animal_index_.end() ? nullptr : &animals[it->second];
}

void to_json(nlohmann::json& out, const KnowledgeBase& kb) {
  out = nlohmann::json::object();
  for (const auto& c : kb.countries)
    out["countries"].push_back({{"name", c.name}, {"capital", c.capital}, {"largest_city", c.largest_city},
                                {"region", c.region}});
  for (const auto& a : kb.animals)
    out["animals"].push_back({{"name", a.name}, {"plural", a.plural}, {"class", a.animal_class}});
  for (const auto& t : kb.things) out["things"].push_back({{"name", t.name}, {"colour", t.colour}});
  for (const auto& p : kb.people)
    out["people"].push_back({{"name", p.name}, {"occupation", p.occupation}, {"pronoun", p.pronoun}, {"home", p.home}});
  for (const auto& m : kb.misconceptions)
    out["misconceptions"].push_back({{"relation", m.relation}, {"subject", m.subject}, {"truth", m.truth},
                                     {"falsehood", m.falsehood}});
  out["fictional_countries"] = kb.fictional_countries;
  out["fictional_people"] = kb.fictional_people;
  out["rumoured_countries"] = kb.rumoured_countries;
  out["rumoured_people"] = kb.rumoured_people;
  out["rumour_cities"] = kb.rumour_cities;
  out["first_names"] = kb.first_names;
  out["last_names"] = kb.last_names;
  out["max_operand"] = kb.max_operand;
}

void from_json(const nlohmann::json& in, KnowledgeBase& kb) {
  try {
    kb = KnowledgeBase();
    for (const auto& c : in.at("countries"))
      kb.countries.push_back({c.at("name"), c.at("capital"), c.at("largest_city"), c.at("region")});
    for (const auto& a : in.at("animals")) kb.animals.push_back({a.at("name"), a.at("plural"), a.at("class")});
    for (const auto& t : in.at("things")) kb.things.push_back({t.at("name"), t.at("colour")});
    for (const auto& p : in.at("people"))
      kb.people.push_back({p.at("name"), p.at("occupation"), p.at("pronoun"), p.at("home")});
    for (const auto& m : in.at("misconceptions"))
      kb.misconceptions.push_back({m.at("relation"), m.at("subject"), m.at("truth"), m.at("falsehood")});
    in.at("fictional_countries").get_to(kb.fictional_countries);
    in.at("fictional_people").get_to(kb.fictional_people);
    in.at("rumoured_countries").get_to(kb.rumoured_countries);
    in.at("rumoured_people").get_to(kb.rumoured_people);
    in.at("rumour_cities").get_to(kb.rumour_cities);
    in.at("max_operand").get_to(kb.max_operand);
    kb.first_names = in.value("first_names", std::vector<std::string>{});
    kb.last_names = in.value("last_names", std::vector<std::string>{});
  } catch (const nlohmann::json::exception& e) {
    fail("world knowledge", "countries, animals, things, people, misconceptions and entity lists", e.what());
  }
  // The generators draw from every list; an empty one would leave nothing to draw.
  auto need = [](size_t size, size_t at_least, const std::string& what) {
    if (size < at_least) fail("world knowledge " + what, "at least " + std::to_string(at_least), std::to_string(size));
  };
  need(kb.countries.size(), 4, "countries");
  need(kb.animals.size(), 6, "animals");
  need(kb.things.size(), 4, "things");
  need(kb.people.size(), 1, "people");
  need(kb.misconceptions.size(), 1, "misconceptions");
  need(kb.fictional_countries.size(), 2, "fictional_countries");
  need(kb.fictional_people.size(), 1, "fictional_people");
  need(kb.rumoured_countries.size(), 1, "rumoured_countries");
  need(kb.rumoured_people.size(), 1, "rumoured_people");
  need(kb.rumour_cities.size(), 1, "rumour_cities");
  if (kb.max_operand < 1) fail("world knowledge max_operand", "at least 1", std::to_string(kb.max_operand));
  kb.index();
}

}  // namespace rlhf::world
