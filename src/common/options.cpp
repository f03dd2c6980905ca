#include "common/options.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <sstream>

#include "common/error.h"

namespace rlhf {

void Options::add(const std::string& name, Field field, const std::string& help) {
  if (!fields_.count(name)) order_.push_back(name);
  fields_[name] = Entry{field, help};
}

void Options::allow_alone(const std::string& name, const std::string& value_alone) {
  check(fields_.count(name) > 0, "Options::allow_alone: no option '" + name + "'");
  value_alone_[name] = value_alone;
}

std::vector<std::string> Options::names() const { return order_; }

namespace {

template <typename T>
T parse_number(const std::string& name, const std::string& value, const std::string& where) {
  std::istringstream in(value);
  T out{};
  in >> out;
  if (!in.fail() && in.eof()) return out;
  if constexpr (std::is_integral_v<T>) {
    // HF writes some whole-number fields as floats (num_train_epochs: 3.0): a float with a whole value is taken.
    std::istringstream as_float(value);
    double number = 0;
    as_float >> number;
    if (!as_float.fail() && as_float.eof() && std::isfinite(number) && number == std::floor(number) &&
        std::fabs(number) < 9.0e15)
      return static_cast<T>(number);
    fail(where, "a whole number for '" + name + "'", "'" + value + "'");
  }
  fail(where, "a number for '" + name + "'", "'" + value + "'");
}

bool parse_bool(const std::string& name, const std::string& value, const std::string& where) {
  std::string v = value;
  std::transform(v.begin(), v.end(), v.begin(), ::tolower);
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  fail(where, "true or false for '" + name + "'", "'" + value + "'");
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string unknown_key_message(const std::string& key, const std::vector<std::string>& names) {
  std::string near = closest_name(key, names);
  return "unknown option '" + key + "'" + (near.empty() ? "" : " (did you mean '" + near + "'?)");
}

}  // namespace

std::string closest_name(const std::string& key, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(3, key.size() / 2) + 1;
  for (const auto& c : candidates) {
    size_t d = edit_distance(key, c);
    if (d < best_distance) best_distance = d, best = c;
  }
  return best;
}

void Options::add_handler(const std::string& name, Handler handle, const std::string& help) {
  handlers_[name] = {std::move(handle), help};
}

void Options::ignore(const std::string& name, const std::string& why) {
  add_handler(name, [this, name, why](const std::string&, const std::string& where) { notice(name, why, where); },
              "accepted and ignored: " + why);
}

void Options::notice(const std::string& name, const std::string& why, const std::string& where) {
  if (noticed_.insert(name).second) std::cerr << "note: " << where << ": ignoring '" << name << "': " << why << "\n";
}

void Options::set(const std::string& name, const std::string& value, const std::string& where) {
  auto handler = handlers_.find(name);
  if (handler != handlers_.end()) {
    handler->second.first(value, where);
    return;
  }
  auto it = fields_.find(name);
  if (it == fields_.end()) fail(where + ": " + unknown_key_message(name, order_));
  std::visit(
      [&](auto* field) {
        using T = std::remove_pointer_t<decltype(field)>;
        if constexpr (std::is_same_v<T, bool>) *field = parse_bool(name, value, where);
        else if constexpr (std::is_same_v<T, std::string>) *field = value;
        else *field = parse_number<T>(name, value, where);
      },
      it->second.field);
  given_.push_back({name, value, where});
}

void Options::reapply_given() {
  const std::vector<Given> given = given_;
  for (const auto& g : given) set(g.name, g.value, g.where);
  given_ = given;
}

std::string Options::get_string(const std::string& name) const {
  auto it = fields_.find(name);
  if (it == fields_.end()) fail(unknown_key_message(name, order_));
  return std::visit(
      [](auto* field) -> std::string {
        using T = std::remove_pointer_t<decltype(field)>;
        if constexpr (std::is_same_v<T, bool>) return *field ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string>) return *field;
        else {
          std::ostringstream out;
          out << *field;
          return out.str();
        }
      },
      it->second.field);
}

void Options::load_yaml(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    fail(path, "a readable YAML config file", "no such file or no permission");
  } catch (const YAML::Exception& e) {
    fail(path + ":" + std::to_string(e.mark.line + 1), "valid YAML", e.msg);
  }
  if (root.IsNull()) return;
  if (!root.IsMap()) fail(path, "a YAML mapping of option: value", "another kind of document");
  for (const auto& kv : root) {
    std::string where = path + ":" + std::to_string(kv.first.Mark().line + 1);
    if (!kv.first.IsScalar()) fail(where, "an option name", "a list, mapping or null as key");
    std::string key = kv.first.as<std::string>();
    if (kv.second.IsNull()) {
      // HF's None: the option keeps its default (a key none of ours still is an error).
      if (!handlers_.count(key) && !fields_.count(key)) fail(where + ": " + unknown_key_message(key, order_));
      continue;
    }
    if (!kv.second.IsScalar()) {
      auto field = fields_.find(key);
      if (!handlers_.count(key) && field != fields_.end() && std::holds_alternative<std::string*>(field->second.field) &&
          kv.second.IsSequence()) {
        // A list for a text option (lora_target_modules: [q_proj, v_proj]): its items, comma-separated.
        std::string joined;
        for (const auto& item : kv.second) {
          if (!item.IsScalar()) fail(where, "a list of names for '" + key + "'", "a nested list or mapping");
          joined += (joined.empty() ? "" : ",") + item.as<std::string>();
        }
        set(key, joined, where);
        continue;
      }
      if (!handlers_.count(key)) fail(where, "a scalar value for '" + key + "'", "a list or mapping");
      set(key, YAML::Dump(kv.second), where);  // a handled key's list (report_to: [tensorboard]) as flow text
      continue;
    }
    set(key, kv.second.as<std::string>(), where);
  }
}

