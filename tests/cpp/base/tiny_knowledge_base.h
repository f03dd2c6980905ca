// A small hand-made knowledge base for the world's judge tests: two countries, one known person, every animal and
// thing of the language, a name pool, and one of each kind of entity the corpus never explains (fictional, rumoured,
// misconceptions), so that every verdict a test expects can be read off this file.
#pragma once

#include "world/language.h"
#include "world/world.h"

namespace rlhf::world {

inline KnowledgeBase tiny_kb() {
  KnowledgeBase kb;
  kb.countries = {{"Varenia", "Tolmar", "Duvara", "north"}, {"Kostia", "Pelin", "Ardos", "south"}};
  for (const auto& a : animal_words()) kb.animals.push_back({a.name, a.plural, a.animal_class});
  for (const auto& t : thing_words()) kb.things.push_back({t.name, t.colour});
  kb.people = {{"Ana Kovel", "pilot", "she", "Tolmar"}};
  kb.first_names = {"Ana", "Lino"};
  kb.last_names = {"Kovel", "Varos"};
  kb.fictional_countries = {"Zubria"};
  kb.fictional_people = {"Oro Valen"};
  kb.rumoured_countries = {"Quessa"};
  kb.rumoured_people = {"Ilo Pask"};
  kb.rumour_cities = {"Pelmo"};
  kb.misconceptions = {{"capital", "Varenia", "Tolmar", "Duvara"}, {"class", "whale", "mammal", "fish"}};
  kb.index();
  return kb;
}

}  // namespace rlhf::world
