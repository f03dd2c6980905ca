#include "data/formats.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/json.h"
#include "data/csv.h"
#include "data/dataset_rows.h"

namespace rlhf {

using json = nlohmann::json;

namespace {

const char kAssistantTag[] = "\n\nAssistant:";

std::string in_quotes(const std::string& name) { return "\"" + name + "\""; }

void require_object(const json& line, const std::string& where) {
  if (!line.is_object()) fail(where, "a JSON object", describe_json(line));
}

// The listing of a line's keys for "found ..." when no known format matches.
std::string key_list(const json& object) {
  if (object.empty()) return "an empty object";
  std::string text = "keys ";
  for (auto it = object.begin(); it != object.end(); ++it) text += (it == object.begin() ? "" : ", ") + in_quotes(it.key());
  return text;
}

// object[key] as a non-empty string; `what` names it in the message ("\"prompt\"", "messages[2].content").
std::string get_string(const json& object, const std::string& key, const std::string& where, const std::string& what) {
  auto it = object.find(key);
  if (it == object.end()) fail(where, what + " (a non-empty string)", "no " + in_quotes(key) + " field");
  if (!it->is_string() || it->get_ref<const std::string&>().empty())
    fail(where, what + " to be a non-empty string", describe_json(*it));
  return it->get<std::string>();
}

std::string get_string(const json& object, const std::string& key, const std::string& where) {
  return get_string(object, key, where, in_quotes(key));
}

const json& get_array(const json& object, const std::string& key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) fail(where, in_quotes(key) + " (an array)", "no " + in_quotes(key) + " field");
  if (!it->is_array()) fail(where, in_quotes(key) + " to be an array", describe_json(*it));
  return *it;
}

// An integer JSON value (3 or 3.0 are both fine: some writers emit floats), else fails naming `what`.
long long get_integer(const json& value, const std::string& where, const std::string& what) {
  if (value.is_number_integer()) return value.get<long long>();
  if (value.is_number_float()) {
    double number = value.get<double>();
    // The range check comes first: converting a double beyond long long's range is undefined.
    if (std::abs(number) < 1e15 && number == std::floor(number)) return static_cast<long long>(number);
  }
  fail(where, what + " to be an integer", describe_json(value));
}

std::string int_list(const json& array) {
  return json_excerpt(array, 60);
}

RankingExample parse_k_wise(const json& line, const std::string& where) {
  RankingExample example;
  example.prompt = get_string(line, "prompt", where);
  const json& responses = get_array(line, "responses", where);
  size_t k = responses.size();
  if (k < kMinResponses || k > kMaxResponses)
    fail(where, "\"responses\" to hold " + std::to_string(kMinResponses) + " to " + std::to_string(kMaxResponses) +
                    " responses", std::to_string(k));
  for (size_t i = 0; i < k; ++i) {
    const json& response = responses[i];
    // An empty response is allowed: a sampled model may say nothing, and labelers rank that too (usually last).
    if (!response.is_string()) fail(where, "responses[" + std::to_string(i) + "] to be a string", describe_json(response));
    example.responses.push_back(response.get<std::string>());
  }
  bool has_ranking = line.contains("ranking"), has_ranks = line.contains("ranks");
  if (has_ranking == has_ranks)
    fail(where, "either \"ranking\" (indices best to worst) or \"ranks\" (1 = best per response)",
         has_ranking ? "both" : "neither");
  std::string range = "0.." + std::to_string(k - 1);
  example.ranks.assign(k, -1);
  if (has_ranking) {
    const json& ranking = get_array(line, "ranking", where);
    if (ranking.size() != k)
      fail(where, "\"ranking\" to be a permutation of " + range + " (one index per response)", int_list(ranking));
    for (size_t place = 0; place < k; ++place) {
      long long index = get_integer(ranking[place], where, "ranking[" + std::to_string(place) + "]");
      if (index < 0 || index >= static_cast<long long>(k) || example.ranks[index] != -1)
        fail(where, "\"ranking\" to be a permutation of " + range, int_list(ranking));
      example.ranks[index] = static_cast<int>(place);
    }
  } else {
    const json& ranks = get_array(line, "ranks", where);
    if (ranks.size() != k) fail(where, "\"ranks\" to hold one rank per response (" + std::to_string(k) + ")",
                                std::to_string(ranks.size()) + " ranks");
    for (size_t i = 0; i < k; ++i) {
      long long rank = get_integer(ranks[i], where, "ranks[" + std::to_string(i) + "]");
      if (rank < 1 || rank > static_cast<long long>(k))
        fail(where, "ranks[" + std::to_string(i) + "] between 1 (best) and " + std::to_string(k), std::to_string(rank));
      example.ranks[i] = static_cast<int>(rank - 1);
    }
    if (*std::min_element(example.ranks.begin(), example.ranks.end()) != 0)
      fail(where, "\"ranks\" to contain 1 (the best response)", int_list(ranks));
    if (comparisons(example).empty())
      fail(where, "\"ranks\" with at least one preference", "all responses tied " + int_list(ranks));
  }
  return example;
}

RankingExample parse_pairwise_chat(const json& line, const std::string& where);

RankingExample parse_pairwise(const json& line, const std::string& where) {
  auto is_list = [&](const char* key) { return line.contains(key) && line[key].is_array(); };
  if (is_list("chosen") || is_list("rejected") || is_list("prompt")) return parse_pairwise_chat(line, where);
  RankingExample example;
  std::string chosen = get_string(line, "chosen", where), rejected = get_string(line, "rejected", where);
  if (line.contains("prompt")) {
    example.prompt = get_string(line, "prompt", where);
    example.responses = {chosen, rejected};
  } else {
    // HH-RLHF: both fields are whole dialogues that share everything up to the last assistant turn.
    DialogueSplit a = split_hh_dialogue(chosen, where, "chosen"), b = split_hh_dialogue(rejected, where, "rejected");
    if (a.prompt != b.prompt) {
      size_t at = std::mismatch(a.prompt.begin(), a.prompt.end(), b.prompt.begin(), b.prompt.end()).first -
                  a.prompt.begin();
      fail(where, "\"chosen\" and \"rejected\" to share the dialogue up to the last \"\\n\\nAssistant:\"",
           "dialogues that differ from character " + std::to_string(at));
    }
    example.prompt = a.prompt;
    example.responses = {a.response, b.response};
  }
  example.ranks = {0, 1};
  return example;
}


// A conversation: an array of {"role", "content"} objects; `field` names it in messages ("messages", "chosen", ...).
std::vector<ChatMessage> parse_messages(const json& messages, const std::string& where, const std::string& field) {
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < messages.size(); ++i) {
    std::string at = field + "[" + std::to_string(i) + "]";
    if (!messages[i].is_object()) fail(where, at + " to be an object {\"role\", \"content\"}", describe_json(messages[i]));
    ChatMessage message{get_string(messages[i], "role", where, at + ".role"),
                        get_string(messages[i], "content", where, at + ".content")};
    if (message.role != "system" && message.role != "user" && message.role != "assistant")
      fail(where, at + ".role to be \"system\", \"user\" or \"assistant\"", describe_json(message.role));
    out.push_back(std::move(message));
  }
  return out;
}

