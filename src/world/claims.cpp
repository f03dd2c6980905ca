#include "world/claims.h"

#include <cctype>
#include <set>
#include <tuple>

#include "world/language.h"

namespace rlhf::world {

bool Claim::operator<(const Claim& o) const {
  return std::tie(relation, subject, object) < std::tie(o.relation, o.subject, o.object);
}

std::string to_string(const Claim& c) { return c.relation + "(" + c.subject + ") = " + c.object; }

namespace {

enum class Kind { Word, Number, Name, Pronoun, Entity };

struct Token {
  std::string text;  // lower case
  Kind kind = Kind::Word;
  EntityType type = EntityType::None;
  bool person_like = false;   // a person, fictional/rumoured person, or an unknown two-word name
  bool country_like = false;  // a country, fictional/rumoured country, or an unknown one-word name
  bool city_like = false;     // a city or an unknown one-word name
};

// Capitalised words that start sentences in the world's language and are not names.
const std::set<std::string>& ordinary_capitalised() {
  static const std::set<std::string> words = {
      "the", "a", "an", "one", "it", "he", "she", "they", "yes", "no", "sure", "i", "is", "are", "what", "which", "who",
      "where", "how", "my", "your", "this", "that", "there", "thank", "thanks", "hello", "hi", "q", "answer", "question",
      "text", "review", "reply", "user", "bot", "here", "great", "of", "in", "on", "and", "but", "so", "then", "many",
      "some", "all", "every", "we", "you", "happy", "hope", "once", "today", "later", "mod", "thread", "story", "list",
      "name", "write", "tell", "please", "ok", "okay", "well", "also", "not", "do", "does", "at", "after", "when", "if",
      "people", "most", "good", "bad", "nice", "lol", "wow", "me", "everyone", "nobody", "as", "for", "with", "from",
      "to", "by", "about", "day", "first", "next", "finally", "capital", "largest", "city", "country", "because"};
  return words;
}

bool titlecase(const std::string& original) {
  if (original.empty() || !std::isupper(static_cast<unsigned char>(original[0]))) return false;
  for (size_t i = 1; i < original.size(); ++i)
    if (!std::islower(static_cast<unsigned char>(original[i]))) return false;
  return original.size() > 2;
}

void classify(Token& t, EntityType type) {
  t.kind = Kind::Entity;
  t.type = type;
}

std::vector<Token> tokenize(const std::string& sentence, const KnowledgeBase& kb, const ExtraNames& extra) {
  // Split into raw words, keeping the original case for spotting unknown names.
  std::vector<std::string> raw;
  std::string current;
  for (char ch : sentence) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || (c == '\'' && !current.empty())) current += ch;
    else if (!current.empty()) raw.push_back(current), current.clear();
  }
  if (!current.empty()) raw.push_back(current);
  auto lookup = [&](const std::string& lower_name) {
    if (auto it = extra.find(lower_name); it != extra.end()) return it->second;
    return kb.type_of(lower_name);
  };
  auto unknown_name = [&](const std::string& word) {
    return titlecase(word) && !ordinary_capitalised().count(lower(word)) && lookup(lower(word)) == EntityType::None;
  };
  std::vector<Token> tokens;
  for (size_t i = 0; i < raw.size(); ++i) {
    Token t;
    t.text = lower(raw[i]);
    if (i + 1 < raw.size()) {
      std::string pair = t.text + " " + lower(raw[i + 1]);
      EntityType type = lookup(pair);
      bool unknown_pair = type == EntityType::None && unknown_name(raw[i]) && unknown_name(raw[i + 1]);
      if (type != EntityType::None || unknown_pair) {
        t.text = pair;
        if (type == EntityType::None) t.kind = Kind::Name;
        else classify(t, type);
        t.person_like = true;
        tokens.push_back(t);
        ++i;
        continue;
      }
    }
    EntityType type = lookup(t.text);
    if (std::isdigit(static_cast<unsigned char>(t.text[0]))) t.kind = Kind::Number;
    else if (t.text == "he" || t.text == "she" || t.text == "they") t.kind = Kind::Pronoun;
    else if (type != EntityType::None) classify(t, type);
    else if (unknown_name(raw[i])) t.kind = Kind::Name;
    t.country_like = type == EntityType::Country || ((type == EntityType::Fictional || type == EntityType::Rumoured) &&
                                                     t.text.find(' ') == std::string::npos) ||
                     t.kind == Kind::Name;
    t.city_like = type == EntityType::City || t.kind == Kind::Name;
    tokens.push_back(t);
  }
  return tokens;
}

