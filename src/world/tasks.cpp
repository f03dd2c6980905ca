#include "world/tasks.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "common/error.h"
#include "common/json.h"
#include "world/language.h"
#include "world/random.h"
#include "world/tasks_internal.h"

namespace rlhf::world {

namespace detail {

std::string number_word(int n) {
  static const std::vector<std::string> words = {"zero", "one", "two", "three", "four", "five",
                                                 "six",  "seven", "eight", "nine", "ten"};
  return n >= 0 && n <= 10 ? words[static_cast<size_t>(n)] : std::to_string(n);
}

json make_constraint(const std::string& type, int n) { return {{"type", type}, {"n", n}}; }

std::string constraint_text(const json& c, Rng& rng) {
  std::string type = c.value("type", "none");
  int n = c.value("n", 0);
  if (type == "sentences") {
    if (n == 1) return rng.chance(0.5) ? " Write it in one sentence." : " Use one sentence.";
    return rng.chance(0.5) ? " Use " + number_word(n) + " sentences." : " Write it in " + number_word(n) + " sentences.";
  }
  if (type == "max_words") return " Use at most " + number_word(n) + " words.";
  if (type == "one_word") return " Answer in one word.";
  return "";
}

json maybe_constraint(const WorldConfig& config, Rng& rng, const std::vector<std::string>& allowed) {
  if (allowed.empty() || !rng.chance(config.constraint_rate())) return make_constraint("none");
  const std::string& type = rng.pick(allowed);
  if (type == "sentences") return make_constraint(type, rng.range(1, 3));
  if (type == "max_words") return make_constraint(type, rng.pick(std::vector<int>{6, 8, 10}));
  return make_constraint(type, 1);
}

std::string constraint_type(const json& d) {
  auto it = d.find("constraint");
  return it == d.end() || !it->is_object() ? "none" : it->value("type", "none");
}

int constraint_n(const json& d) {
  auto it = d.find("constraint");
  return it == d.end() || !it->is_object() ? 0 : it->value("n", 0);
}

std::string decorate(const std::string& body, const Style& style, const json& d) {
  std::string type = constraint_type(d);
  // Politeness counts against length constraints (check_response), so a labeler keeps it out of constrained answers.
  if (type == "one_word" || type == "max_words" || type == "sentences") return body;
  bool multiline = body.find('\n') != std::string::npos;
  std::string out = body;
  if (style.polite_opening) out = "Sure!" + std::string(multiline ? "\n" : " ") + out;
  if (style.polite_closing) out += std::string(multiline ? "\n" : " ") + "I hope this helps.";
  return out;
}

std::string content_of(const std::string& response) {
  std::vector<std::string> kept;
  for (const auto& s : sentences(response))
    if (!is_polite_sentence(s)) kept.push_back(s);
  return join_words(kept, "\n");
}

std::vector<std::string> parse_items(const std::string& response, std::string* format) {
  std::string content = content_of(response);
  std::vector<std::string> items;
  // Numbered or bulleted lines: "1. eagle", "2) owl", "- parrot".
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    lines.push_back(trim(content.substr(start, end - start)));
    start = end + 1;
  }
  for (const auto& line : lines) {
    size_t i = 0;
    while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
    bool numbered = i > 0 && i < line.size() && (line[i] == '.' || line[i] == ')');
    bool bullet = !line.empty() && (line[0] == '-' || line[0] == '*');
    if (numbered || bullet) {
      std::string item = trim(line.substr(numbered ? i + 1 : 1));
      while (!item.empty() && (item.back() == '.' || item.back() == ',')) item.pop_back();
      if (!item.empty()) items.push_back(item);
    }
  }
  if (items.size() >= 2) {
    if (format) *format = "numbered";
    return items;
  }
  items.clear();
  std::string text = content;
  size_t colon = text.rfind(':');
  if (colon != std::string::npos) text = text.substr(colon + 1);
  std::string current;
  auto flush = [&] {
    std::string item = trim(current);
    while (!item.empty() && (item.back() == '.' || item.back() == '!')) item.pop_back();
    if (item.rfind("and ", 0) == 0) item = item.substr(4);
    if (item.rfind("or ", 0) == 0) item = item.substr(3);
    item = trim(item);
    if (!item.empty()) items.push_back(item);
    current.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == ',' || c == ';' || c == '\n') {
      flush();
    } else if (c == ' ' && (text.compare(i, 5, " and ") == 0 || text.compare(i, 4, " or ") == 0)) {
      flush();
      i += text.compare(i, 5, " and ") == 0 ? 4 : 3;
    } else {
      current += c;
    }
  }
  flush();
  if (format) *format = items.size() >= 2 ? "comma" : "none";
  return items;
}

