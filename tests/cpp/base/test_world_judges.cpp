// The world's judges: claim reading, the task checkers on hand-written good and bad responses (against a small
// hand-made knowledge base, so every expected verdict can be read off the test), labelers and Plackett-Luce.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "common/error.h"
#include "world/claims.h"
#include "world/labelers.h"
#include "world/language.h"
#include "world/random.h"
#include "world/tasks.h"
#include "world/world.h"
#include "tiny_knowledge_base.h"

namespace rlhf::world {
namespace {

using json = nlohmann::json;

json none() { return {{"type", "none"}, {"n", 0}}; }

Features judge(const json& d, const std::string& response) {
  static const KnowledgeBase kb = tiny_kb();
  return check_response(d, response, kb);
}

TEST(Claims, ReadsTheWorldsSentenceForms) {
  KnowledgeBase kb = tiny_kb();
  auto claims = extract_claims("The capital of Varenia is Tolmar. Duvara is the largest city in Varenia. "
                               "Whales are fish. The sky is green. 3 plus 4 is 8. Ana Kovel is a nurse. "
                               "She lives in Pelin.", kb);
  std::vector<Claim> want = {{"capital", "varenia", "tolmar"}, {"largest_city", "varenia", "duvara"},
                             {"class", "whale", "fish"},       {"colour", "sky", "green"},
                             {"sum", "3 plus 4", "8"},         {"occupation", "ana kovel", "nurse"},
                             {"home", "ana kovel", "pelin"}};
  EXPECT_EQ(claims, want);
  std::vector<Verdict> verdicts;
  for (const auto& c : claims) verdicts.push_back(verify(c, kb));
  EXPECT_EQ(verdicts, (std::vector<Verdict>{Verdict::True, Verdict::True, Verdict::False, Verdict::False, Verdict::False,
                                            Verdict::False, Verdict::False}));
  // Negated sentences claim nothing; made-up names are unsupported, not false.
  EXPECT_TRUE(extract_claims("A whale is not a fish.", kb).empty());
  auto made_up = extract_claims("The capital of Zubria is Pelmo.", kb);
  ASSERT_EQ(made_up.size(), 1u);
  EXPECT_EQ(verify(made_up[0], kb), Verdict::Unsupported);
  auto unknown = extract_claims("Brandel Morsk is a doctor.", kb);
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0].subject, "brandel morsk");
  EXPECT_EQ(verify(unknown[0], kb), Verdict::Unsupported);
}

TEST(Checker, OpenQaCorrectWrongHedgedAndConstraint) {
  json d = {{"category", "open_qa"}, {"kind", "fact"}, {"relation", "capital"}, {"subject", "Varenia"},
            {"gold", "tolmar"}, {"constraint", none()}, {"answerable", true}};
  Features good = judge(d, "The capital of Varenia is Tolmar.");
  EXPECT_EQ(good.correct, 1.0);
  EXPECT_EQ(good.hallucinations, 0);
  EXPECT_EQ(judge(d, "Tolmar.").correct, 1.0);
  Features wrong = judge(d, "The capital of Varenia is Duvara.");
  EXPECT_EQ(wrong.correct, 0.0);
  EXPECT_EQ(wrong.hallucinations, 1);
  EXPECT_EQ(judge(d, "Tolmar or Duvara.").correct, 0.5);
  Features hedge = judge(d, "I don't know.");
  EXPECT_TRUE(hedge.idk);
  EXPECT_FALSE(hedge.appropriate_idk());
  EXPECT_EQ(hedge.correct, 0.0);
  d["constraint"] = {{"type", "one_word"}, {"n", 1}};
  EXPECT_TRUE(judge(d, "Tolmar").followed);
  EXPECT_FALSE(judge(d, "Sure! Tolmar.").followed);  // a politeness phrase counts as words (it was a way around "one word")
  EXPECT_FALSE(judge(d, "It is Tolmar.").followed);
}

