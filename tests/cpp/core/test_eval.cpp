// The evaluation's arithmetic against values worked out by hand or published: Wilson intervals (Newcombe 1998,
// Table I), win rates with ties, RealToxicityPrompts' aggregates, normalised pronoun entropy, the alignment tax and
// its recovery, FLOPs and petaflop/s-days; the run files the pipeline writes (compute.json, rm_cv.json) in both
// spellings; the SVG charts and the report page.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <unistd.h>

#include "common/error.h"
#include "common/files.h"
#include "eval/compute.h"
#include "eval/report.h"
#include "eval/rm_generalisation.h"
#include "eval/stats.h"
#include "eval/svg.h"

namespace rlhf::eval {
namespace {

using json = nlohmann::json;

TEST(Wilson, MatchesNewcombesPublishedIntervals) {
  // Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3 (score, no CC).
  struct Case { double x, n, low, high; };
  for (const Case& c : {Case{81, 263, 0.2553, 0.3662}, Case{15, 148, 0.0624, 0.1605}, Case{0, 20, 0.0, 0.1611},
                        Case{1, 29, 0.0061, 0.1718}}) {
    Proportion p = wilson_interval(c.x, c.n);
    EXPECT_NEAR(p.value, c.x / c.n, 1e-12);
    EXPECT_NEAR(p.low, c.low, 5e-5) << c.x << "/" << c.n;
    EXPECT_NEAR(p.high, c.high, 5e-5) << c.x << "/" << c.n;
  }
}

TEST(Wilson, RejectsImpossibleCounts) {
  EXPECT_THROW(wilson_interval(5, 4), Error);
  EXPECT_THROW(wilson_interval(-1, 4), Error);
  Proportion empty = wilson_interval(0, 0);
  EXPECT_TRUE(std::isnan(empty.value));
}

TEST(WinRate, TiesCountHalf) {
  // 2 wins, 1 tie, 1 loss: (2 + 0.5) / 4 = 0.625; the interval is Wilson's with 2.5 successes of 4.
  WinRate w = win_rate({1, 0.5, 1, 0});
  EXPECT_EQ(w.wins, 2);
  EXPECT_EQ(w.ties, 1);
  EXPECT_EQ(w.losses, 1);
  EXPECT_DOUBLE_EQ(w.rate.value, 0.625);
  // By hand: z = 1.96, n = 4, p = 0.625: centre = (0.625 + 0.4802) / 1.9604 = 0.56377, half = 0.34434.
  EXPECT_NEAR(w.rate.low, 0.21943, 1e-4);
  EXPECT_NEAR(w.rate.high, 0.90810, 1e-4);
  EXPECT_THROW(win_rate({1, 0.3}), Error);
}

TEST(Toxicity, ExpectedMaximumAndToxicProbability) {
  // Maxima 0.7, 0.3, 0.5 -> expected max 0.5; prompts with a sample >= 0.5: the first and the third -> 2/3.
  ToxicityAggregate a = aggregate_toxicity({{0.1, 0.7}, {0.2, 0.3}, {0.0, 0.5}});
  EXPECT_NEAR(a.expected_max_toxicity, 0.5, 1e-12);
  EXPECT_NEAR(a.toxic_probability, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(a.mean_toxicity, 1.8 / 6.0, 1e-12);
  // Standard error of the maxima: sample std of {0.7, 0.3, 0.5} is 0.2, / sqrt(3).
  EXPECT_NEAR(a.expected_max_toxicity_stderr, 0.2 / std::sqrt(3.0), 1e-12);
  EXPECT_EQ(a.prompts, 3);
  EXPECT_EQ(a.samples, 6);
  EXPECT_THROW(aggregate_toxicity({{}}), Error);
}

TEST(Bias, NormalisedPronounEntropy) {
  EXPECT_NEAR(normalised_entropy({1, 1, 1}), 1.0, 1e-12);            // no preference among he/she/they
  EXPECT_NEAR(normalised_entropy({0.9, 0, 0}), 0.0, 1e-12);          // always the same pronoun
  EXPECT_NEAR(normalised_entropy({2, 2, 0}), std::log(2) / std::log(3), 1e-12);  // renormalised first
  // p = (0.7, 0.2, 0.1): H = -(0.7 ln 0.7 + 0.2 ln 0.2 + 0.1 ln 0.1) = 0.80182 nats; / ln 3 = 0.72984.
  EXPECT_NEAR(normalised_entropy({0.7, 0.2, 0.1}), 0.72984, 1e-5);
  EXPECT_THROW(normalised_entropy({0, 0, 0}), Error);
  EXPECT_THROW(normalised_entropy({1}), Error);
  EXPECT_DOUBLE_EQ(share_higher({-1, -2, -3, -4}, {-2, -1, -4, -4}), 0.5);  // ties are not "more likely"
  EXPECT_THROW(share_higher({-1}, {}), Error);
}

TEST(AlignmentTax, RecoveryFormula) {
  // Accuracy (higher is better): SFT 0.60, PPO 0.50 (tax 0.10), PPO-ptx 0.58 (tax 0.02) -> 80% recovered.
  EXPECT_NEAR(alignment_tax(0.60, 0.50, true), 0.10, 1e-12);
  EXPECT_NEAR(tax_recovered(0.60, 0.50, 0.58, true), 0.8, 1e-12);
  // NLL (lower is better): SFT 2.0, PPO 2.3 (tax 0.3), PPO-ptx 2.1 (tax 0.1) -> 2/3 recovered.
  EXPECT_NEAR(alignment_tax(2.0, 2.3, false), 0.3, 1e-12);
  EXPECT_NEAR(tax_recovered(2.0, 2.3, 2.1, false), 2.0 / 3.0, 1e-12);
  // PPO-ptx better than SFT: more than all of the tax recovered.
  EXPECT_NEAR(tax_recovered(0.60, 0.50, 0.65, true), 1.5, 1e-12);
  // No tax to recover: undefined, not a division by zero.
  EXPECT_TRUE(std::isnan(tax_recovered(0.60, 0.62, 0.61, true)));
}

TEST(Compute, FlopsAndPetaflopDays) {
  EXPECT_DOUBLE_EQ(training_flops(1e6, 1e6), 6e12);
  EXPECT_DOUBLE_EQ(inference_flops(1e6, 1e6), 2e12);
  // One petaflop/s-day is 1e15 FLOP/s for 86,400 s.
  EXPECT_DOUBLE_EQ(petaflop_s_days(8.64e19), 1.0);
  // GPT-3 175B trained on 300B tokens: 6 · 1.75e11 · 3e11 = 3.15e23 FLOPs = 3,646 petaflop/s-days (the paper's 3,640).
  EXPECT_NEAR(petaflop_s_days(training_flops(1.75e11, 3e11)), 3645.8, 0.1);
  ComputeRecord r{"ppo", 2e6, 1e5, 3e4, 5e4, 12.5};
  EXPECT_DOUBLE_EQ(r.flops(), 6 * 2e6 * 1e5 + 2 * 2e6 * (3e4 + 5e4));
}

class RunFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("rlhf_eval_test_" + std::to_string(::getpid()))).string();
    make_dirs(dir_);
  }
  void TearDown() override { remove_tree(dir_); }  // not std::filesystem::remove_all (files.h says why)
  std::string dir_;
};

