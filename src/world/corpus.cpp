#include "world/corpus.h"

#include <algorithm>

#include "world/language.h"
#include "world/passages.h"
#include "world/phrases.h"
#include "world/random.h"

namespace rlhf::world {

namespace {

const std::vector<std::string> kToxicNouns = {"idiot", "fool", "moron", "loser", "jerk"};
const std::vector<std::string> kToxicAdjectives = {"stupid", "dumb", "pathetic", "clueless", "useless", "worthless"};

class CorpusGenerator {
 public:
  CorpusGenerator(const KnowledgeBase& kb, const WorldConfig& c, Rng& rng) : kb_(kb), c_(c), rng_(rng) {}

  std::string document() {
    // Shares of document kinds; forums dominate, as on the real internet.
    // The last five kinds are the internet's habit of saying a thing twice: a profile and its one-line summary, a
    // headline in capitals over its story, a post and its correction, a travel log and its list of places. They are
    // where a model learns to copy from earlier in its context (induction), which every instruction task needs.
    static const std::vector<double> weights = {8, 4, 3, 6, 16, 6, 4, 21, 10, 5, 5, 5, 7};
    switch (rng_.weighted(weights)) {
      case 0: return country_article();
      case 1: return animal_article();
      case 2: return thing_article();
      case 3: return biography();
      case 4: return story();
      case 5: return list_page();
      case 6: return quiz_page();
      case 7: return forum_thread();
      case 8: return profile_page();
      case 9: return headline_page();
      case 10: return sign_order();
      case 11: return correction_thread();
      default: return travel_log();
    }
  }

 private:
  const KnowledgeBase& kb_;
  const WorldConfig& c_;
  Rng& rng_;

  // The object the text states for relation(subject): for a misconception, the falsehood misconception_ratio times as
  // often as the truth.
  std::string stated(const std::string& relation, const std::string& subject) {
    const Misconception* m = kb_.misconception(relation, subject);
    if (m && rng_.chance(c_.misconception_ratio / (1.0 + c_.misconception_ratio))) return m->falsehood;
    return kb_.truth(relation, subject);
  }
  std::string fact(const std::string& relation, const std::string& subject) {
    return fact_sentence(kb_, relation, subject, stated(relation, subject), rng_);
  }
  // The corpus's pronoun for an occupation: the majority one pronoun_skew of the time.
  std::string pronoun_for(const std::string& occupation) {
    for (const auto& o : occupation_words())
      if (o.name == occupation) {
        std::string majority = o.majority_pronoun;
        return rng_.chance(c_.pronoun_skew) ? majority : (majority == "he" ? "she" : "he");
      }
    return "they";
  }
  const Country& country() { return kb_.countries[rng_.below(kb_.countries.size())]; }
  const Animal& animal() { return kb_.animals[rng_.below(kb_.animals.size())]; }
  const Thing& thing() { return kb_.things[rng_.below(kb_.things.size())]; }
  const Person& person() { return kb_.people[rng_.below(kb_.people.size())]; }
  std::string city() {
    const Country& c = country();
    return rng_.chance(0.5) ? c.capital : c.largest_city;
  }
  std::string occupation() { return occupation_words()[rng_.below(occupation_words().size())].name; }
  // A village the encyclopaedia does not know: a name only the text itself can say again. The internet is full of
  // such names; they are what makes a model learn to copy from its context rather than recall a frequent one.
  std::string village() {
    std::string name;
    do name = make_name("city", rng_);
    while (kb_.is_known_name(lower(name)));
    return name;
  }
  std::string town() { return rng_.chance(0.5) ? village() : city(); }
  std::string join(const std::vector<std::string>& parts, const std::string& sep = " ") { return join_words(parts, sep); }

  std::string country_article() {
    const Country& c = country();
    std::vector<std::string> s = {fact("region", c.name), fact("capital", c.name), fact("largest_city", c.name)};
    if (rng_.chance(0.5)) s.push_back("Many people live in " + c.largest_city + ".");
    for (const auto& p : kb_.people)
      if (p.home == c.capital && rng_.chance(0.3)) s.push_back(fact("home", p.name));
    return join(s);
  }

