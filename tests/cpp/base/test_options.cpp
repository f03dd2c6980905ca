#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include <CLI/CLI.hpp>

#include "common/error.h"
#include "common/options.h"

namespace rlhf {
namespace {

struct TinyOptions {
  double learning_rate = 1e-5;
  int per_device_train_batch_size = 8;
  bool gradient_checkpointing = false;
  std::string output_dir = "out";
  std::string resume_from_checkpoint;
};

Options bind(TinyOptions& o) {
  Options opts;
  opts.add("learning_rate", &o.learning_rate, "step size");
  opts.add("per_device_train_batch_size", &o.per_device_train_batch_size, "batch");
  opts.add("gradient_checkpointing", &o.gradient_checkpointing, "recompute");
  opts.add("output_dir", &o.output_dir, "where");
  opts.add("resume_from_checkpoint", &o.resume_from_checkpoint, "true | PATH | false");
  opts.allow_alone("resume_from_checkpoint", "true");
  return opts;
}

TEST(Options, SetsTypedValues) {
  TinyOptions o;
  Options opts = bind(o);
  opts.set("learning_rate", "3e-4");
  opts.set("per_device_train_batch_size", "4");
  opts.set("gradient_checkpointing", "true");
  EXPECT_DOUBLE_EQ(o.learning_rate, 3e-4);
  EXPECT_EQ(o.per_device_train_batch_size, 4);
  EXPECT_TRUE(o.gradient_checkpointing);
}

TEST(Options, GivenValuesWinOverAPresetAppliedAfterParsing) {
  TinyOptions o;
  Options opts = bind(o);
  opts.set("learning_rate", "3e-4");
  opts.set("learning_rate", "5e-4");  // the last of several wins, as when parsing
  // A preset changes every default afterwards...
  o.learning_rate = 1.0, o.per_device_train_batch_size = 64;
  opts.reapply_given();
  // ...but what the user gave comes back; what they did not give keeps the preset's value.
  EXPECT_DOUBLE_EQ(o.learning_rate, 5e-4);
  EXPECT_EQ(o.per_device_train_batch_size, 64);
  opts.reapply_given();  // idempotent
  EXPECT_DOUBLE_EQ(o.learning_rate, 5e-4);
}

TEST(Options, UnknownKeyNamesTheClosest) {
  TinyOptions o;
  Options opts = bind(o);
  try {
    opts.set("learning_rat", "1");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'learning_rate'"), std::string::npos) << e.what();
  }
}

// The command line as HF users type it: a true/false knob alone means true, and still takes a value when given one.
void parse_command_line(TinyOptions& o, std::vector<std::string> args) {
  Options opts = bind(o);
  CLI::App app;
  opts.attach(app);
  std::reverse(args.begin(), args.end());  // CLI11 parses a vector from its back
  app.parse(args);
  opts.check_extras(app);
}

TEST(Options, ASwitchAloneMeansTrue) {
  TinyOptions alone;
  parse_command_line(alone, {"--gradient_checkpointing", "--learning_rate", "2e-4"});
  EXPECT_TRUE(alone.gradient_checkpointing);
  EXPECT_DOUBLE_EQ(alone.learning_rate, 2e-4);
  TinyOptions last;
  parse_command_line(last, {"--learning_rate", "2e-4", "--gradient_checkpointing"});
  EXPECT_TRUE(last.gradient_checkpointing);
  TinyOptions spaced, joined;
  spaced.gradient_checkpointing = joined.gradient_checkpointing = true;
  parse_command_line(spaced, {"--gradient_checkpointing", "false", "--output_dir", "x"});
  parse_command_line(joined, {"--gradient_checkpointing=false"});
  EXPECT_FALSE(spaced.gradient_checkpointing);
  EXPECT_EQ(spaced.output_dir, "x");
  EXPECT_FALSE(joined.gradient_checkpointing);
  // Only switches stand alone: a number knob without its number is still an error.
  TinyOptions number;
  EXPECT_ANY_THROW(parse_command_line(number, {"--learning_rate", "--gradient_checkpointing"}));
  EXPECT_ANY_THROW(parse_command_line(number, {"--learning_rate"}));
}

// HF's --resume_from_checkpoint takes a path or true, and alone means true; other text knobs still need their value.
TEST(Options, ATextKnobAllowedAloneTakesItsValueAlone) {
  TinyOptions alone, last, path, joined;
  parse_command_line(alone, {"--resume_from_checkpoint", "--output_dir", "x"});
  EXPECT_EQ(alone.resume_from_checkpoint, "true");
  EXPECT_EQ(alone.output_dir, "x");
  parse_command_line(last, {"--output_dir", "x", "--resume_from_checkpoint"});
  EXPECT_EQ(last.resume_from_checkpoint, "true");
  parse_command_line(path, {"--resume_from_checkpoint", "runs/a/checkpoints/step-4", "--gradient_checkpointing"});
  EXPECT_EQ(path.resume_from_checkpoint, "runs/a/checkpoints/step-4");
  EXPECT_TRUE(path.gradient_checkpointing);
  parse_command_line(joined, {"--resume_from_checkpoint=false"});
  EXPECT_EQ(joined.resume_from_checkpoint, "false");
  TinyOptions other;
  EXPECT_ANY_THROW(parse_command_line(other, {"--learning_rate", "2e-4", "--output_dir"}));
  Options opts = bind(other);
  EXPECT_ANY_THROW(opts.allow_alone("no_such_option", "true"));
}

TEST(Options, BadNumberIsAnError) {
  TinyOptions o;
  Options opts = bind(o);
  EXPECT_THROW(opts.set("per_device_train_batch_size", "four"), Error);
  EXPECT_THROW(opts.set("per_device_train_batch_size", "4x"), Error);
}

TEST(Options, YamlReportsFileAndLine) {
  TinyOptions o;
  Options opts = bind(o);
  std::string path = testing::TempDir() + "/options.yaml";
  std::ofstream(path) << "learning_rate: 0.5\n\nper_device_train_batchsize: 2\n";
  try {
    opts.load_yaml(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path + ":3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("per_device_train_batch_size"), std::string::npos) << msg;
  }
  EXPECT_DOUBLE_EQ(o.learning_rate, 0.5);
}

}  // namespace
}  // namespace rlhf
