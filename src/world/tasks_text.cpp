// Tasks about text in the prompt: generation, rewrite, summarization, closed QA, extraction. The last three are closed
// domain: a claim the passage does not support is a hallucination even when it happens to be true elsewhere.
#include <algorithm>
#include <set>

#include "world/language.h"
#include "world/passages.h"
#include "world/phrases.h"
#include "world/random.h"
#include "world/tasks_internal.h"

namespace rlhf::world::detail {

namespace {

const Animal& any_animal(const KnowledgeBase& kb, Rng& rng) { return kb.animals[rng.below(kb.animals.size())]; }
const Thing& any_thing(const KnowledgeBase& kb, Rng& rng) { return kb.things[rng.below(kb.things.size())]; }

int closed_domain_hallucinations(const json& d, const std::string& response, const KnowledgeBase& kb) {
  std::vector<Claim> passage = claims_from_json(d.value("claims", json::array()));
  int count = 0;
  for (const auto& c : extract_claims(response, kb, extra_names(d), topic_person(d, kb)))
    count += verify_in_passage(c, passage) == Verdict::True ? 0 : 1;
  return count;
}

}  // namespace

// ---- generation: "Write a short story about a cat in Tolmar. Use two sentences." ----

TaskInstance generate_generation(const KnowledgeBase& kb, const WorldConfig& c, Rng& rng) {
  TaskInstance t;
  json d;
  const Animal& a = any_animal(kb, rng);
  const Thing& thing = any_thing(kb, rng);
  std::string city = any_city(kb, rng);
  if (rng.chance(0.6)) {
    static const std::vector<std::string> openings = {"Write a short story about ", "Write a story about ",
                                                      "Tell a story about "};
    size_t v = rng.below(openings.size());
    t.instruction = openings[v] + with_article(a.name) + (v == 1 ? " who visits " : " in ") + city + ".";
    d = {{"kind", "story"}, {"topic", {a.name, lower(city)}}, {"animal", a.name}, {"city", city},
         {"constraint", maybe_constraint(c, rng, {"sentences"})}};
  } else {
    // A one-sentence piece about one or two things of the world.
    switch ((rng.below(5) + 1) / 2) {  // 1/5 single thing (few variants), 2/5 each of the others
      case 0:
        t.instruction = "Write a sentence about the " + thing.name + ".";
        d = {{"topic", {thing.name}}, {"thing", thing.name}};
        break;
      case 1:
        t.instruction = "Write a sentence about the " + thing.name + " and " + with_article(a.name) + ".";
        d = {{"topic", {thing.name, a.name}}, {"thing", thing.name}, {"animal", a.name}};
        break;
      default:
        t.instruction = "Write a sentence about " + with_article(a.name) + " in " + city + ".";
        d = {{"topic", {a.name, lower(city)}}, {"animal", a.name}, {"city", city}};
    }
    d["kind"] = "sentence";
    d["constraint"] = maybe_constraint(c, rng, {"max_words"});
  }
  t.instruction += constraint_text(d["constraint"], rng);
  t.task_data = d;
  return t;
}

std::string answer_generation(const json& d, const KnowledgeBase& kb, const Style& style, Rng& rng) {
  std::string animal = d.value("animal", ""), city = d.value("city", ""), thing = d.value("thing", "");
  if (d.value("kind", "") == "sentence") {
    std::string colour = kb.truth("colour", thing), body;
    if (!thing.empty() && !animal.empty()) body = "The " + animal + " saw the " + colour + " " + thing + ".";
    else if (!thing.empty()) body = "The " + thing + " is " + colour + ".";
    else body = "The " + animal + " was happy in " + city + ".";
    if (style.extra_detail && constraint_type(d) == "none" && animal.empty())
      body = "I like the " + thing + " because it is " + colour + ".";
    return decorate(body, style, d);
  }
  int n = constraint_type(d) == "sentences" ? constraint_n(d) : (style.extra_detail ? 4 : 3);
  const Thing& seen = any_thing(kb, rng);
  std::vector<std::string> pool = {"It saw " + with_article(seen.colour + " " + seen.name) + ".",
                                   "The " + animal + " was happy.", "Then it went home.",
                                   "It met " + with_article(any_animal(kb, rng).name) + "."};
  rng.shuffle(pool);
  std::vector<std::string> story = {"One day " + with_article(animal) + " went to " + city + "."};
  for (int i = 1; i < n && i - 1 < static_cast<int>(pool.size()); ++i) story.push_back(pool[static_cast<size_t>(i - 1)]);
  return decorate(join_words(story, " "), style, d);
}

void check_generation(const json& d, const std::string& response, const KnowledgeBase&, Features& f) {
  std::vector<std::string> topic = d.value("topic", std::vector<std::string>{});
  int hits = 0;
  for (const auto& word : topic) hits += mentions(response, word) ? 1 : 0;
  f.correct = topic.empty() ? 1.0 : static_cast<double>(hits) / static_cast<double>(topic.size());
}

// ---- rewrite: "Rewrite this in capital letters: ..." ----

TaskInstance generate_rewrite(const KnowledgeBase& kb, const WorldConfig&, Rng& rng) {
  TaskInstance t;
  const Animal& a = any_animal(kb, rng);
  const Thing& thing = any_thing(kb, rng);
  // The varying words come early: the curation's prefix dedup must not mistake different prompts for copies.
  const std::string first_city = any_city(kb, rng);
  std::vector<std::string> sources = event_sentences(a, thing, first_city, any_city(kb, rng));
  std::string source = rng.pick(sources);
  json d;
  if (rng.chance(0.5)) {
    t.instruction = "Write this in capital letters: " + source;
    d = {{"kind", "upper"}, {"source", source}, {"gold", upper(source)}};
  } else {
    std::string replacement;
    do replacement = any_animal(kb, rng).name;
    while (replacement == a.name);
    std::string gold = source;
    gold.replace(gold.find(a.name), a.name.size(), replacement);
    if (gold.rfind("A ", 0) == 0 || gold.rfind("An ", 0) == 0)  // keep the article right: "An owl" -> "A cat"
      gold = capitalize(article(replacement)) + gold.substr(gold.find(' '));
    t.instruction = "Rewrite this sentence with '" + replacement + "' instead of '" + a.name + "': " + source;
    d = {{"kind", "replace"}, {"source", source}, {"gold", gold}};
  }
  d["constraint"] = make_constraint("none");
  t.task_data = d;
  return t;
}

std::string answer_rewrite(const json& d, const KnowledgeBase&, const Style& style, Rng&) {
  return decorate(d.value("gold", ""), style, d);
}

void check_rewrite(const json& d, const std::string& response, const KnowledgeBase& kb, Features& f) {
  std::string gold = d.value("gold", ""), content = trim(content_of(response));
  if (content == gold) {
    f.correct = 1.0;
  } else {
    // Partial credit: word F1, case-sensitive (writing in capitals is the task).
    auto split = [](const std::string& s) {
      std::vector<std::string> out;
      std::string w;
      for (char c : s) {
        if (std::isalnum(static_cast<unsigned char>(c))) w += c;
        else if (!w.empty()) out.push_back(w), w.clear();
      }
      if (!w.empty()) out.push_back(w);
      return out;
    };
    auto got = split(content), want = split(gold);
    std::multiset<std::string> pool(want.begin(), want.end());
    int common = 0;
    for (const auto& w : got)
      if (auto it = pool.find(w); it != pool.end()) ++common, pool.erase(it);
    double precision = got.empty() ? 0 : static_cast<double>(common) / got.size();
    double recall = want.empty() ? 0 : static_cast<double>(common) / want.size();
    f.correct = precision + recall > 0 ? 0.8 * 2 * precision * recall / (precision + recall) : 0.0;
  }
  // The source's own claims are supported; anything else must be true.
  auto source_claims = extract_claims(d.value("source", ""), kb);
  f.hallucinations = 0;
  for (const auto& c : extract_claims(response, kb))
    if (std::find(source_claims.begin(), source_claims.end(), c) == source_claims.end() && verify(c, kb) != Verdict::True)
      ++f.hallucinations;
}

// ---- summarization: "Summarize this in one sentence: <passage>" ----

TaskInstance generate_summarization(const KnowledgeBase& kb, const WorldConfig& c, Rng& rng) {
  TaskInstance t;
  json d;
  std::string text;
  if (rng.chance(0.7)) {
    Passage p = person_passage(kb, rng, pick_relations(rng, c.passage_facts(), true));
    text = p.text;
    d = {{"kind", "person"}, {"subject", p.subject}, {"pronoun", p.pronoun}, {"names", {{lower(p.subject), "person"}}},
         {"claims", claims_to_json(p.claims)},
         {"key_claims", claims_to_json({{"occupation", lower(p.subject), lower(p.facts["occupation"])},
                                        {"home", lower(p.subject), lower(p.facts["home"])}})}};
    d["facts"] = p.facts;
  } else {
    const Country& country = kb.countries[rng.below(kb.countries.size())];
    // The three facts in any order, in either wording: one country gives many different passages.
    std::vector<std::string> parts = {fact_sentence(kb, "region", country.name, country.region, rng),
                                      fact_sentence(kb, "capital", country.name, country.capital, rng),
                                      fact_sentence(kb, "largest_city", country.name, country.largest_city, rng)};
    rng.shuffle(parts);
    if (rng.chance(0.5)) parts.push_back("Many people live in " + country.largest_city + ".");
    text = join_words(parts, " ");
    std::vector<Claim> claims = {{"region", lower(country.name), country.region},
                                 {"capital", lower(country.name), lower(country.capital)},
                                 {"largest_city", lower(country.name), lower(country.largest_city)}};
    d = {{"kind", "country"}, {"subject", country.name}, {"claims", claims_to_json(claims)},
         {"key_claims", claims_to_json({claims[0], claims[1]})}};
  }
  d["passage"] = text;
  d["constraint"] = rng.chance(c.constraint_rate()) ? make_constraint("sentences", 1) : make_constraint("none");
  t.instruction = (constraint_type(d) == "sentences" ? "Summarize this in one sentence: " : "Summarize this text: ") + text;
  t.task_data = d;
  return t;
}

std::string answer_summarization(const json& d, const KnowledgeBase& kb, const Style& style, Rng&) {
  std::string subject = d.value("subject", "");
  std::string body;
  bool room = constraint_type(d) == "none" && style.extra_detail;
  if (d.value("kind", "") == "person") {
    auto facts = d.value("facts", std::map<std::string, std::string>{});
    body = subject + " is " + with_article(facts["occupation"]) + " who lives in " + facts["home"] + ".";
    for (const auto& relation : {"pets", "age", "likes"})
      if (room && facts.count(relation)) {
        body += " " + person_fact_sentence(capitalize(d.value("pronoun", "they")), relation, facts[relation]);
        break;
      }
  } else {
    const Country* c = kb.country(subject);
    if (!c) return decorate(subject + ".", style, d);
    body = subject + " is a country in the " + c->region + " with the capital " + c->capital + ".";
    if (room) body += " " + fact_sentence(kb, "largest_city", c->name, c->largest_city);
  }
  return decorate(body, style, d);
}

void check_summarization(const json& d, const std::string& response, const KnowledgeBase& kb, Features& f) {
  auto key = claims_from_json(d.value("key_claims", json::array()));
  auto said = extract_claims(response, kb, extra_names(d), topic_person(d, kb));
  int hits = 0;
  for (const auto& k : key) hits += std::find(said.begin(), said.end(), k) != said.end() ? 1 : 0;
  f.correct = key.empty() ? 0.0 : static_cast<double>(hits) / static_cast<double>(key.size());
  f.hallucinations = closed_domain_hallucinations(d, response, kb);
}

// ---- closed QA: a passage and a question about it ----

TaskInstance generate_closed_qa(const KnowledgeBase& kb, const WorldConfig& c, Rng& rng) {
  TaskInstance t;
  Passage p = person_passage(kb, rng, pick_relations(rng, c.passage_facts(), false));
  std::vector<std::string> absent;
  for (const auto& r : person_relations())
    if (!p.facts.count(r)) absent.push_back(r);
  bool answerable = absent.empty() || rng.chance(0.75);
  std::string relation;
  if (answerable) {
    std::vector<std::string> present;
    for (const auto& [r, object] : p.facts) present.push_back(r);
    relation = rng.pick(present);
  } else {
    relation = rng.pick(absent);
  }
  std::string pet = p.facts.count("pets") ? word_tokens(p.facts["pets"]).back() : rng.pick(pet_words());
  std::string q = relation == "occupation" ? "What does " + p.subject + " do for work?"
                  : relation == "home"     ? "Where does " + p.subject + " live?"
                  : relation == "pets"     ? "How many " + pet + " does " + p.subject + " have?"
                  : relation == "age"      ? "How old is " + p.subject + "?"
                                           : "What colour does " + p.subject + " like?";
  std::string gold;
  if (answerable) gold = relation == "pets" ? word_tokens(p.facts["pets"]).front() : lower(p.facts[relation]);
  json d = {{"kind", relation}, {"relation", relation}, {"subject", p.subject}, {"gold", gold},
            {"answerable", answerable}, {"passage", p.text}, {"claims", claims_to_json(p.claims)},
            {"names", {{lower(p.subject), "person"}}}, {"facts", p.facts}};
  d["constraint"] = answerable ? maybe_constraint(c, rng, {"one_word"}) : make_constraint("none");
  t.instruction = "Read the text and answer.\nText: " + p.text + "\nQuestion: " + q +
                  constraint_text(d["constraint"], rng);
  t.task_data = d;
  return t;
}

std::string answer_closed_qa(const json& d, const KnowledgeBase&, const Style& style, Rng&) {
  if (!d.value("answerable", true)) return decorate("The text does not say.", style, d);
  std::string relation = d.value("relation", ""), gold = d.value("gold", "");
  auto facts = d.value("facts", std::map<std::string, std::string>{});
  std::string shown = relation == "home" ? facts["home"] : gold;
  if (constraint_type(d) == "one_word") return capitalize(shown);
  if (!style.full_sentence) return decorate(capitalize(shown) + ".", style, d);
  return decorate(person_fact_sentence(d.value("subject", ""), relation, facts[relation]), style, d);
}

void check_closed_qa(const json& d, const std::string& response, const KnowledgeBase& kb, Features& f) {
  f.hallucinations = closed_domain_hallucinations(d, response, kb);
  std::string content = content_of(response);
  if (!f.answerable) {
    f.correct = f.idk ? (f.hallucinations == 0 ? 1.0 : 0.3) : 0.0;
    return;
  }
  std::string relation = d.value("relation", ""), gold = d.value("gold", "");
  std::vector<std::string> candidates;
  if (relation == "occupation") for (const auto& o : occupation_words()) candidates.push_back(o.name);
  if (relation == "likes") candidates = colour_words();
  if (relation == "home") for (const auto& c : kb.countries) candidates.push_back(c.capital), candidates.push_back(c.largest_city);
  if (relation == "pets" || relation == "age")
    for (const auto& w : word_tokens(d.value("passage", "")))
      if (std::isdigit(static_cast<unsigned char>(w[0]))) candidates.push_back(w);
  f.correct = answer_score(content, gold, candidates) * (f.idk ? 0.5 : 1.0);
}

// ---- extraction: "Find all the cities in this text: ..." ----

TaskInstance generate_extraction(const KnowledgeBase& kb, const WorldConfig&, Rng& rng) {
  TaskInstance t;
  std::string kind, text;
  std::vector<std::string> gold;
  switch (rng.below(3)) {
    case 0: {
      kind = "cities";
      std::string a = any_city(kb, rng), b = any_city(kb, rng);
      const Animal& animal = any_animal(kb, rng);
      text = "In " + a + " " + with_article(animal.name) + " was happy. Then it went to " + b + ".";
      gold = {a, b};
      if (rng.chance(0.4)) {
        std::string c = any_city(kb, rng);
        text += " Later it saw " + c + ".";
        gold.push_back(c);
      }
      t.instruction = "Find the cities: " + text;
      break;
    }
    case 1: {
      kind = "animals";
      const Animal& a = any_animal(kb, rng);
      const Animal& b = any_animal(kb, rng);
      text = capitalize(with_article(a.name)) + " and " + with_article(b.name) + " went to " + any_city(kb, rng) + ".";
      gold = {a.name, b.name};
      if (rng.chance(0.5)) {
        const Animal& c = any_animal(kb, rng);
        text += " They met " + with_article(c.name) + ".";
        gold.push_back(c.name);
      }
      t.instruction = "Find the animals: " + text;
      break;
    }
    default: {
      kind = "numbers";
      int a = rng.range(2, 9), b = rng.range(10, 60);
      const auto& occupation = occupation_words()[rng.below(occupation_words().size())];
      text = "The " + std::string(occupation.name) + " has " + std::to_string(a) + " " + rng.pick(pet_words()) +
             " and is " + std::to_string(b) + " years old.";
      gold = {std::to_string(a), std::to_string(b)};
      t.instruction = "Find the numbers: " + text;
    }
  }
  json d = {{"kind", kind}, {"passage", text}, {"constraint", make_constraint("none")}};
  std::vector<std::string> gold_lower;
  for (const auto& g : gold)
    if (std::find(gold_lower.begin(), gold_lower.end(), lower(g)) == gold_lower.end()) gold_lower.push_back(lower(g));
  d["gold_items"] = gold_lower;
  d["items_as_written"] = gold;
  t.task_data = d;
  return t;
}

std::string answer_extraction(const json& d, const KnowledgeBase&, const Style& style, Rng&) {
  std::vector<std::string> shown;
  for (const auto& g : d.value("items_as_written", std::vector<std::string>{}))
    if (std::find(shown.begin(), shown.end(), g) == shown.end()) shown.push_back(g);
  std::string kind = d.value("kind", "");
  std::string body;
  if (style.numbered_list) body = numbered_list(shown);
  else if (style.full_sentence) body = "The " + kind + " are " + comma_list(shown) + ".";
  else body = capitalize(comma_list(shown)) + ".";
  return decorate(body, style, d);
}

void check_extraction(const json& d, const std::string& response, const KnowledgeBase& kb, Features& f) {
  std::string kind = d.value("kind", "");
  std::vector<std::string> gold = d.value("gold_items", std::vector<std::string>{});
  // Numbered lists carry their own digits: read the items, not the markers.
  std::string format;
  auto items = parse_items(response, &format);
  std::string text = format == "numbered" ? join_words(items, ", ") : content_of(response);
  std::set<std::string> found;
  for (const auto& w : word_tokens(text)) {
    bool hit = kind == "numbers" ? std::isdigit(static_cast<unsigned char>(w[0])) != 0
               : kind == "cities" ? kb.type_of(w) == EntityType::City
                                  : kb.type_of(w) == EntityType::Animal;
    if (!hit) continue;
    const Animal* a = kind == "animals" ? kb.animal(w) : nullptr;
    found.insert(a ? a->name : w);
  }
  int common = 0;
  for (const auto& g : gold) common += found.count(g) ? 1 : 0;
  double precision = found.empty() ? 0.0 : static_cast<double>(common) / static_cast<double>(found.size());
  double recall = gold.empty() ? 0.0 : static_cast<double>(common) / static_cast<double>(gold.size());
  f.correct = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
  // Items that are not in the text are made up.
  f.hallucinations = static_cast<int>(found.size()) - common;
}

}  // namespace rlhf::world::detail
