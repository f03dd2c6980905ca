#include <gtest/gtest.h>

#include <fstream>

#include "common/error.h"
#include "common/options.h"

namespace rlhf {
namespace {

struct TinyOptions {
  double learning_rate = 1e-5;
  int per_device_train_batch_size = 8;
  bool gradient_checkpointing = false;
  std::string output_dir = "out";
};

Options bind(TinyOptions& o) {
  Options opts;
  opts.add("learning_rate", &o.learning_rate, "step size");
  opts.add("per_device_train_batch_size", &o.per_device_train_batch_size, "batch");
  opts.add("gradient_checkpointing", &o.gradient_checkpointing, "recompute");
  opts.add("output_dir", &o.output_dir, "where");
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