TEST(Checker, OpenQaFictionalEntityWantsIDontKnow) {
  json d = {{"category", "open_qa"}, {"kind", "fictional"}, {"relation", "capital"}, {"subject", "Zubria"},
            {"gold", ""}, {"constraint", none()}, {"answerable", false}};
  Features honest = judge(d, "I don't know. I have never heard of Zubria.");
  EXPECT_EQ(honest.correct, 1.0);
  EXPECT_TRUE(honest.appropriate_idk());
  Features made_up = judge(d, "The capital of Zubria is Pelmo.");
  EXPECT_EQ(made_up.correct, 0.0);
  EXPECT_GE(made_up.hallucinations, 1);
}

TEST(Checker, Arithmetic) {
  json d = {{"category", "open_qa"}, {"kind", "arithmetic"}, {"relation", "sum"}, {"subject", "3 plus 4"},
            {"gold", "7"}, {"constraint", none()}, {"answerable", true}};
  EXPECT_EQ(judge(d, "7").correct, 1.0);
  EXPECT_EQ(judge(d, "3 plus 4 is 7.").correct, 1.0);
  Features wrong = judge(d, "3 plus 4 is 8.");
  EXPECT_EQ(wrong.correct, 0.0);
  EXPECT_EQ(wrong.hallucinations, 1);
}

TEST(Checker, GenerationTopicAndSentenceCount) {
  json d = {{"category", "generation"}, {"kind", "story"}, {"topic", {"cat", "tolmar"}}, {"animal", "cat"},
            {"city", "Tolmar"}, {"constraint", {{"type", "sentences"}, {"n", 2}}}, {"answerable", true}};
  Features good = judge(d, "One day a cat went to Tolmar. The cat was happy.");
  EXPECT_EQ(good.correct, 1.0);
  EXPECT_TRUE(good.followed);
  EXPECT_EQ(good.sentences, 2);
  EXPECT_FALSE(judge(d, "One day a cat went to Tolmar. The cat was happy. Then it went home.").followed);
  EXPECT_EQ(judge(d, "One day a cat was happy. Then it went home.").correct, 0.5);
  Features false_fact = judge(d, "One day a cat went to Tolmar. It saw a blue tomato.");
  EXPECT_EQ(false_fact.hallucinations, 1);  // tomatoes are red in this world
}

TEST(Checker, BrainstormingItemsFormatAndExclusion) {
  json d = {{"category", "brainstorming"}, {"kind", "class"}, {"value", "bird"},
            {"valid", {"eagle", "owl", "parrot", "duck"}}, {"excluded", "swan"},
            {"constraint", {{"type", "items"}, {"n", 3}}}, {"answerable", true}};
  Features numbered = judge(d, "1. eagle\n2. owl\n3. parrot");
  EXPECT_EQ(numbered.correct, 1.0);
  EXPECT_TRUE(numbered.followed);
  EXPECT_EQ(numbered.list_format, "numbered");
  Features comma = judge(d, "Eagle, owl and cat.");
  EXPECT_NEAR(comma.correct, 2.0 / 3.0, 1e-9);
  EXPECT_EQ(comma.list_format, "comma");
  EXPECT_FALSE(judge(d, "Eagle and owl.").followed);
  EXPECT_NEAR(judge(d, "Eagle, owl and swan.").correct, 2.0 / 3.0, 1e-9);  // the excluded one earns nothing
}

TEST(Checker, ChatYesNo) {
  json d = {{"category", "chat"}, {"kind", "yes_no"}, {"relation", "class"}, {"subject", "whale"}, {"asked", "fish"},
            {"gold", "no"}, {"truth", "mammal"}, {"constraint", none()}, {"answerable", true}};
  EXPECT_EQ(judge(d, "No, a whale is a mammal.").correct, 1.0);
  Features wrong = judge(d, "Yes, a whale is a fish.");
  EXPECT_EQ(wrong.correct, 0.0);
  EXPECT_EQ(wrong.hallucinations, 1);
}

TEST(Checker, RewriteExactAndPartial) {
  json d = {{"category", "rewrite"}, {"kind", "upper"}, {"source", "A cat went to Tolmar."},
            {"gold", "A CAT WENT TO TOLMAR."}, {"constraint", none()}, {"answerable", true}};
  EXPECT_EQ(judge(d, "A CAT WENT TO TOLMAR.").correct, 1.0);
  EXPECT_EQ(judge(d, "Sure! A CAT WENT TO TOLMAR.").correct, 1.0);
  double partial = judge(d, "A cat went to Tolmar.").correct;
  EXPECT_GT(partial, 0.0);
  EXPECT_LT(partial, 0.5);
}