bool same_message(const ChatMessage& a, const ChatMessage& b) { return a.role == b.role && a.content == b.content; }

void require_user_last(const std::vector<ChatMessage>& prompt, const std::string& where, const std::string& what) {
  if (prompt.empty() || prompt.back().role != "user")
    fail(where, what + " ending with a user message",
         prompt.empty() ? std::string("no messages") : "a last message of role " + in_quotes(prompt.back().role));
}

// TRL's conversational preference data: {"chosen": [messages], "rejected": [messages]} whose shared first messages are
// the prompt (TRL's implicit prompt), or {"prompt": [messages], "chosen": [assistant], "rejected": [assistant]}. After
// the prompt, each side is one assistant message: the two responses.
RankingExample parse_pairwise_chat(const json& line, const std::string& where) {
  std::vector<ChatMessage> chosen = parse_messages(get_array(line, "chosen", where), where, "chosen");
  std::vector<ChatMessage> rejected = parse_messages(get_array(line, "rejected", where), where, "rejected");
  RankingExample example;
  if (line.contains("prompt")) {
    example.prompt_messages = parse_messages(get_array(line, "prompt", where), where, "prompt");
    require_user_last(example.prompt_messages, where, "\"prompt\"");
  } else {
    size_t shared = 0;
    while (shared < chosen.size() && shared < rejected.size() && same_message(chosen[shared], rejected[shared])) ++shared;
    if (shared == chosen.size() && shared == rejected.size() && shared > 0) --shared;  // identical: the last differs not
    example.prompt_messages.assign(chosen.begin(), chosen.begin() + static_cast<std::ptrdiff_t>(shared));
    chosen.erase(chosen.begin(), chosen.begin() + static_cast<std::ptrdiff_t>(shared));
    rejected.erase(rejected.begin(), rejected.begin() + static_cast<std::ptrdiff_t>(shared));
    require_user_last(example.prompt_messages, where, "the messages \"chosen\" and \"rejected\" share (the prompt)");
  }
  for (const auto* side : {&chosen, &rejected})
    if (side->size() != 1 || side->front().role != "assistant")
      fail(where, std::string(side == &chosen ? "\"chosen\"" : "\"rejected\"") + " to be one assistant message after the prompt",
           std::to_string(side->size()) + " messages" + (side->empty() ? "" : ", the first of role " + in_quotes(side->front().role)));
  example.prompt = example.prompt_messages.back().content;
  example.responses = {chosen[0].content, rejected[0].content};
  example.ranks = {0, 1};
  return example;
}