std::string Options::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& name : order_) {
    std::visit([&](auto* field) { out[name] = *field; }, fields_.at(name).field);
  }
  // Values come from YAML and the command line, which may hold bytes that are not UTF-8 (a Latin-1 path): nlohmann
  // would throw on them; U+FFFD keeps training_args.json valid JSON.
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Options::attach(CLI::App& app) {
  app.add_option_function<std::string>(
      "--config", [this](const std::string& path) { load_yaml(path); }, "YAML file of option: value (command line wins)");
  for (const auto& name : order_) {
    // Each knob is a plain --name VALUE; the callback parses with our types so errors read the same as from YAML.
    // A true/false knob may also stand alone, as HF's argument parser allows: `--use_peft` means `--use_peft true`.
    const bool is_switch = std::holds_alternative<bool*>(fields_.at(name).field);
    const auto alone = value_alone_.find(name);
    const bool may_stand_alone = is_switch || alone != value_alone_.end();
    const std::string value_alone = is_switch ? "true" : may_stand_alone ? alone->second : "";
    CLI::Option* option = app.add_option_function<std::string>(
           "--" + name,
           [this, name, may_stand_alone, value_alone](const std::string& v) {
             set(name, may_stand_alone && v.empty() ? value_alone : v);
           },
           fields_.at(name).help + " [" + get_string(name) + "]")
        ->type_name("")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // as argparse: a repeated --key, the last wins
    if (may_stand_alone) option->expected(0, 1);
    // ...and `--no_use_peft` means false, as HF's parser has it.
    if (is_switch && !has("no_" + name) && !handlers_.count("no_" + name))
      app.add_flag_function("--no_" + name, [this, name](std::int64_t) { set(name, "false"); })->group("");
  }
  for (const auto& [name, handler] : handlers_) {
    app.add_option_function<std::string>(
           "--" + name, [this, name = name](const std::string& v) { set(name, v.empty() ? "true" : v); },
           handler.second)
        ->type_name("")
        ->expected(0, 1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }
  app.allow_extras();
}

void Options::check_extras(const CLI::App& app) const {
  for (const auto& extra : app.remaining()) {
    std::string key = extra;
    if (key.rfind("--", 0) == 0) key = key.substr(2);
    key = key.substr(0, key.find('='));
    if (extra.rfind("-", 0) == 0) fail(unknown_key_message(key, order_));
    fail("unexpected argument '" + extra + "'");
  }
}

}  // namespace rlhf