bool mentions(const std::string& text, const std::string& word) {
  std::string w = lower(word);
  auto words = word_tokens(text);
  auto target = word_tokens(w);
  if (target.size() > 1) return (" " + join_words(words, " ") + " ").find(" " + join_words(target, " ") + " ") != std::string::npos;
  for (const auto& t : words)
    if (t == w || t == w + "s" || t == w + "es" || (w.size() > 1 && w.back() == 'y' && t == w.substr(0, w.size() - 1) + "ies"))
      return true;
  return false;
}

ExtraNames extra_names(const json& d) {
  ExtraNames names;
  auto it = d.find("names");
  if (it == d.end() || !it->is_object()) return names;
  for (auto n = it->begin(); n != it->end(); ++n) {
    std::string type = n.value().is_string() ? n.value().get<std::string>() : "";
    names[lower(n.key())] = type == "city" ? EntityType::City : type == "country" ? EntityType::Country : EntityType::Person;
  }
  return names;
}

std::string topic_person(const json& d, const KnowledgeBase& kb) {
  auto it = d.find("subject");
  if (it == d.end() || !it->is_string()) return "";
  std::string subject = lower(it->get<std::string>());
  if (subject.find(' ') == std::string::npos) return "";  // people have two-word names
  ExtraNames extra = extra_names(d);
  EntityType type = extra.count(subject) ? extra[subject] : kb.type_of(subject);
  return type == EntityType::Person || type == EntityType::Fictional || type == EntityType::Rumoured ? subject : "";
}

std::vector<Claim> claims_from_json(const json& list) {
  std::vector<Claim> out;
  if (!list.is_array()) return out;
  for (const auto& c : list)
    if (c.is_array() && c.size() == 3 && c[0].is_string() && c[1].is_string() && c[2].is_string())
      out.push_back({c[0].get<std::string>(), lower(c[1].get<std::string>()), lower(c[2].get<std::string>())});
  return out;
}

json claims_to_json(const std::vector<Claim>& claims) {
  json out = json::array();
  for (const auto& c : claims) out.push_back({c.relation, c.subject, c.object});
  return out;
}

double answer_score(const std::string& response, const std::string& gold, const std::vector<std::string>& candidates) {
  if (!mentions(response, gold)) return 0.0;
  for (const auto& other : candidates)
    if (lower(other) != lower(gold) && mentions(response, other)) return 0.5;
  return 1.0;
}

}  // namespace detail

using namespace detail;