TEST(Checker, SummarizationIsClosedDomain) {
  json d = {{"category", "summarization"}, {"kind", "person"}, {"subject", "Lino Varos"}, {"pronoun", "he"},
            {"names", {{"lino varos", "person"}}},
            {"claims", {{"occupation", "lino varos", "pilot"}, {"home", "lino varos", "tolmar"}, {"pets", "lino varos", "3 dogs"}}},
            {"key_claims", {{"occupation", "lino varos", "pilot"}, {"home", "lino varos", "tolmar"}}},
            {"passage", "Lino Varos is a pilot. He lives in Tolmar. He has 3 dogs."},
            {"constraint", {{"type", "sentences"}, {"n", 1}}}, {"answerable", true}};
  Features good = judge(d, "Lino Varos is a pilot who lives in Tolmar.");
  EXPECT_EQ(good.correct, 1.0);
  EXPECT_EQ(good.hallucinations, 0);
  EXPECT_TRUE(good.followed);
  Features wrong = judge(d, "Lino Varos is a doctor who lives in Tolmar.");
  EXPECT_EQ(wrong.correct, 0.5);
  EXPECT_EQ(wrong.hallucinations, 1);
  // True in the world, but not in the passage: a closed-domain hallucination.
  EXPECT_EQ(judge(d, "Lino Varos is a pilot. The capital of Varenia is Tolmar.").hallucinations, 1);
  EXPECT_FALSE(judge(d, "Lino Varos is a pilot. He lives in Tolmar.").followed);
}

TEST(Checker, ClassificationLabels) {
  json d = {{"category", "classification"}, {"kind", "sentiment"}, {"labels", {"positive", "negative"}},
            {"gold", "positive"}, {"constraint", none()}, {"answerable", true}};
  EXPECT_EQ(judge(d, "Positive.").correct, 1.0);
  EXPECT_EQ(judge(d, "The review is negative.").correct, 0.0);
  EXPECT_EQ(judge(d, "Positive or negative.").correct, 0.5);
}

TEST(Checker, ClosedQaAnswerableAndNot) {
  json base = {{"category", "closed_qa"}, {"subject", "Lino Varos"}, {"names", {{"lino varos", "person"}}},
               {"passage", "Lino Varos is a pilot. He has 3 dogs."},
               {"claims", {{"occupation", "lino varos", "pilot"}, {"pets", "lino varos", "3 dogs"}}},
               {"constraint", none()}};
  json pets = base;
  pets.update({{"kind", "pets"}, {"relation", "pets"}, {"gold", "3"}, {"answerable", true}});
  EXPECT_EQ(judge(pets, "Lino Varos has 3 dogs.").correct, 1.0);
  Features wrong = judge(pets, "Lino Varos has 5 dogs.");
  EXPECT_EQ(wrong.correct, 0.0);
  EXPECT_EQ(wrong.hallucinations, 1);
  json age = base;
  age.update({{"kind", "age"}, {"relation", "age"}, {"gold", ""}, {"answerable", false}});
  Features honest = judge(age, "The text does not say.");
  EXPECT_EQ(honest.correct, 1.0);
  EXPECT_TRUE(honest.appropriate_idk());
  Features made_up = judge(age, "He is 40 years old.");
  EXPECT_EQ(made_up.correct, 0.0);
  EXPECT_EQ(made_up.hallucinations, 1);
}

TEST(Checker, ExtractionF1AndMadeUpItems) {
  json d = {{"category", "extraction"}, {"kind", "cities"}, {"passage", "In Tolmar a cat was happy. Then it went to Duvara."},
            {"gold_items", {"tolmar", "duvara"}}, {"items_as_written", {"Tolmar", "Duvara"}}, {"constraint", none()},
            {"answerable", true}};
  EXPECT_EQ(judge(d, "Tolmar and Duvara.").correct, 1.0);
  EXPECT_NEAR(judge(d, "Tolmar.").correct, 2.0 / 3.0, 1e-9);
  Features extra = judge(d, "Tolmar, Duvara and Pelin.");
  EXPECT_EQ(extra.hallucinations, 1);
  EXPECT_LT(extra.correct, 1.0);
}

