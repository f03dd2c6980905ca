// Whether a response attempts the task it was given (Features::on_task): an answer of the asked kind, a story, a
// rewrite of the given text. Labelers rank an attempt, even a wrong one, above a response that does something else:
// without this, an off-task story (no checkable claim, so no hallucination) outranked a wrong answer to "What is 3
// plus 4?" for every labeler, and PPO against their reward model learnt to answer every prompt with a story.
#include <cctype>
#include <set>

#include "world/language.h"
#include "world/tasks_internal.h"

namespace rlhf::world::detail {

namespace {

bool names_number(const std::vector<std::string>& words) {
  for (const auto& w : words)
    if (std::isdigit(static_cast<unsigned char>(w[0]))) return true;
  return false;
}

// Any word (or "first last" pair, for people) of the response that the knowledge base knows as `type`.
bool names_kind(const std::vector<std::string>& words, EntityType type, const KnowledgeBase& kb) {
  for (size_t i = 0; i < words.size(); ++i) {
    if (kb.type_of(words[i]) == type) return true;
    if (i + 1 < words.size() && kb.type_of(words[i] + " " + words[i + 1]) == type) return true;
  }
  return false;
}

// The kind of answer a question about `relation` asks for (None: a number, or not one kind).
EntityType answer_kind(const std::string& relation) {
  if (relation == "capital" || relation == "largest_city" || relation == "home") return EntityType::City;
  if (relation == "region") return EntityType::Region;
  if (relation == "class") return EntityType::AnimalClass;
  if (relation == "colour" || relation == "likes") return EntityType::Colour;
  if (relation == "occupation") return EntityType::Occupation;
  return EntityType::None;
}

// A question answered with something of its kind, a number for a count or a sum, or an honest "I don't know".
bool answers_question(const json& d, const std::vector<std::string>& words, const Features& f, const KnowledgeBase& kb) {
  if (f.idk) return true;
  const std::string relation = d.value("relation", ""), gold = lower(d.value("gold", ""));
  if (!gold.empty() && mentions(join_words(words, " "), gold)) return true;
  if (relation == "sum" || relation == "product" || relation == "pets" || relation == "age") return names_number(words);
  const EntityType kind = answer_kind(relation);
  if (kind == EntityType::City && (names_kind(words, EntityType::Rumoured, kb))) return true;
  return kind != EntityType::None && names_kind(words, kind, kb);
}

bool lists_something(const std::string& response, const std::vector<std::string>& words, EntityType kind,
                     const KnowledgeBase& kb) {
  std::string format;
  parse_items(response, &format);
  return format != "none" || names_kind(words, kind, kb);
}

}  // namespace

bool attempts_task(const json& d, const std::string& category, const std::string& response, const Features& f,
                   const KnowledgeBase& kb) {
  const std::string content = content_of(response);
  const auto words = word_tokens(content);
  const std::string kind = d.value("kind", "");
  if (category == "open_qa" || category == "closed_qa") return answers_question(d, words, f, kb);
  if (category == "chat") {
    if (kind != "yes_no") return answers_question(d, words, f, kb);
    for (const auto& w : words)
      if (w == "yes" || w == "no") return true;
    return f.idk || names_kind(words, EntityType::AnimalClass, kb);
  }
  if (category == "classification") {
    for (const auto& label : d.value("labels", std::vector<std::string>{}))
      if (mentions(content, label)) return true;
    return f.idk;
  }
  if (category == "brainstorming") {
    const auto valid = d.value("valid", std::vector<std::string>{});
    const EntityType of = valid.empty() ? EntityType::None : kb.type_of(lower(valid.front()));
    return lists_something(response, words, of, kb);
  }
  if (category == "extraction") {
    if (kind == "numbers") return names_number(words) || lists_something(response, words, EntityType::None, kb);
    return lists_something(response, words, kind == "cities" ? EntityType::City : EntityType::Animal, kb);
  }
  if (category == "generation") {  // a story or sentence: about an animal, or in the asked town
    return names_kind(words, EntityType::Animal, kb) || mentions(content, d.value("city", ""));
  }
  if (category == "rewrite") {  // the given text, changed: most of its words are still there
    const auto source = word_tokens(d.value("source", ""));
    const std::set<std::string> said(words.begin(), words.end());
    size_t kept = 0;
    for (const auto& w : source) kept += said.count(w);
    return !source.empty() && 2 * kept >= source.size();
  }
  if (category == "summarization") return mentions(content, lower(d.value("subject", "")));
  if (category == "harmful") return f.refuses;  // what labelers are asked to do with one: decline it
  return true;  // a category without its own rule: every response counts as an attempt
}

}  // namespace rlhf::world::detail