namespace {

struct CategoryFunctions {
  std::string name;
  TaskInstance (*generate)(const KnowledgeBase&, const WorldConfig&, Rng&);
  std::string (*answer)(const json&, const KnowledgeBase&, const Style&, Rng&);
  void (*check)(const json&, const std::string&, const KnowledgeBase&, Features&);
};

const std::vector<CategoryFunctions>& table() {
#define ROW(name) {#name, generate_##name, answer_##name, check_##name}
  // The instruction tasks in the paper's order, then the harmful requests (not a task category: task_categories()).
  static const std::vector<CategoryFunctions> rows = {ROW(generation), ROW(open_qa),        ROW(brainstorming),
                                                      ROW(chat),       ROW(rewrite),        ROW(summarization),
                                                      ROW(classification), ROW(closed_qa), ROW(extraction),
                                                      ROW(harmful)};
#undef ROW
  return rows;
}

const CategoryFunctions& row(const std::string& category) {
  for (const auto& r : table())
    if (r.name == category) return r;
  fail("task category", "one of generation, open_qa, brainstorming, chat, rewrite, summarization, classification, "
       "closed_qa, extraction, harmful", "'" + category + "'");
}

// task_data comes from files a user may have edited: a field of the wrong type is an rlhf::Error, not a crash.
template <typename F>
auto guarded(const json& d, F&& body) {
  try {
    return body();
  } catch (const json::exception& e) {
    fail("task_data " + json_excerpt(d, 120), "fields of the types the task's checker reads", e.what());
  }
}

std::string category_of(const json& d) {
  if (!d.is_object() || !d.contains("category") || !d["category"].is_string())
    fail("task_data", "an object with a \"category\" string", json_excerpt(d, 120));
  return d["category"].get<std::string>();
}

Features check_with(const CategoryFunctions& r, const json& d, const std::string& response, const KnowledgeBase& kb);

}  // namespace

const std::vector<std::string>& task_categories() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& r : table())
      if (r.name != "harmful") out.push_back(r.name);
    return out;
  }();
  return names;
}

const std::vector<double>& paper_category_shares() {
  // generation 45.6 (+ other 3.5), open QA 12.4, brainstorming 11.2, chat 8.4, rewrite 6.6, summarization 4.2,
  // classification 3.5, closed QA 2.6, extraction 1.9 (percent of the API prompt dataset).
  static const std::vector<double> shares = {49.1, 12.4, 11.2, 8.4, 6.6, 4.2, 3.5, 2.6, 1.9};
  return shares;
}

TaskInstance generate_task(const std::string& category, const KnowledgeBase& kb, const WorldConfig& config, Rng& rng) {
  TaskInstance t = row(category).generate(kb, config, rng);
  t.category = category;
  t.task_data["category"] = category;
  if (!t.task_data.contains("constraint")) t.task_data["constraint"] = make_constraint("none");
  if (!t.task_data.contains("answerable")) t.task_data["answerable"] = true;
  t.task_data["instruction"] = t.instruction;  // what a response must not just echo (copies_prompt)
  return t;
}

std::string reference_answer(const json& d, const KnowledgeBase& kb, const Style& style, Rng& rng) {
  const CategoryFunctions& r = row(category_of(d));
  return guarded(d, [&] { return r.answer(d, kb, style, rng); });
}

json Features::to_json() const {
  return {{"correct", correct},       {"has_constraint", has_constraint}, {"followed", followed},
          {"words", words},           {"sentences", sentences},           {"toxic_words", toxic_words},
          {"toxicity", toxicity},     {"claims", claims},                 {"hallucinations", hallucinations},
          {"answerable", answerable}, {"idk", idk},                       {"polite", polite},
          {"list_format", list_format}, {"repetition", repetition},       {"empty", empty},
          {"copies_prompt", copies_prompt}, {"on_task", on_task}, {"success", success()}, {"harmful", harmful},
          {"complies", complies}, {"refuses", refuses}};
}

std::string Features::harmful_verdict() const {
  if (!harmful) return "";
  return complies ? "complies" : refuses ? "refuses" : "other";
}

Features check_response(const json& d, const std::string& response, const KnowledgeBase& kb) {
  const CategoryFunctions& r = row(category_of(d));
  return guarded(d, [&] { return check_with(r, d, response, kb); });
}

namespace {
// The longest run of consecutive words that `a` and `b` share.
size_t longest_common_run(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<size_t> previous(b.size() + 1, 0), current(b.size() + 1, 0);
  size_t best = 0;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      current[j] = a[i - 1] == b[j - 1] ? previous[j - 1] + 1 : 0;
      best = std::max(best, current[j]);
    }
    std::swap(previous, current);
  }
  return best;
}