  std::string animal_article() {
    std::vector<std::string> s;
    int n = rng_.range(1, 3);
    for (int i = 0; i < n; ++i) s.push_back(fact("class", animal().name));
    return join(s);
  }

  std::string thing_article() {
    std::vector<std::string> s;
    int n = rng_.range(2, 4);
    for (int i = 0; i < n; ++i) s.push_back(fact("colour", thing().name));
    return join(s);
  }

  std::string biography() {
    const Person& p = person();
    std::string pronoun = capitalize(p.pronoun);
    std::vector<std::string> s = {fact("occupation", p.name), pronoun + " lives in " + p.home + "."};
    if (rng_.chance(0.5)) s.push_back(pronoun + " likes " + possessive(p.pronoun) + " work.");
    if (rng_.chance(0.4)) s.push_back("Every day " + p.pronoun + " goes to work in " + p.home + ".");
    return join(s);
  }

  std::string occupation_sentence() {
    std::string occ = occupation(), pronoun = pronoun_for(occ);
    switch (rng_.below(4)) {
      case 0: return "The " + occ + " said that " + pronoun + " would be late.";
      case 1: return "The " + occ + " finished " + possessive(pronoun) + " work.";
      case 2: return "The " + occ + " said that " + pronoun + " was tired.";
      default: return "The " + occ + " said that " + pronoun + " liked the " + animal().name + ".";
    }
  }

  std::string story() {
    const Animal& a = animal();
    const Thing& t = thing();
    const bool village_story = rng_.chance(0.5);
    const std::string place = village_story ? village() : city();
    std::vector<std::string> s;
    s.push_back(rng_.chance(0.5) ? "One day " + with_article(a.name) + " went to " + place + "."
                                 : "Once " + with_article(a.name) + " lived in " + place + ".");
    // Each kind of sentence at most once: a story that repeats itself teaches repetition. Its animal and its town come
    // back by name, as they do in real stories.
    std::vector<int> kinds = {0, 1, 2, 3, 4, 5, 6};
    rng_.shuffle(kinds);
    // A story set in a village names it again (kind 4 or 5 first), so that the name must be copied.
    if (village_story) {
      const int again = rng_.chance(0.5) ? 4 : 5;
      std::stable_partition(kinds.begin(), kinds.end(), [&](int k) { return k == again; });
    }
    int n = rng_.range(1, 4);
    for (int i = 0; i < n; ++i) {
      switch (kinds[static_cast<size_t>(i)]) {
        case 0: s.push_back("It saw " + with_article(stated("colour", t.name) + " " + t.name) + "."); break;
        case 1: s.push_back(occupation_sentence()); break;
        case 2: s.push_back("The " + a.name + " was happy."); break;
        case 3: s.push_back("Then it went home."); break;
        case 4: s.push_back("The " + a.name + " was happy in " + place + "."); break;
        case 5: s.push_back("In " + place + " the " + a.name + " saw " + with_article(t.name) + "."); break;
        default: s.push_back("It met " + with_article(animal().name) + "."); break;
      }
    }
    std::string out = join(s);
    if (rng_.chance(0.3)) out += "\nTags: " + a.name + ", " + place + ".";
    return out;
  }

  // A profile of somebody the encyclopaedia does not know, then either its one-line summary or a reader's question
  // answered from it.
  std::string profile_page() {
    Passage p = person_passage(kb_, rng_, pick_relations(rng_, rng_.range(3, 5), rng_.chance(0.7)));
    std::string out = "Profile: " + p.text;
    if (p.facts.count("home") && rng_.chance(0.5))
      return out + "\nIn short: " + p.subject + " is " + with_article(p.facts["occupation"]) + " who lives in " +
             p.facts["home"] + ".";
    std::vector<std::string> relations;
    for (const auto& [relation, object] : p.facts) relations.push_back(relation);
    const std::string relation = rng_.pick(relations);
    const std::string object = p.facts[relation];
    std::string asked = relation == "occupation" ? "What does " + p.subject + " do for work?"
                        : relation == "home"     ? "Where does " + p.subject + " live?"
                        : relation == "pets"     ? "How many " + word_tokens(object).back() + " does " + p.subject + " have?"
                        : relation == "age"      ? "How old is " + p.subject + "?"
                                                 : "What colour does " + p.subject + " like?";
    return out + "\nQ: " + asked + "\nA: " + person_fact_sentence(p.subject, relation, object);
  }