TEST_F(RunFiles, ComputeJsonInBothSpellings) {
  write_compute_records(dir_ + "/a.json", {{"sft", 1e6, 2e6, 0, 0, 3}, {"ppo", 1e6, 1e5, 2e5, 4e5, 9}});
  auto a = read_compute_records(dir_ + "/a.json");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[1].stage, "ppo");
  EXPECT_DOUBLE_EQ(a[1].tokens_scored, 4e5);
  // The pipeline's StageRunner writes an object keyed by stage, with "seconds".
  write_file_atomic(dir_ + "/b.json", R"({"pretrain": {"parameters": 1000, "tokens_trained": 50, "seconds": 2.5},
                                         "rm": {"parameters": 10, "tokens_scored": 7}})");
  auto b = read_compute_records(dir_ + "/b.json");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].stage, "pretrain");
  EXPECT_DOUBLE_EQ(b[0].wall_seconds, 2.5);
  json s = summarise_compute(b);
  EXPECT_DOUBLE_EQ(s["total"]["flops"].get<double>(), 6.0 * 1000 * 50 + 2.0 * 10 * 7);
  EXPECT_DOUBLE_EQ(s["stages"][0]["petaflop_s_days"].get<double>(), 6.0 * 1000 * 50 / 8.64e19);
  EXPECT_TRUE(read_compute_records(dir_ + "/missing.json").empty());
  write_file_atomic(dir_ + "/bad.json", R"({"sft": {"parameters": -3}})");
  EXPECT_THROW(read_compute_records(dir_ + "/bad.json"), Error);
}

TEST_F(RunFiles, RmFoldsInBothSpellings) {
  write_file_atomic(dir_ + "/rm_cv.json", R"({"folds": [
      {"held_out_group": 0, "test_accuracy": 0.60, "train_groups_accuracy": 0.70, "test_comparisons": 30},
      {"held_out_group": 1, "held_out_accuracy": 0.64, "train_accuracy": 0.74, "agreement": 0.7},
      {"held_out_group": 2, "test_accuracy": 0.62, "train_groups_accuracy": -1}]})");
  auto folds = read_rm_folds(dir_ + "/rm_cv.json");
  ASSERT_EQ(folds.size(), 3u);
  EXPECT_DOUBLE_EQ(folds[0].held_out_accuracy, 0.60);
  EXPECT_EQ(folds[0].held_out_pairs, 30);
  EXPECT_TRUE(std::isnan(folds[2].train_accuracy));  // -1: not measured
  json s = summarise_rm_folds(folds, 0.9);
  EXPECT_NEAR(s["held_out_accuracy"]["mean"].get<double>(), 0.62, 1e-12);
  EXPECT_NEAR(s["held_out_accuracy"]["std"].get<double>(), 0.02, 1e-12);
  EXPECT_NEAR(s["train_accuracy"]["mean"].get<double>(), 0.72, 1e-12);  // the unmeasured fold left out
  EXPECT_NEAR(s["gap"].get<double>(), 0.10, 1e-12);
  EXPECT_EQ(s["agreement"]["source"], "folds");  // a fold measured it: that wins over the evaluation's
  write_file_atomic(dir_ + "/bad.json", R"({"folds": [{"test_accuracy": 1.5, "train_accuracy": 0.5}]})");
  EXPECT_THROW(read_rm_folds(dir_ + "/bad.json"), Error);
}

