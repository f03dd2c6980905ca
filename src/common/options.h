// Named, typed knobs bound to the fields of a stage's options struct (Marian's "options parsed in one place").
// Values come from defaults, then a YAML file (--config), then --key=value on the command line (CLI11), in that order.
// An unknown key is an error that names it and the closest valid key.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace CLI { class App; }

namespace rlhf {

class Options {
 public:
  using Field = std::variant<int*, int64_t*, double*, float*, bool*, std::string*>;

  void add(const std::string& name, Field field, const std::string& help);
  // A text option that may also stand alone on the command line, meaning `value_alone` (HF's
  // `--resume_from_checkpoint` alone is `--resume_from_checkpoint true`); true/false options always may.
  void allow_alone(const std::string& name, const std::string& value_alone);
  bool has(const std::string& name) const { return fields_.count(name) > 0; }
  // A key that is no field of ours but that users of TRL and HF write: `handle` gets its value ("true" when a switch is
  // given alone) and maps it onto our fields or rejects it with a clear error.
  using Handler = std::function<void(const std::string& value, const std::string& where)>;
  void add_handler(const std::string& name, Handler handle, const std::string& help);
  // A key accepted and ignored: one line on stderr, once, says so and why.
  void ignore(const std::string& name, const std::string& why);
  // The line `ignore` prints (once per name): "note: WHERE: ignoring 'NAME': WHY".
  void notice(const std::string& name, const std::string& why, const std::string& where);
  // Parse `value` for `name`; `where` (file:line or "command line") goes into any error.
  void set(const std::string& name, const std::string& value, const std::string& where = "command line");
  void load_yaml(const std::string& path);
  std::string get_string(const std::string& name) const;  // the current value, as text
  std::vector<std::string> names() const;
  std::string to_json() const;  // every current value, for the run directory

  // Sets again every value given so far (YAML and command line), in order: a preset applied after parsing changes
  // only what the user left at its default.
  void reapply_given();

  // CLI11 glue: --config FILE plus one --name per field (so --help lists them); unknown --keys are caught by check_extras.
  void attach(CLI::App& app);
  void check_extras(const CLI::App& app) const;

 private:
  struct Entry { Field field; std::string help; };
  struct Given { std::string name, value, where; };
  std::map<std::string, Entry> fields_;
  std::map<std::string, std::pair<Handler, std::string>> handlers_;  // name -> (handler, help)
  std::set<std::string> noticed_;
  std::map<std::string, std::string> value_alone_;  // allow_alone's options
  std::vector<std::string> order_;
  std::vector<Given> given_;
};

// The candidate nearest to `key` by edit distance ("" when nothing is near).
std::string closest_name(const std::string& key, const std::vector<std::string>& candidates);

}  // namespace rlhf