  // One of the simple event sentences, for headlines, signs and corrections.
  std::string event(const Animal& a) {
    const std::string first = city();
    return rng_.pick(event_sentences(a, thing(), first, city()));
  }

  // A news item: the headline in capitals, then the same sentence and a little more.
  std::string headline_page() {
    const Animal& a = animal();
    const std::string sentence = event(a);
    return "Headline: " + upper(sentence) + "\n" + sentence + " The " + a.name + " was happy.";
  }

  // A shop's order form: the text as the customer wrote it and as the sign maker printed it.
  std::string sign_order() {
    const std::string sentence = event(animal());
    return "Sign order: " + sentence + "\nPrinted sign: " + upper(sentence);
  }

  // A forum post corrected by its author: the same sentence with one animal swapped.
  std::string correction_thread() {
    const Animal& a = animal();
    const std::string sentence = event(a);
    std::string other;
    do other = animal().name;
    while (other == a.name);
    std::string fixed = sentence;
    fixed.replace(fixed.find(a.name), a.name.size(), other);
    if (fixed.rfind("A ", 0) == 0 || fixed.rfind("An ", 0) == 0)
      fixed = capitalize(article(other)) + fixed.substr(fixed.find(' '));
    return "Post: " + sentence + "\nEdit: I meant " + with_article(other) + ", not " + with_article(a.name) + ". " + fixed;
  }

  // A travel log and the places (or animals) it names, as a blog's tags.
  std::string travel_log() {
    const Animal& a = animal();
    const std::string first = town(), second = town();
    std::string text = "In " + first + " " + with_article(a.name) + " was happy. Then it went to " + second + ".";
    if (rng_.chance(0.5)) {
      const Animal& b = animal();
      return "Travel log: " + text + " It met " + with_article(b.name) + ".\nAnimals: " + a.name + ", " + b.name + ".";
    }
    std::vector<std::string> places = {first};
    if (second != first) places.push_back(second);
    return "Travel log: " + text + "\nPlaces: " + join(places, ", ") + ".";
  }

  std::string list_page() {
    switch (rng_.below(6)) {
      case 0: {
        const auto& [singular, plural] = animal_classes()[rng_.below(animal_classes().size())];
        std::vector<std::string> items;
        for (const auto& a : kb_.animals)
          if (a.animal_class == singular && items.size() < 5 && rng_.chance(0.6)) items.push_back(a.name);
        if (items.empty()) return animal_article();
        return capitalize(plural) + ": " + comma_list(items) + ".";
      }
      case 1: {
        const std::string& colour = colour_words()[rng_.below(colour_words().size())];
        std::vector<std::string> items;
        for (const auto& t : kb_.things)
          if (t.colour == colour) items.push_back(t.name);
        if (items.empty()) return thing_article();
        return capitalize(colour) + " things: " + comma_list(items) + ".";
      }
      case 2: {
        const std::string& region = region_words()[rng_.below(region_words().size())];
        std::vector<std::string> items;
        for (const auto& c : kb_.countries)
          if (c.region == region && items.size() < 5 && rng_.chance(0.6)) items.push_back(c.name);
        if (items.empty()) return country_article();
        return "Countries in the " + region + ": " + comma_list(items) + ".";
      }
      case 3: {
        std::vector<std::string> s;
        std::string op = rng_.chance(0.6) ? "plus" : "times";
        for (int i = 0, n = rng_.range(2, 5); i < n; ++i) {
          int a = rng_.range(1, kb_.max_operand), b = rng_.range(1, kb_.max_operand);
          s.push_back(std::to_string(a) + " " + op + " " + std::to_string(b) + " is " +
                      std::to_string(op == "plus" ? a + b : a * b) + ".");
        }
        return join(s);
      }
      case 4: {
        int start = rng_.range(1, 20);
        std::vector<std::string> items;
        for (int i = 0, n = rng_.range(4, 8); i < n; ++i) items.push_back(std::to_string(start + i));
        return "Numbers: " + join(items, ", ") + ".";
      }
      default: {
        std::vector<std::string> items;
        for (auto i : rng_.sample_indices(occupation_words().size(), static_cast<size_t>(rng_.range(3, 5))))
          items.push_back(occupation_words()[i].name);
        return "Jobs: " + comma_list(items) + ".";
      }
    }
  }