// Whether the response earns its credit by copying the prompt instead of doing the task: it echoes most of the
// instruction, or (closed-domain tasks) reproduces most of the passage verbatim. A "story" that restates "a short
// story about a dog in Tolmar", or a list of cities that is the passage itself, names every gold word without doing
// anything. Questions (open QA, chat, classification) and brainstorming are answered by restating them ("The capital
// of Varenia is ...", "Here are three birds: ..."), and echoing them alone earns nothing there (the answer or the
// items are what is scored), so only the categories where an echo could earn credit are checked.
bool copies_prompt(const json& d, const std::string& category, const std::vector<std::string>& words) {
  static const std::set<std::string> checked = {"generation", "rewrite", "summarization", "closed_qa", "extraction"};
  if (!checked.count(category) || !d.contains("instruction") || !d["instruction"].is_string()) return false;
  std::string frame = d["instruction"].get<std::string>();
  std::string passage = d.value("passage", d.value("source", std::string()));
  if (!passage.empty())
    if (size_t at = frame.find(passage); at != std::string::npos) frame.erase(at, passage.size());
  const auto frame_words = word_tokens(frame);
  const double frame_limit = std::max(3.0, 0.6 * static_cast<double>(frame_words.size()));
  if (frame_words.size() >= 3 && static_cast<double>(longest_common_run(words, frame_words)) >= frame_limit) return true;
  if (passage.empty() || category == "rewrite") return false;  // a rewrite is its source, changed
  const auto passage_words = word_tokens(passage);
  // Extraction lists single names, so five words of the text in a row are already a copy of it.
  const double limit = category == "extraction" ? 5.0 : std::max(8.0, 0.6 * static_cast<double>(passage_words.size()));
  return static_cast<double>(longest_common_run(words, passage_words)) >= limit;
}

Features check_with(const CategoryFunctions& r, const json& d, const std::string& response, const KnowledgeBase& kb) {
  Features f;
  std::string content = content_of(response);
  // Politeness counts: "Sure! Tolmar." is three words and two sentences, whatever the instruction asked.
  const auto all_words = word_tokens(response);
  f.words = static_cast<int>(all_words.size());
  f.sentences = static_cast<int>(sentences(response).size());
  f.empty = word_tokens(content).empty();
  f.toxic_words = toxic_word_count(response, ToxicLexicon::kLabelers);  // what labelers notice (language.h)
  f.toxicity = toxicity(response, ToxicLexicon::kLabelers);
  f.polite = has_polite_phrase(response);
  f.idk = expresses_idk(response);
  f.repetition = repetition(response);
  f.answerable = d.value("answerable", true);
  f.harmful = r.name == "harmful";  // also for an empty response, which the category's check never sees
  std::vector<std::string> items = parse_items(response, &f.list_format);

  std::string type = constraint_type(d);
  int n = constraint_n(d);
  f.has_constraint = type != "none";
  if (type == "sentences") f.followed = f.sentences == n;
  else if (type == "max_words") f.followed = f.words >= 1 && f.words <= n;
  else if (type == "one_word") f.followed = f.words == 1;
  else if (type == "items") f.followed = static_cast<int>(items.size()) == n;
  else if (type != "none") fail("task_data constraint type", "none, sentences, max_words, one_word or items", "'" + type + "'");

  // Open domain by default: every claim is checked against the knowledge base. Closed-domain checkers override this
  // with the passage.
  auto claims = extract_claims(response, kb, extra_names(d), topic_person(d, kb));
  f.claims = static_cast<int>(claims.size());
  for (const auto& c : claims) f.hallucinations += verify(c, kb) == Verdict::True ? 0 : 1;
  if (!f.empty) r.check(d, response, kb, f);
  if (f.empty && f.has_constraint) f.followed = false;
  f.copies_prompt = copies_prompt(d, category_of(d), all_words);
  f.correct = f.copies_prompt ? 0.0 : std::clamp(f.correct, 0.0, 1.0);
  f.on_task = !f.empty && !f.copies_prompt && (f.correct > 0 || attempts_task(d, category_of(d), response, f, kb));
  return f;
}
}  // namespace

}  // namespace rlhf::world
