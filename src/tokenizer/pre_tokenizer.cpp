#include "tokenizer/pre_tokenizer.h"

#include <algorithm>

#include "common/error.h"
#include "common/json.h"

namespace rlhf {

const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

bool get_bool(const nlohmann::json& spec, const char* key, bool fallback, const std::string& where) {
  auto it = spec.find(key);
  if (it == spec.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) fail(where + "." + key, "true or false", json_excerpt(*it));
  return it->get<bool>();
}

std::shared_ptr<Regex> gpt2_regex() {
  static std::shared_ptr<Regex> regex = std::make_shared<Regex>(kGpt2Pattern, "GPT-2 pre-tokenizer pattern");
  return regex;
}

}  // namespace

PreTokenizer PreTokenizer::from_json(const nlohmann::json& spec, const std::string& where) {
  PreTokenizer result;
  parse_into(spec, where, &result.steps_);
  result.spec_ = nlohmann::ordered_json::parse(spec.dump());
  return result;
}

PreTokenizer PreTokenizer::byte_level(bool add_prefix_space) {
  nlohmann::ordered_json spec = {{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space},
                                 {"trim_offsets", true}, {"use_regex", true}};
  return from_json(nlohmann::json::parse(spec.dump()), "ByteLevel pre-tokenizer");
}

void PreTokenizer::parse_into(const nlohmann::json& spec, const std::string& where, std::vector<Step>* steps) {
  if (spec.is_null()) fail(where, "a pre-tokenizer (byte-level BPE needs ByteLevel)", "null");
  if (!spec.is_object() || !spec.contains("type") || !spec["type"].is_string())
    fail(where, "an object with a \"type\"", json_excerpt(spec, 200));
  std::string type = spec["type"].get<std::string>();
  Step step;
  step.spec = nlohmann::ordered_json::parse(spec.dump());
  if (type == "Sequence") {
    auto it = spec.find("pretokenizers");
    if (it == spec.end() || !it->is_array()) fail(where + ".pretokenizers", "an array", it == spec.end() ? "nothing" : json_excerpt(*it));
    for (size_t i = 0; i < it->size(); ++i)
      parse_into((*it)[i], where + ".pretokenizers[" + std::to_string(i) + "]", steps);
    return;
  }
  if (type == "ByteLevel") {
    step.kind = Kind::kByteLevel;
    step.add_prefix_space = get_bool(spec, "add_prefix_space", true, where);
    step.use_regex = get_bool(spec, "use_regex", true, where);
    if (step.use_regex) step.regex = gpt2_regex();
  } else if (type == "Split") {
    step.kind = Kind::kSplit;
    step.invert = get_bool(spec, "invert", false, where);
    auto pattern = spec.find("pattern");
    if (pattern == spec.end() || !pattern->is_object())
      fail(where + ".pattern", "{\"Regex\": ...} or {\"String\": ...}", pattern == spec.end() ? "nothing" : json_excerpt(*pattern));
    if (pattern->contains("Regex") && (*pattern)["Regex"].is_string()) {
      step.regex = std::make_shared<Regex>((*pattern)["Regex"].get<std::string>(), where + ".pattern.Regex");
    } else if (pattern->contains("String") && (*pattern)["String"].is_string()) {
      step.literal = (*pattern)["String"].get<std::string>();
      if (step.literal.empty()) fail(where + ".pattern.String", "a non-empty string", "\"\"");
    } else {
      fail(where + ".pattern", "{\"Regex\": ...} or {\"String\": ...}", json_excerpt(*pattern));
    }
    std::string behavior = spec.value("behavior", std::string("Isolated"));
    if (behavior == "Removed") step.behavior = Behavior::kRemoved;
    else if (behavior == "Isolated") step.behavior = Behavior::kIsolated;
    else if (behavior == "MergedWithPrevious") step.behavior = Behavior::kMergedWithPrevious;
    else if (behavior == "MergedWithNext") step.behavior = Behavior::kMergedWithNext;
    else if (behavior == "Contiguous") step.behavior = Behavior::kContiguous;
    else fail(where + ".behavior", "Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous", behavior);
  } else if (type == "Digits") {
    // Digits is a Split on Unicode numbers: isolated one by one, or runs kept together.
    step.kind = Kind::kSplit;
    step.regex = std::make_shared<Regex>("\\p{N}", where);
    step.behavior = get_bool(spec, "individual_digits", false, where) ? Behavior::kIsolated : Behavior::kContiguous;
  } else {
    fail(where, "a supported pre-tokenizer (ByteLevel, Split, Digits or a Sequence of them)",
         "unsupported pre-tokenizer type \"" + type + "\"");
  }
  steps->push_back(std::move(step));
}

