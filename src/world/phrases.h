// The world's sentence templates, shared by the corpus (which states facts and asks questions on forums), the task
// generators (which ask the same questions as instructions) and the labelers (who answer them). One place, so that a
// fact is always said in words the judges can read back (claims.h).
#pragma once
#include <string>

#include "world/knowledge.h"

namespace rlhf::world {

class Rng;

std::string article(const std::string& noun);               // "a" or "an"
std::string with_article(const std::string& noun);          // "an owl"
std::string possessive(const std::string& pronoun);         // he -> his, she -> her, they -> their

// A statement of relation(subject) = object, in one of several wordings. Relations as in KnowledgeBase::truth, plus
// "sum", "product" (subject "3 plus 4").
std::string fact_sentence(const KnowledgeBase& kb, const std::string& relation, const std::string& subject,
                          const std::string& object, Rng& rng);
// The canonical (first) wording, for demonstrations and gold answers.
std::string fact_sentence(const KnowledgeBase& kb, const std::string& relation, const std::string& subject,
                          const std::string& object);
// A question asking for relation(subject).
std::string question(const KnowledgeBase& kb, const std::string& relation, const std::string& subject, Rng& rng);
std::string question(const KnowledgeBase& kb, const std::string& relation, const std::string& subject);

}  // namespace rlhf::world