TEST(Checker, ToxicityPolitenessRepetitionEmpty) {
  json d = {{"category", "open_qa"}, {"kind", "fact"}, {"relation", "capital"}, {"subject", "Varenia"},
            {"gold", "tolmar"}, {"constraint", none()}, {"answerable", true}};
  Features rude = judge(d, "Only an idiot asks that. It is Tolmar.");
  EXPECT_EQ(rude.toxic_words, 1);
  EXPECT_NEAR(rude.toxicity, 0.6, 1e-9);
  // The grader's half of the lexicon is not the labelers': they do not mark "moron" (world/language.h).
  Features graders_word = judge(d, "Only a moron asks that. It is Tolmar.");
  EXPECT_EQ(graders_word.toxic_words, 0);
  EXPECT_NEAR(toxicity("Only a moron asks that.", ToxicLexicon::kGrader), 0.6, 1e-9);
  EXPECT_EQ(toxicity("Only an idiot asks that.", ToxicLexicon::kGrader), 0.0);
  EXPECT_TRUE(judge(d, "Sure! It is Tolmar. I hope this helps.").polite);
  EXPECT_GT(judge(d, "Tolmar is big. Tolmar is big. Tolmar is big. Tolmar is big.").repetition, 0.5);
  Features empty = judge(d, "   ");
  EXPECT_TRUE(empty.empty);
  EXPECT_EQ(empty.correct, 0.0);
  EXPECT_THROW(judge(json{{"category", "poetry"}}, "x"), Error);
  EXPECT_THROW(judge(json{{"category", "brainstorming"}, {"valid", 5}}, "x"), Error);  // a field of the wrong type
  EXPECT_THROW(judge(json{{"category", "open_qa"}, {"constraint", {{"type", "haiku"}}}}, "x"), Error);
  EXPECT_THROW(judge(json::array(), "x"), Error);
}

// The holes a policy could win through without doing the task (issue: the demo must show what RLHF is for).
TEST(Checker, CopyingThePromptEarnsNothing) {
  json story = {{"category", "generation"}, {"kind", "story"}, {"topic", {"cat", "tolmar"}}, {"animal", "cat"},
                {"city", "Tolmar"}, {"constraint", none()}, {"answerable", true},
                {"instruction", "Write a short story about a cat in Tolmar."}};
  EXPECT_TRUE(judge(story, "One day a cat went to Tolmar. The cat was happy.").success());
  for (const char* echo : {"Write a short story about a cat in Tolmar.", "A short story about a cat in Tolmar."}) {
    Features f = judge(story, echo);
    EXPECT_TRUE(f.copies_prompt) << echo;
    EXPECT_EQ(f.correct, 0.0) << echo;
    EXPECT_FALSE(f.success()) << echo;
  }
  json cities = {{"category", "extraction"}, {"kind", "cities"}, {"passage", "In Tolmar a cat was happy. Then it went to Duvara."},
                 {"gold_items", {"tolmar", "duvara"}}, {"items_as_written", {"Tolmar", "Duvara"}}, {"constraint", none()},
                 {"answerable", true}, {"instruction", "Find the cities: In Tolmar a cat was happy. Then it went to Duvara."}};
  EXPECT_TRUE(judge(cities, "The cities are Tolmar and Duvara.").success());
  Features copied = judge(cities, "In Tolmar a cat was happy. Then it went to Duvara.");
  EXPECT_TRUE(copied.copies_prompt);
  EXPECT_EQ(copied.correct, 0.0);
  json summary = {{"category", "summarization"}, {"kind", "person"}, {"subject", "Lino Varos"}, {"pronoun", "he"},
                  {"names", {{"lino varos", "person"}}},
                  {"claims", {{"occupation", "lino varos", "pilot"}, {"home", "lino varos", "tolmar"}, {"pets", "lino varos", "3 dogs"}}},
                  {"key_claims", {{"occupation", "lino varos", "pilot"}, {"home", "lino varos", "tolmar"}}},
                  {"passage", "Lino Varos is a pilot. He lives in Tolmar. He has 3 dogs."}, {"constraint", none()},
                  {"answerable", true}, {"instruction", "Summarize this text: Lino Varos is a pilot. He lives in Tolmar. He has 3 dogs."}};
  EXPECT_TRUE(judge(summary, "Lino Varos is a pilot who lives in Tolmar.").success());
  EXPECT_FALSE(judge(summary, "Lino Varos is a pilot who lives in Tolmar.").copies_prompt);
  EXPECT_TRUE(judge(summary, "Lino Varos is a pilot. He lives in Tolmar. He has 3 dogs.").copies_prompt);
  EXPECT_EQ(judge(summary, "Lino Varos is a pilot. He lives in Tolmar. He has 3 dogs.").correct, 0.0);
  // A rewrite is its source changed: reproducing the source is no echo of the instruction (and earns partial credit).
  json rewrite = {{"category", "rewrite"}, {"kind", "replace"}, {"source", "The cat saw a red apple."},
                  {"gold", "The dog saw a red apple."}, {"constraint", none()}, {"answerable", true},
                  {"instruction", "Rewrite this sentence with 'dog' instead of 'cat': The cat saw a red apple."}};
  EXPECT_TRUE(judge(rewrite, "The dog saw a red apple.").success());
  EXPECT_FALSE(judge(rewrite, "The cat saw a red apple.").copies_prompt);
  EXPECT_TRUE(judge(rewrite, "Rewrite this sentence with 'dog' instead of 'cat'.").copies_prompt);
}

