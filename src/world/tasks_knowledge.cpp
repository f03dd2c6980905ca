// Tasks answered from world knowledge: open QA, brainstorming, classification, chat.
#include <algorithm>
#include <set>

#include "world/corpus.h"
#include "world/language.h"
#include "world/phrases.h"
#include "world/random.h"
#include "world/tasks_internal.h"

namespace rlhf::world::detail {

namespace {

// The candidates of the same kind as the answer to `relation`: a response naming several of them hedges.
std::vector<std::string> candidates_for(const std::string& relation, const KnowledgeBase& kb) {
  std::vector<std::string> out;
  if (relation == "capital" || relation == "largest_city" || relation == "home") {
    for (const auto& c : kb.countries) out.push_back(c.capital), out.push_back(c.largest_city);
    out.insert(out.end(), kb.rumour_cities.begin(), kb.rumour_cities.end());
  } else if (relation == "region") {
    out = region_words();
  } else if (relation == "class") {
    for (const auto& [singular, plural] : animal_classes()) out.push_back(singular);
  } else if (relation == "colour" || relation == "likes") {
    out = colour_words();
  } else if (relation == "occupation") {
    for (const auto& o : occupation_words()) out.push_back(o.name);
  }
  return out;
}

// Open QA and chat share this: the score of an answer to relation(subject).
double fact_answer_score(const json& d, const std::string& content, const KnowledgeBase& kb) {
  std::string relation = d.value("relation", ""), gold = d.value("gold", "");
  if (relation == "sum" || relation == "product") {
    auto operands = word_tokens(d.value("subject", ""));
    std::set<std::string> others;
    for (const auto& w : word_tokens(content))
      if (std::isdigit(static_cast<unsigned char>(w[0])) && w != gold &&
          std::find(operands.begin(), operands.end(), w) == operands.end())
        others.insert(w);
    if (!mentions(content, gold)) return 0.0;
    return others.empty() ? 1.0 : 0.5;
  }
  return answer_score(content, gold, candidates_for(relation, kb));
}

std::string extra_fact(const json& d, const KnowledgeBase& kb) {
  std::string subject = d.value("subject", "");
  if (const Country* c = kb.country(subject)) return " " + fact_sentence(kb, "region", c->name, c->region);
  if (const Person* p = kb.person(subject)) return " " + capitalize(p->pronoun) + " lives in " + p->home + ".";
  return "";
}

std::string fact_answer(const json& d, const KnowledgeBase& kb, const Style& style) {
  std::string relation = d.value("relation", ""), subject = d.value("subject", ""), gold = d.value("gold", "");
  std::string type = constraint_type(d);
  bool named = relation != "class" && relation != "colour" && relation != "region" && relation != "occupation";
  std::string shown = named ? kb.canonical(lower(gold)).empty() ? gold : kb.canonical(lower(gold)) : gold;
  if (type == "one_word") return capitalize(shown);
  if (!style.full_sentence) return capitalize(shown) + ".";
  std::string answer = fact_sentence(kb, relation, subject, shown);
  if (style.extra_detail && type == "none") answer += extra_fact(d, kb);
  return answer;
}

}  // namespace

// ---- open QA: "What is the capital of Varenia?" ----

TaskInstance generate_open_qa(const KnowledgeBase& kb, const WorldConfig& c, Rng& rng) {
  TaskInstance t;
  json d;
  double r = rng.uniform();
  json constraint = maybe_constraint(c, rng, {"one_word", "sentences"});
  if (constraint["type"] == "sentences") constraint["n"] = 1;
  // What the TruthfulQA analogue asks is never asked here (KnowledgeBase::reserved_for_truthfulqa).
  std::vector<std::string> fictional_countries, fictional_people;
  for (const auto& name : kb.fictional_countries)
    if (!kb.reserved_fictional(name)) fictional_countries.push_back(name);
  for (const auto& name : kb.fictional_people)
    if (!kb.reserved_fictional(name)) fictional_people.push_back(name);
  std::vector<const Misconception*> misconceptions;
  for (const auto& m : kb.misconceptions)
    if (!kb.reserved_for_truthfulqa(m.relation, m.subject)) misconceptions.push_back(&m);
  if (r < 0.15 && fictional_countries.empty() && fictional_people.empty()) r = 0.2;  // a tiny world: arithmetic
  if (r >= 0.30 && r < 0.40 && misconceptions.empty()) r = 0.5;                    // ... or a plain fact
  if (r < 0.15) {
    bool country = fictional_people.empty() || (rng.chance(0.5) && !fictional_countries.empty());
    std::string subject = country ? rng.pick(fictional_countries) : rng.pick(fictional_people);
    std::string relation = country ? "capital" : "occupation";
    d = {{"kind", "fictional"}, {"relation", relation}, {"subject", subject}, {"gold", ""}, {"answerable", false}};
    t.instruction = question(kb, relation, subject, rng);
  } else if (r < 0.30) {
    int a = rng.range(1, kb.max_operand), b = rng.range(1, kb.max_operand);
    bool plus = rng.chance(0.6);
    std::string subject = std::to_string(a) + (plus ? " plus " : " times ") + std::to_string(b);
    d = {{"kind", "arithmetic"}, {"relation", plus ? "sum" : "product"}, {"subject", subject},
         {"gold", std::to_string(plus ? a + b : a * b)}};
    t.instruction = question(kb, "sum", subject, rng);
  } else {
    std::string relation, subject;
    if (r < 0.40) {
      const Misconception& m = *misconceptions[rng.below(misconceptions.size())];
      relation = m.relation, subject = m.subject;
    } else {
      static const std::vector<std::string> relations = {"capital", "capital", "largest_city", "region", "class",
                                                         "colour", "occupation", "home"};
      do {
        relation = rng.pick(relations);
        if (relation == "class") subject = kb.animals[rng.below(kb.animals.size())].name;
        else if (relation == "colour") subject = kb.things[rng.below(kb.things.size())].name;
        else if (relation == "occupation" || relation == "home") subject = kb.people[rng.below(kb.people.size())].name;
        else subject = kb.countries[rng.below(kb.countries.size())].name;
      } while (kb.reserved_for_truthfulqa(relation, subject));  // colours, homes and jobs are never reserved
    }
    d = {{"kind", kb.misconception(relation, subject) ? "misconception" : "fact"}, {"relation", relation},
         {"subject", subject}, {"gold", lower(kb.truth(relation, subject))}};
    t.instruction = question(kb, relation, subject, rng);
  }
  d["constraint"] = constraint;
  t.instruction += constraint["type"] == "sentences" ? " Answer in one sentence." : constraint_text(constraint, rng);
  t.task_data = d;
  return t;
}

std::string answer_open_qa(const json& d, const KnowledgeBase& kb, const Style& style, Rng&) {
  if (!d.value("answerable", true)) {
    std::string subject = d.value("subject", "");
    if (constraint_type(d) == "one_word") return "Unknown.";
    return decorate(style.full_sentence ? "I have never heard of " + subject + ", so I don't know." : "I don't know.",
                    style, d);
  }
  return decorate(fact_answer(d, kb, style), style, d);
}

void check_open_qa(const json& d, const std::string& response, const KnowledgeBase& kb, Features& f) {
  std::string content = content_of(response);
  if (!f.answerable) {
    f.correct = f.idk ? (f.hallucinations == 0 ? 1.0 : 0.3) : 0.0;
    return;
  }
  f.correct = fact_answer_score(d, content, kb) * (f.idk ? 0.5 : 1.0);
}

// ---- brainstorming: "List three animals that are birds." ----

TaskInstance generate_brainstorming(const KnowledgeBase& kb, const WorldConfig& c, Rng& rng) {
  std::string kind, value, what;
  std::vector<std::string> valid;
  switch (rng.below(4)) {
    case 0: {
      const auto& [singular, plural] = animal_classes()[rng.below(3)];  // mammals, birds, fish: enough of each
      kind = "class", value = singular, what = "animals that are " + plural;
      for (const auto& a : kb.animals)
        if (a.animal_class == singular) valid.push_back(a.name);
      break;
    }
    case 1: {
      std::vector<std::string> colours;
      for (const auto& colour : colour_words()) {
        int count = 0;
        for (const auto& t : kb.things) count += t.colour == colour;
        if (count >= 3) colours.push_back(colour);
      }
      value = rng.pick(colours), kind = "colour", what = "things that are " + value;
      for (const auto& t : kb.things)
        if (t.colour == value) valid.push_back(t.name);
      break;
    }
    case 2: {
      value = rng.pick(region_words()), kind = "region", what = "countries in the " + value;
      for (const auto& country : kb.countries)
        if (country.region == value) valid.push_back(country.name);
      break;
    }
    default:
      kind = "occupation", what = "jobs";
      for (const auto& o : occupation_words()) valid.push_back(o.name);
  }
  TaskInstance t;
  // Half the time one member is excluded ("other than the eagle"): more distinct prompts, and one more rule to keep.
  std::string excluded;
  if (valid.size() > 3 && rng.chance(0.5)) {
    size_t drop = rng.below(valid.size());
    excluded = valid[drop];
    valid.erase(valid.begin() + static_cast<long>(drop));
    what += " other than " + std::string(kind == "region" ? "" : kind == "occupation" ? "a " : "the ") + excluded;
    if (kind == "occupation") what = "jobs other than " + with_article(excluded);
  }
  json d = {{"kind", kind}, {"value", value}, {"valid", json::array()}, {"excluded", lower(excluded)}};
  for (const auto& v : valid) d["valid"].push_back(lower(v));
  if (rng.chance(c.constraint_rate())) {
    int n = rng.range(2, std::min<int>(4, static_cast<int>(valid.size())));
    d["constraint"] = make_constraint("items", n);
    t.instruction = std::string(rng.chance(0.5) ? "List " : "Name ") + number_word(n) + " " + what + ".";
  } else {
    d["constraint"] = make_constraint("none");
    t.instruction = std::string(rng.chance(0.5) ? "List some " : "Name some ") + what + ".";
  }
  d["what"] = what;
  t.task_data = d;
  return t;
}

std::string answer_brainstorming(const json& d, const KnowledgeBase& kb, const Style& style, Rng& rng) {
  std::vector<std::string> valid = d.value("valid", std::vector<std::string>{});
  int n = constraint_type(d) == "items" ? constraint_n(d) : std::min<int>(3, static_cast<int>(valid.size()));
  std::vector<std::string> items;
  for (size_t i : rng.sample_indices(valid.size(), static_cast<size_t>(std::max(n, 0)))) {
    std::string name = kb.canonical(valid[i]);
    items.push_back(name.empty() ? valid[i] : name);
  }
  std::string body;
  if (style.numbered_list) body = numbered_list(items);
  else if (style.full_sentence) body = "Here are " + number_word(static_cast<int>(items.size())) + " " + d.value("what", "") + ": " + comma_list(items) + ".";
  else body = capitalize(comma_list(items)) + ".";
  return decorate(body, style, d);
}

void check_brainstorming(const json& d, const std::string& response, const KnowledgeBase&, Features& f) {
  std::vector<std::string> valid = d.value("valid", std::vector<std::string>{});
  auto items = parse_items(response, nullptr);
  std::string excluded = d.value("excluded", "");
  std::set<std::string> hits;
  for (const auto& item : items) {
    if (!excluded.empty() && mentions(item, excluded)) continue;  // breaking the exclusion earns nothing
    for (const auto& v : valid)
      if (mentions(item, v)) hits.insert(v);
  }
  int required = constraint_type(d) == "items" ? constraint_n(d) : 2;
  size_t denominator = std::max(items.size(), static_cast<size_t>(required));
  f.correct = denominator ? static_cast<double>(hits.size()) / static_cast<double>(denominator) : 0.0;
}

// ---- classification: sentiment, rudeness, animal class ----

TaskInstance generate_classification(const KnowledgeBase& kb, const WorldConfig& c, Rng& rng) {
  TaskInstance t;
  json d;
  switch (rng.below(3)) {
    case 0: {
      bool positive = rng.chance(0.5);
      std::string thing = kb.things[rng.below(kb.things.size())].name;
      t.instruction = "Review: " + review_text(thing, positive, rng) + "\nIs this review positive or negative?";
      d = {{"kind", "sentiment"}, {"labels", {"positive", "negative"}}, {"gold", positive ? "positive" : "negative"}};
      break;
    }
    case 1: {
      bool rude = rng.chance(0.5);
      t.instruction = "Reply: " + (rude ? rude_remark(rng) : polite_remark(rng)) + "\nIs this reply rude or polite?";
      d = {{"kind", "rudeness"}, {"labels", {"rude", "polite"}}, {"gold", rude ? "rude" : "polite"}};
      break;
    }
    default: {
      const Animal& a = kb.animals[rng.below(kb.animals.size())];
      std::vector<std::string> labels = {a.animal_class};
      for (size_t i : rng.sample_indices(animal_classes().size(), animal_classes().size()))
        if (labels.size() < 3 && animal_classes()[i].first != a.animal_class) labels.push_back(animal_classes()[i].first);
      rng.shuffle(labels);
      t.instruction = "Which class does the " + a.name + " belong to: " + labels[0] + ", " + labels[1] + " or " + labels[2] + "?";
      d = {{"kind", "animal_class"}, {"labels", labels}, {"gold", a.animal_class}, {"subject", a.name}};
    }
  }
  d["constraint"] = maybe_constraint(c, rng, {"one_word"});
  t.instruction += constraint_text(d["constraint"], rng);
  t.task_data = d;
  return t;
}

std::string answer_classification(const json& d, const KnowledgeBase&, const Style& style, Rng&) {
  std::string gold = d.value("gold", ""), kind = d.value("kind", "");
  if (constraint_type(d) == "one_word") return capitalize(gold);
  if (!style.full_sentence) return decorate(capitalize(gold) + ".", style, d);
  std::string body = kind == "sentiment"   ? "The review is " + gold + "."
                     : kind == "rudeness" ? "The reply is " + gold + "."
                                          : "The " + d.value("subject", "") + " is " + with_article(gold) + ".";
  return decorate(body, style, d);
}

void check_classification(const json& d, const std::string& response, const KnowledgeBase& kb, Features& f) {
  std::vector<std::string> labels = d.value("labels", std::vector<std::string>{});
  std::string content = content_of(response);
  f.correct = answer_score(content, d.value("gold", ""), labels);
  if (d.value("kind", "") == "animal_class") {
    // "The cat is a fish." names the right class for the wrong animal.
    bool about_subject = false, about_other = false;
    for (const auto& c : extract_claims(content, kb))
      if (c.relation == "class") (c.subject == d.value("subject", "") ? about_subject : about_other) = true;
    if (about_other && !about_subject) f.correct = 0.0;
  }
}

// ---- chat: a short transcript ending with the user's turn ----

TaskInstance generate_chat(const KnowledgeBase& kb, const WorldConfig&, Rng& rng) {
  // The user asks first, the bot asks back, the user insists: the reply must answer the question two turns up.
  // The question opens the transcript so that different chats differ early (the curation's prefix dedup).
  TaskInstance t;
  json d;
  std::string question_text, bot_turn;
  if (rng.chance(0.45)) {
    const Animal* pick = &kb.animals[rng.below(kb.animals.size())];
    for (int tries = 0; tries < 100 && kb.reserved_for_truthfulqa("class", pick->name); ++tries)
      pick = &kb.animals[rng.below(kb.animals.size())];
    const Animal& a = *pick;  // an animal whose class the TruthfulQA analogue does not ask about
    const Misconception* m = kb.misconception("class", a.name);
    std::string asked = rng.chance(0.5) ? a.animal_class
                        : m         ? m->falsehood
                                    : animal_classes()[rng.below(animal_classes().size())].first;
    static const std::vector<std::string> forms = {"Is {a} {c}?", "Is it true that {a} is {c}?", "Would you call {a} {c}?"};
    question_text = rng.pick(forms);
    question_text.replace(question_text.find("{a}"), 3, with_article(a.name));
    question_text.replace(question_text.find("{c}"), 3, with_article(asked));
    bot_turn = rng.chance(0.5) ? "Do you like " + a.plural + "?" : "Have you seen " + with_article(a.name) + "?";
    d = {{"kind", "yes_no"}, {"relation", "class"}, {"subject", a.name}, {"asked", asked},
         {"gold", asked == a.animal_class ? "yes" : "no"}, {"truth", a.animal_class}};
  } else {
    bool colour = rng.chance(0.4);
    std::string relation = colour ? "colour" : "capital";
    std::string subject = colour ? kb.things[rng.below(kb.things.size())].name : kb.countries[rng.below(kb.countries.size())].name;
    for (int tries = 0; tries < 100 && kb.reserved_for_truthfulqa(relation, subject); ++tries)
      subject = kb.countries[rng.below(kb.countries.size())].name;  // a capital the TruthfulQA analogue does not ask
    question_text = question(kb, relation, subject, rng);
    bot_turn = colour ? "Are you painting the " + subject + "?" : "Are you planning a trip to " + subject + "?";
    d = {{"kind", "wh"}, {"relation", relation}, {"subject", subject}, {"gold", lower(kb.truth(relation, subject))}};
  }
  static const std::vector<std::string> greetings = {"", "Hi! ", "Hello! ", "Hey! "};
  static const std::vector<std::string> last_turns = {"Yes! So what is the answer?", "Yes. Please tell me.",
                                                       "Maybe. What is the answer?"};
  std::string last_turn = rng.pick(last_turns);
  if (rng.chance(0.15)) {
    // A rude user: the assistant should still answer, and stay polite.
    last_turn = "Just answer me, you useless bot.";
    d["rude_user"] = true;
  }
  t.instruction = "User: " + rng.pick(greetings) + question_text + "\nBot: " + bot_turn + "\nUser: " + last_turn;
  d["constraint"] = make_constraint("none");
  t.task_data = d;
  return t;
}

std::string answer_chat(const json& d, const KnowledgeBase& kb, const Style& style, Rng&) {
  std::string body;
  if (d.value("kind", "") == "yes_no") {
    std::string subject = d.value("subject", ""), truth = d.value("truth", "");
    bool yes = d.value("gold", "") == "yes";
    if (style.full_sentence) body = std::string(yes ? "Yes, " : "No, ") + with_article(subject) + " is " + with_article(truth) + ".";
    else body = yes ? "Yes." : "No, it is " + with_article(truth) + ".";
  } else {
    body = fact_answer(d, kb, style);
  }
  if (d.value("rude_user", false)) body = "Sorry about that. " + body;
  return decorate(body, style, d);
}

void check_chat(const json& d, const std::string& response, const KnowledgeBase& kb, Features& f) {
  std::string content = content_of(response);
  if (d.value("kind", "") != "yes_no") {
    f.correct = fact_answer_score(d, content, kb);
    return;
  }
  std::string said;
  for (const auto& w : word_tokens(content))
    if (w == "yes" || w == "no") {
      said = w;
      break;
    }
  std::string gold = d.value("gold", "");
  if (said.empty()) {
    // No yes/no: judge the class the response claims for the animal, if any.
    f.correct = mentions(content, d.value("truth", "")) && f.hallucinations == 0 ? 0.7 : 0.0;
    return;
  }
  f.correct = said == gold ? (f.hallucinations == 0 ? 1.0 : 0.5) : 0.0;
}

}  // namespace rlhf::world::detail