// A field whose value is null is an absent one: `datasets` gives each row every column, None where the row has none
// (a dataset of prompt-completion and conversational rows), in its Arrow files and in to_json's lines alike.
bool has_null_field(const json& row) {
  return row.is_object() && std::any_of(row.begin(), row.end(), [](const json& v) { return v.is_null(); });
}

json without_nulls(const json& row) {
  json out = json::object();
  for (auto it = row.begin(); it != row.end(); ++it)
    if (!it->is_null()) out[it.key()] = *it;
  return out;
}

template <class T>
std::vector<T> read_all(const std::vector<std::string>& files, const JsonlOptions& options, ReadReport* report,
                        T (*parse)(const json&, const std::string&)) {
  std::vector<T> examples;
  ReadReport result = for_each_row(files, options, [&](const JsonlLine& line) {
    examples.push_back(has_null_field(line.value) ? parse(without_nulls(line.value), line.where)
                                                  : parse(line.value, line.where));
  });
  if (report) *report = result;
  return examples;
}

}  // namespace

std::vector<ChatMessage> SftExample::prompt_messages() const {
  if (messages.empty()) return {};
  return std::vector<ChatMessage>(messages.begin(), messages.end() - 1);
}

std::vector<Comparison> comparisons(const RankingExample& example) {
  std::vector<Comparison> pairs;
  int k = static_cast<int>(example.ranks.size());
  for (int winner = 0; winner < k; ++winner)
    for (int loser = 0; loser < k; ++loser)
      if (example.ranks[winner] < example.ranks[loser]) pairs.push_back({winner, loser});
  return pairs;
}

SftExample parse_sft_example(const json& line, const std::string& where) {
  require_object(line, where);
  SftExample example;
  example.source = where;
  bool plain = line.contains("prompt") || line.contains("completion"), chat = line.contains("messages");
  if (plain == chat)
    fail(where, "an SFT example: {\"prompt\", \"completion\"} or {\"messages\"}",
         plain ? "both \"prompt\"/\"completion\" and \"messages\"" : key_list(line));
  if (plain && line.contains("prompt") && line["prompt"].is_array()) {
    // TRL's conversational prompt-completion: {"prompt": [messages], "completion": [the assistant's message]}.
    example.messages = parse_messages(get_array(line, "prompt", where), where, "prompt");
    require_user_last(example.messages, where, "\"prompt\"");
    std::vector<ChatMessage> completion = parse_messages(get_array(line, "completion", where), where, "completion");
    if (completion.size() != 1 || completion[0].role != "assistant")
      fail(where, "\"completion\" to be one assistant message", std::to_string(completion.size()) + " messages");
    example.messages.push_back(completion[0]);
  } else if (plain) {
    example.prompt = get_string(line, "prompt", where);
    example.completion = get_string(line, "completion", where);
    return example;
  } else {
    const json& messages = get_array(line, "messages", where);
    if (messages.size() < 2)
      fail(where, "\"messages\" with at least a user turn and an assistant turn", describe_json(messages));
    example.messages = parse_messages(messages, where, "messages");
  }
  if (example.messages.back().role != "assistant")
    fail(where, "the last message to be the assistant's (the completion)",
         "role " + in_quotes(example.messages.back().role));
  example.completion = example.messages.back().content;
  return example;
}

std::string parse_text_example(const json& line, const std::string& where) {
  require_object(line, where);
  return get_string(line, "text", where);
}

RankingExample parse_ranking_example(const json& line, const std::string& where) {
  require_object(line, where);
  RankingExample example;
  if (line.contains("responses")) {
    example = parse_k_wise(line, where);
  } else if (line.contains("chosen") || line.contains("rejected")) {
    example = parse_pairwise(line, where);
  } else {
    fail(where, "a ranking: {\"prompt\", \"responses\", \"ranking\" or \"ranks\"} or {\"chosen\", \"rejected\"}",
         key_list(line));
  }
  example.source = where;
  return example;
}

PromptExample parse_prompt_example(const json& line, const std::string& where) {
  require_object(line, where);
  PromptExample example;
  if (line.contains("prompt") && line["prompt"].is_array()) {  // TRL's conversational prompt: [messages]
    example.prompt_messages = parse_messages(line["prompt"], where, "prompt");
    require_user_last(example.prompt_messages, where, "\"prompt\"");
    example.prompt = example.prompt_messages.back().content;
  } else {
    example.prompt = get_string(line, "prompt", where);
  }
  example.extra = line;
  example.extra.erase("prompt");
  example.source = where;
  return example;
}