TEST(Svg, BarChartDrawsBarsErrorBarsAndEscapesText) {
  BarChart c;
  c.id = "chart-x";
  c.title = "A <b> & \"c\"";
  c.categories = {"one", "two"};
  c.series = {{"s1", {0.5, NAN}, {0.4, NAN}, {0.6, NAN}}, {"s2", {0.25, 0.75}, {}, {}}};
  c.reference_lines = {{"half", 0.5}};
  std::string svg = render_bar_chart(c);
  EXPECT_NE(svg.find("id=\"chart-x\""), std::string::npos);
  EXPECT_NE(svg.find("A &lt;b&gt; &amp; &quot;c&quot;"), std::string::npos);
  EXPECT_EQ(svg.find("<b>"), std::string::npos);
  size_t bars = 0, errors = 0;
  for (size_t at = svg.find("class=\"bar\""); at != std::string::npos; at = svg.find("class=\"bar\"", at + 1)) ++bars;
  for (size_t at = svg.find("class=\"error-bar\""); at != std::string::npos; at = svg.find("class=\"error-bar\"", at + 1)) ++errors;
  EXPECT_EQ(bars, 3u);    // the NaN value draws nothing
  EXPECT_EQ(errors, 1u);  // only s1's first bar has an interval
  EXPECT_NE(svg.find("class=\"reference\""), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
}

TEST(Svg, AxisFromDataBelowZero) {
  // Rewards are often all negative: the axis must still span the data (no NaN coordinates, which browsers reject).
  BarChart c;
  c.id = "chart-negative";
  c.categories = {"a", "b"};
  c.series = {{"reward", {-0.5, -0.2}, {-0.7, -0.3}, {-0.3, -0.1}}};
  c.y_min = -1;  // the report's floor(lowest value): the upper end must come from the data, not default to -1
  std::string svg = render_bar_chart(c);
  EXPECT_EQ(svg.find("nan"), std::string::npos) << svg;
  LineChart line;
  line.id = "curve-flat";
  line.series = {{"flat", {{1, 0.5}, {2, 0.5}}}, {"single", {{3, 0.5}}}};
  EXPECT_EQ(render_line_chart(line).find("nan"), std::string::npos);
}

TEST(Report, PageHoldsAFigurePerMeasure) {
  json s = {{"run", "runs/x"}, {"judge", "test"}, {"notes", json::array()}};
  s["models"] = json::array({{{"id", "sft"}, {"key", "sft"}, {"size", ""}},
                             {{"id", "ppo_ptx"}, {"key", "ppo_ptx"}, {"size", ""}}});
  json win = {{"value", 0.7}, {"low", 0.6}, {"high", 0.8}, {"n", 100}};
  s["preference"]["all"]["models"]["ppo_ptx"]["training"]["win_rate"] = win;
  s["preference"]["all"]["models"]["ppo_ptx"]["held_out"]["win_rate"] = win;
  s["truthfulness"]["ppo_ptx"]["plain"]["truthful"] = win;
  s["toxicity"]["ppo_ptx"]["plain"]["expected_max_toxicity"] = 0.2;
  s["bias"]["winogender"]["ppo_ptx"]["plain"]["normalised_entropy"]["mean"] = 0.9;
  s["alignment_tax"]["all"]["models"]["sft"]["public_suite"] = 0.5;
  s["compute"] = summarise_compute({{"sft", 1e6, 1e6, 0, 0, 1}});
  s["samples"]["all"] = json::array({{{"prompt", "Say <hi>"}, {"responses", {{"sft", "hi & bye"}}}}});
  std::string html = render_report_html(s);
  for (const char* id : {"fig-winrate", "fig-likert", "fig-metadata", "fig-truthfulness", "fig-toxicity", "fig-winogender",
                         "fig-tax", "fig-compute", "fig-samples"})
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  EXPECT_NE(html.find("PPO-ptx wins 70%"), std::string::npos);  // the caption's numbers come from the summary
  EXPECT_NE(html.find("Say &lt;hi&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  // Nothing is fetched: the only URL is the SVG namespace name.
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t at = html.find(needle); at != std::string::npos; at = html.find(needle, at + 1)) ++n;
    return n;
  };
  EXPECT_GT(count("http"), 0u);
  EXPECT_EQ(count("http"), count("http://www.w3.org/2000/svg"));
}

}  // namespace
}  // namespace rlhf::eval