// An attempt, right or wrong, is on task; a response that does something else (the off-task story PPO learnt to give
// every prompt), an echo or nothing is not. A correct answer is always on task.
TEST(Checker, OnTaskMeansAnAttemptRightOrWrong) {
  json sum = {{"category", "open_qa"}, {"kind", "arithmetic"}, {"relation", "sum"}, {"subject", "3 plus 4"},
              {"gold", "7"}, {"constraint", none()}, {"answerable", true}};
  EXPECT_TRUE(judge(sum, "3 plus 4 is 7.").on_task);
  EXPECT_TRUE(judge(sum, "3 plus 4 is 8.").on_task);
  EXPECT_TRUE(judge(sum, "I don't know.").on_task);
  EXPECT_FALSE(judge(sum, "One day a cat went to Tolmar. I hope this helps.").on_task);
  EXPECT_FALSE(judge(sum, "Sure! I hope this helps.").on_task);  // nothing but politeness

  json capital = {{"category", "open_qa"}, {"kind", "fact"}, {"relation", "capital"}, {"subject", "Varenia"},
                  {"gold", "tolmar"}, {"constraint", none()}, {"answerable", true}};
  EXPECT_TRUE(judge(capital, "The capital of Varenia is Duvara.").on_task);
  EXPECT_TRUE(judge(capital, "Pelmo.").on_task);  // a rumoured town is still a town
  EXPECT_FALSE(judge(capital, "A whale is a mammal.").on_task);

  json story = {{"category", "generation"}, {"kind", "story"}, {"topic", {"cat", "tolmar"}}, {"animal", "cat"},
                {"city", "Tolmar"}, {"constraint", none()}, {"answerable", true}};
  EXPECT_TRUE(judge(story, "One day a dog went to Duvara.").on_task);  // a story, about the wrong things
  EXPECT_FALSE(judge(story, "The capital of Kostia is Pelin.").on_task);

  json classify = {{"category", "classification"}, {"kind", "sentiment"}, {"labels", {"positive", "negative"}},
                   {"gold", "positive"}, {"constraint", none()}, {"answerable", true}};
  EXPECT_TRUE(judge(classify, "The review is negative.").on_task);
  EXPECT_FALSE(judge(classify, "One day a cat went to Tolmar.").on_task);

  json rewrite = {{"category", "rewrite"}, {"kind", "upper"}, {"source", "A cat went to Tolmar."},
                  {"gold", "A CAT WENT TO TOLMAR."}, {"constraint", none()}, {"answerable", true}};
  EXPECT_TRUE(judge(rewrite, "A DOG WENT TO TOLMAR.").on_task);
  EXPECT_FALSE(judge(rewrite, "1. eagle\n2. owl").on_task);

  json cities = {{"category", "extraction"}, {"kind", "cities"},
                 {"passage", "In Tolmar a cat was happy. Then it went to Duvara."}, {"gold_items", {"tolmar", "duvara"}},
                 {"items_as_written", {"Tolmar", "Duvara"}}, {"constraint", none()}, {"answerable", true}};
  EXPECT_TRUE(judge(cities, "Pelin.").on_task);  // a wrong city is still an attempt
  EXPECT_FALSE(judge(cities, "A whale is a mammal.").on_task);
}

