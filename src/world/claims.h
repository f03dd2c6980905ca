// Reading facts back out of free text. Every checker needs to know what a response *claims* ("the capital of Varenia is
// Tolmar", "Lino Varos is a pilot", "3 plus 4 is 7") to judge correctness and hallucination; the world's language is
// small and templated, so a handful of patterns over typed tokens find the claims even in a small model's broken text.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "world/knowledge.h"

namespace rlhf::world {

struct Claim {
  std::string relation;  // capital, largest_city, region, class, colour, occupation, home, pets, age, sum, product, difference
  std::string subject;   // lower case ("varenia", "lino varos", "3 plus 4")
  std::string object;    // lower case ("tolmar", "pilot", "7", "3 dogs")
  bool operator==(const Claim& o) const { return relation == o.relation && subject == o.subject && object == o.object; }
  bool operator<(const Claim& o) const;
};

enum class Verdict { True, False, Unsupported };

// Names the knowledge base does not hold but the text may use (a closed-QA passage's people), lower case -> type.
using ExtraNames = std::map<std::string, EntityType>;

// `topic_person` (lower case) is who "he"/"she" means before the text names anyone: the person a question is about.
std::vector<Claim> extract_claims(const std::string& text, const KnowledgeBase& kb, const ExtraNames& extra = {},
                                  const std::string& topic_person = "");

// Open domain: true/false against the knowledge base; claims about entities or relations it does not hold (fictional
// and rumoured entities, made-up names) are Unsupported. Arithmetic is computed.
Verdict verify(const Claim& claim, const KnowledgeBase& kb);

// Closed domain: supported only if the passage states it (arithmetic is computed).
Verdict verify_in_passage(const Claim& claim, const std::vector<Claim>& passage);

std::string to_string(const Claim& claim);

}  // namespace rlhf::world