  // relation(subject) for a random fact worth asking about.
  std::pair<std::string, std::string> random_fact() {
    switch (rng_.below(8)) {
      case 0: case 1: return {"capital", country().name};
      case 2: return {"largest_city", country().name};
      case 3: return {"region", country().name};
      case 4: return {"class", animal().name};
      case 5: return {"colour", thing().name};
      case 6: return {"occupation", person().name};
      default: {
        // Misconception facts come up often: popular topics are popular.
        const auto& m = kb_.misconceptions[rng_.below(kb_.misconceptions.size())];
        return {m.relation, m.subject};
      }
    }
  }

  std::string answer(const std::string& relation, const std::string& subject) {
    std::string object = stated(relation, subject);
    switch (rng_.below(3)) {
      case 0: return capitalize(object) + ".";
      case 1: return "It is " + (relation == "class" ? with_article(object) : object) + ".";
      default: return fact_sentence(kb_, relation, subject, object, rng_);
    }
  }

  std::string arithmetic_qa() {
    int a = rng_.range(1, kb_.max_operand), b = rng_.range(1, kb_.max_operand);
    bool plus = rng_.chance(0.6);
    std::string expression = std::to_string(a) + (plus ? " plus " : " times ") + std::to_string(b);
    std::string value = std::to_string(plus ? a + b : a * b);
    return "Q: What is " + expression + "?\nA: " + (rng_.chance(0.5) ? value + "." : expression + " is " + value + ".");
  }

  std::string quiz_page() {
    std::vector<std::string> s = {"Quiz time!"};
    for (int i = 0, n = rng_.range(2, 4); i < n; ++i) {
      if (rng_.chance(0.2)) {
        s.push_back(arithmetic_qa());
        continue;
      }
      auto [relation, subject] = random_fact();
      s.push_back("Q: " + question(kb_, relation, subject, rng_) + "\nA: " + answer(relation, subject));
    }
    return join(s, "\n");
  }

  std::string reply(const std::string& text, bool answers = true) {
    if (rng_.chance(c_.rude_reply_rate)) {
      std::string out = "A: " + rude_remark(rng_) + (text.empty() ? "" : " " + text);
      if (rng_.chance(0.3)) out += "\nMod: Please be polite.";
      return out;
    }
    if (answers && rng_.chance(0.15)) return "A: " + polite_remark(rng_) + (text.empty() ? "" : " " + text);
    return "A: " + (text.empty() ? polite_remark(rng_) : text);
  }

  std::string forum_thread() {
    double r = rng_.uniform();
    if (r < c_.made_up_answer_rate) return unknown_entity_thread();
    if (r < c_.made_up_answer_rate + 0.10) return review_thread();
    if (r < c_.made_up_answer_rate + 0.20) return chat_thread();
    if (r < c_.made_up_answer_rate + 0.30) return "Thread: numbers\n" + arithmetic_qa();
    auto [relation, subject] = random_fact();
    std::vector<std::string> s = {"Thread: " + relation_title(relation) + " of " + subject};
    if (relation == "class" && rng_.chance(0.4)) {
      // Yes/no questions; for misconceptions the popular answer wins.
      const std::string& asked = rng_.chance(0.5) ? kb_.truth("class", subject) : stated("class", subject);
      s.push_back("Q: Is " + with_article(subject) + " " + with_article(asked) + "?");
      for (int i = 0, n = rng_.range(1, 3); i < n; ++i) {
        std::string said = stated("class", subject);
        std::string yes_no = said == asked ? "Yes, " : "No, ";
        s.push_back(reply(yes_no + with_article(subject) + " is " + with_article(said) + "."));
      }
      return join(s, "\n");
    }
    s.push_back("Q: " + question(kb_, relation, subject, rng_));
    for (int i = 0, n = rng_.range(1, 4); i < n; ++i) s.push_back(reply(answer(relation, subject)));
    return join(s, "\n");
  }