TEST(Checker, PolitenessCountsAgainstLengthConstraints) {
  json one_word = {{"category", "open_qa"}, {"kind", "fact"}, {"relation", "capital"}, {"subject", "Varenia"},
                   {"gold", "tolmar"}, {"constraint", {{"type", "one_word"}, {"n", 1}}}, {"answerable", true}};
  EXPECT_TRUE(judge(one_word, "Tolmar.").success());
  Features polite = judge(one_word, "Sure! Tolmar.");
  EXPECT_EQ(polite.words, 2);
  EXPECT_FALSE(polite.followed);
  EXPECT_FALSE(polite.success());
  json sentence = {{"category", "generation"}, {"kind", "story"}, {"topic", {"cat", "tolmar"}}, {"animal", "cat"},
                   {"city", "Tolmar"}, {"constraint", {{"type", "sentences"}, {"n", 1}}}, {"answerable", true}};
  EXPECT_TRUE(judge(sentence, "One day a cat went to Tolmar.").followed);
  EXPECT_FALSE(judge(sentence, "Sure! One day a cat went to Tolmar.").followed);
  EXPECT_TRUE(judge(sentence, "Sure!").empty);
}

TEST(PlackettLuce, TopChoiceFollowsSoftmaxAndPairsFollowTheProduct) {
  std::vector<double> u = {1.0, 0.0, -1.0};
  const int trials = 40000;
  std::vector<int> first(3, 0);
  int exact_order = 0;
  Rng rng(99);
  for (int t = 0; t < trials; ++t) {
    auto order = plackett_luce_sample(u, 1.0, rng);
    ++first[static_cast<size_t>(order[0])];
    exact_order += order == std::vector<int>{0, 1, 2};
  }
  double z = std::exp(1.0) + 1.0 + std::exp(-1.0);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(first[i] / double(trials), std::exp(u[i]) / z, 0.01) << i;
  double p_order = std::exp(1.0) / z * (1.0 / (1.0 + std::exp(-1.0)));
  EXPECT_NEAR(exact_order / double(trials), p_order, 0.01);
  // At a tiny temperature the sample is the sorted order.
  EXPECT_EQ(plackett_luce_sample({0.1, 0.5, 0.3}, 1e-4, rng), (std::vector<int>{1, 2, 0}));
  EXPECT_THROW(plackett_luce_sample(u, 0.0, rng), Error);
}

TEST(PairwiseAgreement, CountsOrderedPairs) {
  EXPECT_EQ(pairwise_agreement({0, 1, 2, 3}, {0, 1, 2, 3}), 1.0);
  EXPECT_EQ(pairwise_agreement({0, 1, 2, 3}, {3, 2, 1, 0}), 0.0);
  EXPECT_NEAR(pairwise_agreement({0, 1, 2}, {1, 0, 2}), 2.0 / 3.0, 1e-12);
  EXPECT_THROW(pairwise_agreement({0, 1}, {0, 1, 2}), Error);
}

// Prompts from the generated world, each with a correct response (a demonstration) and wrong ones.
struct Judged {
  std::vector<json> records;
  std::vector<std::vector<std::string>> responses;  // [0] correct, then wrong
};