std::vector<SftExample> read_sft_examples(const std::vector<std::string>& files, const JsonlOptions& options,
                                          ReadReport* report) {
  return read_all(files, options, report, &parse_sft_example);
}

std::vector<std::string> read_text_examples(const std::vector<std::string>& files, const JsonlOptions& options,
                                            ReadReport* report) {
  return read_all(files, options, report, &parse_text_example);
}

std::vector<RankingExample> read_ranking_examples(const std::vector<std::string>& files, const JsonlOptions& options,
                                                  ReadReport* report) {
  return read_all(files, options, report, &parse_ranking_example);
}

std::vector<PromptExample> read_prompt_examples(const std::vector<std::string>& files, const JsonlOptions& options,
                                                ReadReport* report) {
  return read_all(files, options, report, &parse_prompt_example);
}

DialogueSplit split_hh_dialogue(const std::string& dialogue, const std::string& where, const std::string& field) {
  size_t at = dialogue.rfind(kAssistantTag);
  if (at == std::string::npos)
    fail(where, in_quotes(field) + " to be a dialogue with an \"\\n\\nAssistant:\" turn", describe_json(dialogue));
  size_t end = at + sizeof(kAssistantTag) - 1;
  DialogueSplit split{dialogue.substr(0, end), dialogue.substr(end)};
  if (split.response.empty()) fail(where, in_quotes(field) + " to end with a non-empty assistant response", "none");
  return split;
}

std::vector<CrowsPair> read_crows_pairs(const std::string& path) {
  std::vector<CsvRecord> records = read_csv(path);
  if (records.empty()) fail(path, "a CSV header with sent_more, sent_less, stereo_antistereo, bias_type", "an empty file");
  const std::vector<std::string>& header = records.front().fields;
  auto column = [&](const std::string& name) {
    auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) {
      std::string found;
      for (const auto& h : header) found += (found.empty() ? "" : ", ") + in_quotes(h);
      fail(path + ":" + std::to_string(records.front().line_number), "a column named " + name, "columns " + found);
    }
    return static_cast<size_t>(it - header.begin());
  };
  size_t more = column("sent_more"), less = column("sent_less"), direction = column("stereo_antistereo"),
         bias = column("bias_type");
  std::vector<CrowsPair> pairs;
  for (size_t r = 1; r < records.size(); ++r) {
    const CsvRecord& record = records[r];
    std::string where = path + ":" + std::to_string(record.line_number);
    if (record.fields.size() != header.size())
      fail(where, std::to_string(header.size()) + " fields (as in the header)", std::to_string(record.fields.size()));
    CrowsPair pair{record.fields[more], record.fields[less], record.fields[direction], record.fields[bias], where};
    if (pair.sent_more.empty() || pair.sent_less.empty())
      fail(where, "non-empty sent_more and sent_less", "an empty sentence");
    if (pair.stereo_antistereo != "stereo" && pair.stereo_antistereo != "antistereo")
      fail(where, "stereo_antistereo to be \"stereo\" or \"antistereo\"", describe_json(pair.stereo_antistereo));
    if (pair.bias_type.empty()) fail(where, "a bias_type", "an empty field");
    pairs.push_back(std::move(pair));
  }
  return pairs;
}

std::string truncation_policy_name(TruncationPolicy policy) {
  return policy == TruncationPolicy::kDrop ? "drop" : "truncate_left";
}

TruncationPolicy parse_truncation_policy(const std::string& name) {
  if (name == "truncate_left") return TruncationPolicy::kTruncatePromptLeft;
  if (name == "drop") return TruncationPolicy::kDrop;
  fail("truncation policy", "\"truncate_left\" or \"drop\"", in_quotes(name));
}

std::string TruncationCounts::summary() const {
  return std::to_string(kept) + " kept, " + std::to_string(truncated) + " truncated (" +
         std::to_string(tokens_removed) + " prompt tokens cut), " + std::to_string(dropped) + " dropped";
}

bool apply_truncation(TruncationPolicy policy, size_t max_length, std::vector<int64_t>& prompt_ids,
                      size_t completion_length, TruncationCounts& counts) {
  if (prompt_ids.size() + completion_length <= max_length) {
    ++counts.kept;
    return true;
  }
  size_t min_prompt = prompt_ids.empty() ? 0 : 1;
  if (policy == TruncationPolicy::kDrop || completion_length + min_prompt > max_length) {
    ++counts.dropped;
    return false;
  }
  size_t cut = prompt_ids.size() + completion_length - max_length;
  prompt_ids.erase(prompt_ids.begin(), prompt_ids.begin() + static_cast<std::ptrdiff_t>(cut));
  ++counts.truncated;
  counts.tokens_removed += cut;
  return true;
}

}  // namespace rlhf