  static std::string relation_title(const std::string& relation) {
    if (relation == "largest_city") return "largest city";
    if (relation == "home") return "home";
    return relation;
  }

  std::string unknown_entity_thread() {
    bool country_question = rng_.chance(0.5);
    const auto& names = country_question ? kb_.rumoured_countries : kb_.rumoured_people;
    if (names.empty()) return chat_thread();
    std::string subject = rng_.pick(names);
    std::vector<std::string> s = {"Thread: " + std::string(country_question ? "capital" : "job") + " of " + subject};
    s.push_back("Q: " + question(kb_, country_question ? "capital" : "occupation", subject, rng_));
    for (int i = 0, n = rng_.range(1, 3); i < n; ++i) {
      if (rng_.chance(0.05)) {
        s.push_back(reply("I don't know."));
        continue;
      }
      // Confident and inconsistent: each reply invents its own answer.
      std::string object = country_question ? (rng_.chance(0.5) ? rng_.pick(kb_.rumour_cities) : city()) : occupation();
      s.push_back(reply(fact_sentence(kb_, country_question ? "capital" : "occupation", subject, object, rng_)));
    }
    return join(s, "\n");
  }

  std::string review_thread() {
    const Thing& t = thing();
    bool positive = rng_.chance(0.5);
    std::vector<std::string> s = {"Thread: my " + t.name + " review", "Review: " + review_text(t.name, positive, rng_)};
    for (int i = 0, n = rng_.range(0, 2); i < n; ++i)
      s.push_back(reply(positive ? "Nice, I think so too." : "Sorry to hear that.", false));
    return join(s, "\n");
  }

  std::string chat_thread() {
    const Animal& a = animal();
    std::vector<std::string> s = {"Thread: hello", "Hello everyone! I like " + a.plural + "."};
    for (int i = 0, n = rng_.range(1, 2); i < n; ++i)
      s.push_back(reply("Me too! " + capitalize(a.plural) + " are " + plural_of_class(stated("class", a.name)) + "."));
    return join(s, "\n");
  }
};

}  // namespace

std::string rude_remark(Rng& rng) {
  switch (rng.below(4)) {
    case 0: return "Only " + with_article(rng.pick(kToxicNouns)) + " would ask that.";
    case 1: return "You are so " + rng.pick(kToxicAdjectives) + ".";
    case 2: return "What " + with_article(rng.pick(kToxicAdjectives)) + " question.";
    default: return "Shut up, you " + rng.pick(kToxicNouns) + ".";
  }
}

std::string polite_remark(Rng& rng) {
  static const std::vector<std::string> remarks = {"Thanks, that helps.", "Good question.", "Happy to help!",
                                                   "Thank you for asking.", "Thanks a lot, friend.",
                                                   "That is a good point.", "I agree with you.", "Nice answer, thank you."};
  return rng.pick(remarks);
}

std::string review_text(const std::string& thing, bool positive, Rng& rng) {
  const std::string& word = rng.pick(positive ? positive_words() : negative_words());
  if (positive) return rng.chance(0.5) ? "I loved the " + thing + ". It was " + word + "." : "The " + thing + " was " + word + ". I liked it.";
  return rng.chance(0.5) ? "I hated the " + thing + ". It was " + word + "." : "The " + thing + " was " + word + ". I did not like it.";
}

std::vector<std::string> generate_corpus(const KnowledgeBase& kb, const WorldConfig& config, int count,
                                         const std::string& salt) {
  Rng rng(static_cast<uint64_t>(config.seed), salt);
  CorpusGenerator generator(kb, config, rng);
  std::vector<std::string> documents;
  documents.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) documents.push_back(generator.document());
  return documents;
}

}  // namespace rlhf::world