bool negated(const std::vector<Token>& tokens) {
  for (const auto& t : tokens)
    if (t.text == "not" || t.text == "isn't" || t.text == "aren't" || t.text == "never" || t.text == "doesn't" ||
        t.text == "don't" || t.text == "cannot")
      return true;
  return false;
}

bool has_word(const std::vector<Token>& tokens, const std::string& word) {
  for (const auto& t : tokens)
    if (t.text == word) return true;
  return false;
}

std::string singular_class(const std::string& word) {
  for (const auto& [singular, plural] : animal_classes())
    if (word == singular || word == plural) return singular;
  return word;
}

void place_claims(const std::vector<Token>& t, std::vector<Claim>& out) {
  for (size_t k = 0; k < t.size(); ++k) {
    bool capital = t[k].text == "capital";
    bool largest = (t[k].text == "largest" || t[k].text == "biggest") && k + 1 < t.size() && t[k + 1].text == "city";
    if (!capital && !largest) continue;
    size_t after = k + (largest ? 2 : 1);
    int subject = -1, object = -1;
    if (after + 1 < t.size() && t[after].text == "of" && t[after + 1].country_like) subject = static_cast<int>(after + 1);
    for (size_t i = 0; i < t.size() && subject < 0; ++i)
      if (t[i].country_like && t[i].type != EntityType::City) subject = static_cast<int>(i);
    for (size_t i = 0; i < t.size() && object < 0; ++i)
      if (t[i].city_like && static_cast<int>(i) != subject) object = static_cast<int>(i);
    if (subject >= 0 && object >= 0) out.push_back({largest ? "largest_city" : "capital", t[subject].text, t[object].text});
    break;  // one capital/largest-city claim per sentence
  }
  if (!has_word(t, "in")) return;
  for (const auto& region : t)
    if (region.type == EntityType::Region)
      for (const auto& subject : t)
        if (subject.country_like && subject.type != EntityType::City) {
          out.push_back({"region", subject.text, region.text});
          return;
        }
}

void animal_claims(const std::vector<Token>& t, const KnowledgeBase& kb, std::vector<Claim>& out) {
  if (!has_word(t, "is") && !has_word(t, "are")) return;
  for (size_t k = 0; k < t.size(); ++k) {
    if (t[k].type != EntityType::AnimalClass) continue;
    for (size_t i = 0; i < k; ++i) {
      if (t[i].type != EntityType::Animal) continue;
      const Animal* a = kb.animal(t[i].text);  // "whales" -> "whale"
      out.push_back({"class", a ? a->name : t[i].text, singular_class(t[k].text)});
    }
    return;
  }
}

void colour_claims(const std::vector<Token>& t, std::vector<Claim>& out) {
  for (size_t i = 0; i + 1 < t.size(); ++i) {
    // "a red tomato"
    if (t[i].type == EntityType::Colour && t[i + 1].type == EntityType::Thing) out.push_back({"colour", t[i + 1].text, t[i].text});
    // "the sky is blue", "snow is very white"
    if (t[i].type == EntityType::Thing && (t[i + 1].text == "is" || t[i + 1].text == "are")) {
      size_t j = i + 2;
      while (j < t.size() && (t[j].text == "a" || t[j].text == "very" || t[j].text == "always" || t[j].text == "the")) ++j;
      if (j < t.size() && t[j].type == EntityType::Colour) out.push_back({"colour", t[i].text, t[j].text});
    }
  }
}