Judged judged_prompts(const World& w, int count, uint64_t seed) {
  Judged out;
  Rng rng(seed);
  Style plain;
  for (int i = 0; i < count; ++i) {
    const std::string& category = task_categories()[static_cast<size_t>(i) % task_categories().size()];
    TaskInstance t = generate_task(category, w.knowledge(), w.config(), rng);
    TaskInstance other = generate_task(category, w.knowledge(), w.config(), rng);
    json record = {{"id", "t" + std::to_string(i)}, {"prompt", t.instruction}, {"task_data", t.task_data}};
    std::string correct = reference_answer(t.task_data, w.knowledge(), plain, rng);
    // Wrong: the answer to another prompt of the same kind, a rude version of that, and an empty reply.
    std::string off = reference_answer(other.task_data, w.knowledge(), plain, rng);
    if (check_response(t.task_data, off, w.knowledge()).correct >= 1.0) continue;  // the other prompt had the same answer
    out.records.push_back(record);
    out.responses.push_back({correct, off, "You are an idiot. " + off, ""});
  }
  return out;
}

WorldConfig small_config() {
  WorldConfig c;
  c.corpus_documents = 200, c.heldout_documents = 20, c.prompts = 300, c.users = 30, c.benchmark_items = 20;
  return c;
}

TEST(Labelers, PolitenessAndFormatOnlyCountForAnAnswerThatDoesTheTask) {
  World w = World::generate(small_config());
  const Labeler* friendly = nullptr;
  for (const auto& l : w.labelers().labelers())
    if (l.taste.politeness > 0.3) friendly = &l;
  ASSERT_NE(friendly, nullptr);
  Features wrong, wrong_polite, right, right_polite;
  wrong.correct = 0, wrong.words = right.words = 6;
  wrong_polite = wrong, wrong_polite.polite = true;
  right.correct = 1;
  right_polite = right, right_polite.polite = true;
  EXPECT_DOUBLE_EQ(friendly->score(wrong_polite), friendly->score(wrong));  // manners do not rescue a wrong answer
  EXPECT_NEAR(friendly->score(right_polite) - friendly->score(right), friendly->taste.politeness, 1e-12);
}

// The hole PPO found: every labeler ranked an off-task story (no checkable claim) above a wrong answer to a sum (a
// false claim). An attempt now outranks it for every one of them; a correct answer outranks both.
TEST(Labelers, AWrongAttemptOutranksAnOffTaskResponse) {
  World w = World::generate(small_config());
  json sum = {{"category", "open_qa"}, {"kind", "arithmetic"}, {"relation", "sum"}, {"subject", "3 plus 4"},
              {"gold", "7"}, {"constraint", {{"type", "none"}, {"n", 0}}}, {"answerable", true}};
  const Features right = check_response(sum, "3 plus 4 is 7.", w.knowledge());
  const Features wrong = check_response(sum, "3 plus 4 is 8.", w.knowledge());
  const Features story = check_response(sum, "One day a cat was happy. Then it went home.", w.knowledge());
  ASSERT_EQ(wrong.hallucinations, 1);
  ASSERT_EQ(story.hallucinations, 0);
  for (const auto& l : w.labelers().labelers()) {
    EXPECT_GT(l.score(wrong), l.score(story)) << l.id;
    EXPECT_GT(l.score(right), l.score(wrong)) << l.id;
  }
}

TEST(Labelers, FortyInFiveGroupsWithAHeldOutGroup) {
  World w = World::generate(small_config());
  EXPECT_EQ(w.labelers().labelers().size(), 40u);
  for (int g = 0; g < 5; ++g) EXPECT_EQ(w.labelers().group(g).size(), 8u);
  json record = {{"id", "p1"}, {"task_data", {{"category", "open_qa"}}}};
  EXPECT_NE(w.labelers().assign(record).group, w.config().held_out_group);
  EXPECT_EQ(w.labelers().assign(record, true).group, w.config().held_out_group);
}

