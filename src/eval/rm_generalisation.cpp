#include "eval/rm_generalisation.h"

#include <cmath>

#include "common/error.h"
#include "common/files.h"
#include "common/json.h"
#include "eval/stats.h"

namespace rlhf::eval {

using json = nlohmann::json;

namespace {

// Mean and sample standard deviation (the paper reports accuracy ± std over folds).
json mean_std(const std::vector<double>& values) {
  MeanStderr m = mean_stderr(values);
  double std_dev = m.standard_error * std::sqrt(static_cast<double>(values.size()));
  return {{"mean", number_or_null(m.mean)}, {"std", number_or_null(values.size() > 1 ? std_dev : NAN)}, {"n", values.size()}};
}

// `field` or its other spelling `alias` (the pipeline's "test_accuracy" / "train_groups_accuracy"); a negative
// value means "not measured" (NaN).
double accuracy_field(const json& in, const char* field, const char* alias, const std::string& where) {
  const char* name = in.contains(field) ? field : alias;
  if (!in.contains(name) || !in[name].is_number())
    fail(where, std::string("a number \"") + field + "\" (or \"" + alias + "\")", json_excerpt(in, 80));
  double v = in[name].get<double>();
  if (v < 0) return NAN;
  if (!(v <= 1)) fail(where, std::string("\"") + name + "\" in [0, 1]", std::to_string(v));
  return v;
}

int64_t count_field(const json& in, const char* field, const char* alias) {
  const char* name = in.contains(field) ? field : alias;
  return in.contains(name) && in[name].is_number() ? in[name].get<int64_t>() : 0;
}

}  // namespace

void to_json(json& out, const RmFold& f) {
  out = {{"held_out_group", f.held_out_group}, {"group_name", f.group_name},
         {"train_accuracy", number_or_null(f.train_accuracy)}, {"held_out_accuracy", number_or_null(f.held_out_accuracy)}, {"train_pairs", f.train_pairs}, {"held_out_pairs", f.held_out_pairs},
         {"agreement", f.agreement}};
}

void from_json(const json& in, RmFold& f) {
  const std::string where = "rm_cv fold";
  if (!in.is_object()) fail(where, "an object", in.type_name());
  f.held_out_group = in.value("held_out_group", 0);
  f.group_name = in.value("group_name", std::string());
  f.train_accuracy = accuracy_field(in, "train_accuracy", "train_groups_accuracy", where);
  f.held_out_accuracy = accuracy_field(in, "held_out_accuracy", "test_accuracy", where);
  f.train_pairs = count_field(in, "train_pairs", "train_groups_comparisons");
  f.held_out_pairs = count_field(in, "held_out_pairs", "test_comparisons");
  f.agreement = in.contains("agreement") && in["agreement"].is_number() ? in["agreement"].get<double>() : -1;
}

std::vector<RmFold> read_rm_folds(const std::string& path) {
  if (!file_exists(path)) return {};
  json j = read_json(path);
  if (!j.is_object() || !j.contains("folds") || !j["folds"].is_array()) fail(path, "{\"folds\": [...]}", json_excerpt(j, 80));
  std::vector<RmFold> folds;
  for (const auto& f : j["folds"]) {
    try {
      folds.push_back(f.get<RmFold>());
    } catch (const Error& e) {
      fail(path + ": " + e.what());
    }
  }
  return folds;
}

json summarise_rm_folds(const std::vector<RmFold>& folds, double agreement, const std::string& agreement_source) {
  json out = {{"folds", folds}};
  std::vector<double> train, held_out, fold_agreement;
  for (const auto& f : folds) {
    if (std::isfinite(f.train_accuracy)) train.push_back(f.train_accuracy);
    if (std::isfinite(f.held_out_accuracy)) held_out.push_back(f.held_out_accuracy);
    if (f.agreement >= 0) fold_agreement.push_back(f.agreement);
  }
  out["train_accuracy"] = mean_std(train);
  out["held_out_accuracy"] = mean_std(held_out);
  out["gap"] = train.empty() || held_out.empty() ? json(nullptr)
                                                : number_or_null(mean_stderr(train).mean - mean_stderr(held_out).mean);
  if (!fold_agreement.empty()) {
    out["agreement"] = mean_std(fold_agreement);
    out["agreement"]["source"] = "folds";
  } else {
    out["agreement"] = {{"mean", number_or_null(agreement)}, {"std", nullptr}, {"source", agreement_source}};
  }
  return out;
}

}  // namespace rlhf::eval