void PreTokenizer::apply(const Step& step, const std::string& input, std::vector<std::string>* out) {
  const std::string* piece = &input;
  std::string prefixed;
  if (step.kind == Kind::kByteLevel) {
    if (step.add_prefix_space && (input.empty() || input[0] != ' ')) {
      prefixed = " " + input;
      piece = &prefixed;
    }
    if (!step.use_regex) {
      out->push_back(*piece);
      return;
    }
  }
  // Segments covering the piece: (start, end, is_delimiter), as HF's Pattern::find_matches.
  struct Segment { size_t start, end; bool delimiter; };
  std::vector<Segment> segments;
  size_t previous = 0;
  auto add_match = [&](size_t start, size_t end) {
    if (previous != start) segments.push_back({previous, start, false});
    segments.push_back({start, end, true});
    previous = end;
  };
  if (step.regex) {
    for (auto [start, end] : step.regex->find_all(*piece, 0, piece->size())) add_match(start, end);
  } else {
    for (size_t at = piece->find(step.literal); at != std::string::npos; at = piece->find(step.literal, at + step.literal.size()))
      add_match(at, at + step.literal.size());
  }
  if (previous != piece->size()) segments.push_back({previous, piece->size(), false});
  if (step.invert)
    for (auto& segment : segments) segment.delimiter = !segment.delimiter;

  // The delimiter behaviours of HF's NormalizedString::split, segment by segment.
  std::vector<std::pair<size_t, size_t>> result;
  bool previous_delimiter = false;
  switch (step.behavior) {
    case Behavior::kIsolated:
      for (auto& s : segments) result.emplace_back(s.start, s.end);
      break;
    case Behavior::kRemoved:
      for (auto& s : segments)
        if (!s.delimiter) result.emplace_back(s.start, s.end);
      break;
    case Behavior::kMergedWithPrevious:
      for (auto& s : segments) {
        if (s.delimiter && !previous_delimiter && !result.empty()) result.back().second = s.end;
        else result.emplace_back(s.start, s.end);
        previous_delimiter = s.delimiter;
      }
      break;
    case Behavior::kMergedWithNext:
      for (size_t i = segments.size(); i-- > 0;) {
        auto& s = segments[i];
        if (s.delimiter && !previous_delimiter && !result.empty()) result.back().first = s.start;
        else result.emplace_back(s.start, s.end);
        previous_delimiter = s.delimiter;
      }
      std::reverse(result.begin(), result.end());
      break;
    case Behavior::kContiguous:
      for (auto& s : segments) {
        if (s.delimiter == previous_delimiter && !result.empty()) result.back().second = s.end;
        else result.emplace_back(s.start, s.end);
        previous_delimiter = s.delimiter;
      }
      break;
  }
  for (auto [start, end] : result)
    if (end > start) out->push_back(piece->substr(start, end - start));
}

void PreTokenizer::split(const std::string& text, std::vector<std::string>* pieces) const {
  std::vector<std::string> current{text}, next;
  for (const Step& step : steps_) {
    next.clear();
    for (const std::string& piece : current) apply(step, piece, &next);
    current.swap(next);
  }
  for (auto& piece : current)
    if (!piece.empty()) pieces->push_back(std::move(piece));
}

bool PreTokenizer::has_byte_level() const {
  for (const Step& step : steps_)
    if (step.kind == Kind::kByteLevel) return true;
  return false;
}

nlohmann::ordered_json PreTokenizer::to_json() const { return spec_; }

}  // namespace rlhf