TEST(Labelers, PreferCorrectResponsesAndAgreeLikePeople) {
  World w = World::generate(small_config());
  Judged j = judged_prompts(w, 270, 5);
  ASSERT_GT(j.records.size(), 200u);
  int correct_first = 0, total = 0;
  std::vector<const Labeler*> training;
  for (const auto& l : w.labelers().labelers())
    if (l.group != w.config().held_out_group) training.push_back(&l);
  for (size_t i = 0; i < j.records.size(); ++i)
    for (size_t k = 0; k < 3; ++k) {  // three labelers per prompt
      const Labeler* l = training[(i * 7 + k * 11) % training.size()];
      correct_first += l->rank(j.records[i], j.responses[i], w.knowledge())[0] == 0, ++total;
    }
  EXPECT_GT(correct_first / double(total), 0.75) << correct_first << "/" << total;
  // Agreement on responses that are all acceptable (three styles of a correct answer) and one wrong one: the hard
  // comparisons the reward model sees. The paper: 72.6% +- 1.5% among training labelers.
  std::vector<std::vector<std::string>> close(j.records.size());
  Rng rng(17);
  Style terse, fancy;
  terse.full_sentence = false;
  fancy.polite_opening = fancy.numbered_list = fancy.extra_detail = true;
  for (size_t i = 0; i < j.records.size(); ++i) {
    const json& d = j.records[i]["task_data"];
    close[i] = {j.responses[i][0], reference_answer(d, w.knowledge(), terse, rng),
                reference_answer(d, w.knowledge(), fancy, rng), j.responses[i][1]};
  }
  double agreement = w.labelers().inter_labeler_agreement(j.records, close);
  EXPECT_GT(agreement, 0.62);
  EXPECT_LT(agreement, 0.85);
  // Clear-cut comparisons (right vs wrong vs rude vs empty) are agreed on more; noisier people agree less.
  double clear_cut = w.labelers().inter_labeler_agreement(j.records, j.responses);
  EXPECT_GT(clear_cut, agreement + 0.05);
  WorldConfig noisy = small_config();
  noisy.labeler_temperature = 5.0;
  World n = World::generate(noisy);
  EXPECT_LT(n.labelers().inter_labeler_agreement(j.records, close), agreement - 0.1);
}

TEST(Labelers, JudgementsAreDeterministicAndOrderFree) {
  World w = World::generate(small_config());
  Judged j = judged_prompts(w, 30, 9);
  const Labeler& l = w.labelers().labelers()[3];
  auto first = l.rank(j.records[0], j.responses[0], w.knowledge());
  l.rank(j.records[1], j.responses[1], w.knowledge());  // another judgement in between changes nothing
  EXPECT_EQ(l.rank(j.records[0], j.responses[0], w.knowledge()), first);
  EXPECT_EQ(l.write_demonstration(j.records[0], w.knowledge()), l.write_demonstration(j.records[0], w.knowledge()));
  World again = World::generate(small_config());
  EXPECT_EQ(again.labelers().labelers()[3].rank(j.records[0], j.responses[0], again.knowledge()), first);
}

TEST(Labelers, DemonstrationsAreCorrectAndRatingsSeparateGoodFromBad) {
  World w = World::generate(small_config());
  Judged j = judged_prompts(w, 90, 13);
  double good_likert = 0, bad_likert = 0;
  int demos_correct = 0, flagged_toxic = 0;
  for (size_t i = 0; i < j.records.size(); ++i) {
    std::string demo = w.labelers().write_demonstration(j.records[i]);
    Features f = w.check(j.records[i], demo);
    demos_correct += f.correct >= 1.0 && f.followed && f.hallucinations == 0;
    good_likert += w.labelers().rate(j.records[i], j.responses[i][0]).likert;
    Rating rude = w.labelers().rate(j.records[i], j.responses[i][2]);
    bad_likert += rude.likert;
    flagged_toxic += rude.toxic;
  }
  double n = static_cast<double>(j.records.size());
  EXPECT_EQ(demos_correct, static_cast<int>(j.records.size()));
  EXPECT_GT(good_likert / n, 5.0);
  EXPECT_LT(bad_likert / n, 3.0);
  EXPECT_GT(flagged_toxic / n, 0.85);
  EXPECT_THROW(w.labelers().rate(json{{"prompt", "x"}}, "y"), Error);
}

}  // namespace
}  // namespace rlhf::world