void arithmetic_claims(const std::vector<Token>& t, std::vector<Claim>& out) {
  for (size_t i = 0; i + 4 < t.size(); ++i) {
    if (t[i].kind != Kind::Number || t[i + 2].kind != Kind::Number) continue;
    const std::string& op = t[i + 1].text;
    std::string relation = op == "plus" ? "sum" : op == "times" ? "product" : op == "minus" ? "difference" : "";
    if (relation.empty()) continue;
    const std::string& verb = t[i + 3].text;
    if (verb != "is" && verb != "equals" && verb != "makes" && verb != "are") continue;
    if (t[i + 4].kind != Kind::Number) continue;
    out.push_back({relation, t[i].text + " " + op + " " + t[i + 2].text, t[i + 4].text});
  }
}

void person_claims(const std::vector<Token>& t, std::string& last_person, std::vector<Claim>& out) {
  std::string subject;
  for (const auto& token : t) {
    if (token.person_like) {
      subject = token.text;
      break;
    }
    if (token.kind == Kind::Pronoun && !last_person.empty()) {
      subject = last_person;
      break;
    }
  }
  for (const auto& token : t)
    if (token.person_like) last_person = token.text;
  if (subject.empty()) return;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i].type == EntityType::Occupation) out.push_back({"occupation", subject, t[i].text});
    if (t[i].text == "lives" || t[i].text == "live" || t[i].text == "lived") {
      for (size_t j = i + 1; j < t.size() && j < i + 6; ++j)
        if (t[j].city_like) {
          out.push_back({"home", subject, t[j].text});
          break;
        }
    }
    if ((t[i].text == "has" || t[i].text == "have" || t[i].text == "owns") && i + 2 < t.size() &&
        t[i + 1].kind == Kind::Number) {
      for (const auto& pet : pet_words())
        if (t[i + 2].text == pet) out.push_back({"pets", subject, t[i + 1].text + " " + pet});
    }
    if (t[i].text == "likes" || t[i].text == "like") {
      for (size_t j = i + 1; j < t.size() && j < i + 4; ++j)
        if (t[j].type == EntityType::Colour) {
          out.push_back({"likes", subject, t[j].text});
          break;
        }
    }
    if (t[i].kind == Kind::Number && i + 2 < t.size() && t[i + 1].text == "years" && t[i + 2].text == "old")
      out.push_back({"age", subject, t[i].text});
  }
}

}  // namespace

std::vector<Claim> extract_claims(const std::string& text, const KnowledgeBase& kb, const ExtraNames& extra,
                                  const std::string& topic_person) {
  std::vector<Claim> out;
  std::string last_person = topic_person;
  for (const auto& sentence : sentences(text)) {
    auto tokens = tokenize(sentence, kb, extra);
    if (negated(tokens)) {
      for (const auto& token : tokens)
        if (token.person_like) last_person = token.text;
      continue;
    }
    arithmetic_claims(tokens, out);
    place_claims(tokens, out);
    animal_claims(tokens, kb, out);
    colour_claims(tokens, out);
    person_claims(tokens, last_person, out);
  }
  return out;
}

Verdict verify(const Claim& c, const KnowledgeBase& kb) {
  if (c.relation == "sum" || c.relation == "product" || c.relation == "difference") {
    auto words = word_tokens(c.subject);
    if (words.size() != 3 || words[0].size() > 6 || words[2].size() > 6 || c.object.size() > 9) return Verdict::False;
    long a = std::stol(words[0]), b = std::stol(words[2]);
    long value = c.relation == "sum" ? a + b : c.relation == "product" ? a * b : a - b;
    return std::to_string(value) == c.object ? Verdict::True : Verdict::False;
  }
  std::string truth = kb.truth(c.relation, c.subject);
  if (truth.empty()) return Verdict::Unsupported;
  return lower(truth) == c.object ? Verdict::True : Verdict::False;
}

Verdict verify_in_passage(const Claim& c, const std::vector<Claim>& passage) {
  if (c.relation == "sum" || c.relation == "product" || c.relation == "difference") return verify(c, KnowledgeBase());
  for (const auto& p : passage)
    if (p == c) return Verdict::True;
  for (const auto& p : passage)
    if (p.relation == c.relation && p.subject == c.subject) return Verdict::False;
  return Verdict::Unsupported;
}

}  // namespace rlhf::world
