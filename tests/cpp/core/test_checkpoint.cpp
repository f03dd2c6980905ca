// Damaged run state gives messages, not library exceptions: a checkpoint's state.json with a key missing or of the
// wrong type (it was nlohmann's "type must be number, but is null", and a missing optimizer_steps resumed silently
// without AdamW's moments), and sampling from a model with a NaN weight (it was a bare c10::Error from multinomial).
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "io/checkpoint.h"
#include "io/formats/safetensors.h"
#include "io/model_dir.h"
#include "model/generate.h"
#include "model/transformer.h"
#include "train/loop.h"
#include "../error_of.h"

namespace rlhf {
namespace {

// HF's get_length_grouped_indices on the same shuffled order (torch.randperm replaced by `order`), batch size 2: the
// expected indices were printed by transformers 4.57 (trainer_pt_utils), not by this code.
TEST(GroupByLength, GroupsAsHuggingFaceDoes) {
  const std::vector<int64_t> lengths = {22, 11, 26, 14, 28, 25, 29, 26, 23, 19, 3, 29, 17, 27, 10, 23, 4, 8, 6, 14,
                                        18, 30, 10, 15, 20, 6, 21, 10, 3, 26, 9, 16, 11, 8, 30, 27, 15, 8, 27, 28};
  const std::vector<size_t> order = {3, 16, 11, 15, 35, 7, 31, 25, 14, 1, 39, 23, 2, 18, 19, 33, 26, 12, 22, 37,
                                     24, 20, 21, 17, 6, 10, 9, 29, 27, 5, 30, 32, 13, 34, 0, 36, 38, 28, 8, 4};
  const std::vector<size_t> expected = {21, 35, 7, 15, 31, 3, 1, 14, 25, 16, 39, 2, 26, 12, 23, 19, 22, 33, 37, 18,
                                        11, 6, 29, 5, 24, 9, 20, 27, 17, 10, 34, 4, 13, 38, 8, 0, 36, 32, 30, 28};
  EXPECT_EQ(group_by_length(order, lengths, 2), expected);
  // Padding: batches of 2 in the grouped order pad less than in the shuffled one.
  auto padded = [&](const std::vector<size_t>& o) {
    int64_t total = 0;
    for (size_t i = 0; i < o.size(); i += 2) total += 2 * std::max(lengths[o[i]], lengths[o[i + 1]]);
    return total;
  };
  EXPECT_LT(padded(expected), padded(order));
}

TEST(GroupByLength, KeepsEveryExampleOnceAndTheLongestFirst) {
  std::vector<int64_t> lengths;
  for (int i = 0; i < 1000; ++i) lengths.push_back((i * 37) % 101);
  const auto order = epoch_order(lengths.size(), 7, 0);
  const auto grouped = group_by_length(order, lengths, 8);
  auto sorted = grouped;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_EQ(lengths[grouped[0]], 100);
  // 1000 / (8 x 4) = 31 batches of 8 per megabatch: each sorted longest first after its first place.
  for (size_t start = 0; start < grouped.size(); start += 248)
    for (size_t i = start + 2; i < std::min(grouped.size(), start + 248); ++i)
      EXPECT_GE(lengths[grouped[i - 1]], lengths[grouped[i]]) << "at " << i;
}

TEST(Checkpoint, DamagedStateJsonNamesTheFileAndTheKey) {
  const std::string out = "/tmp/rlhf_test_checkpoint_" + std::to_string(::getpid());
  torch::manual_seed(0);
  torch::nn::Linear linear(3, 2);
  torch::optim::AdamW optimizer(linear->parameters(), torch::optim::AdamWOptions(1e-2));
  linear(torch::ones({1, 3})).sum().backward();
  optimizer.step();
  Checkpointable what{{{"model", linear.get()}}, {{"optimizer", &optimizer}}, {}};
  save_checkpoint(out, 2, what, {{"epoch", 0}, {"micro_batch", 1}, {"window_loss", 0.5}}, 1);
  auto state = load_latest_checkpoint(out, what, {"epoch", "micro_batch"});
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ((*state)["step"].get<int64_t>(), 2);

  const std::string path = out + "/checkpoints/step-2/state.json";
  const nlohmann::json good = nlohmann::json::parse(read_file(path));
  auto damaged = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = good;
    edit(j);
    write_file_atomic(path, j.dump());
    return error_of([&] { load_latest_checkpoint(out, what, {"epoch", "micro_batch"}); });
  };
  EXPECT_EQ(damaged([](nlohmann::json& j) { j.erase("epoch"); }),
            path + ": expected the key \"epoch\", found none (the keys are micro_batch, optimizer_steps, step, "
                   "window_loss)");
  EXPECT_EQ(damaged([](nlohmann::json& j) { j["window_loss"] = "0.5"; }),
            path + ": expected a number under \"window_loss\", found \"0.5\"");
  EXPECT_EQ(damaged([](nlohmann::json& j) { j.erase("optimizer_steps"); }),
            path + ": expected an object under \"optimizer_steps\", found no such key");
  EXPECT_EQ(damaged([](nlohmann::json& j) { j = nlohmann::json::array(); }), path + ": expected a JSON object, found array");
  remove_tree(out);
}

// A process killed after a checkpoint folder was renamed into place and before `latest` was replaced: the resume
// takes that newest complete folder (CI once saw a pipeline stage start over from step 0 here). Half-written
// .tmp-step-N folders never count.
TEST(Checkpoint, ResumeTakesTheNewestCompleteFolderEvenIfLatestLagsBehind) {
  const std::string out = "/tmp/rlhf_test_checkpoint_newest_" + std::to_string(::getpid());
  torch::manual_seed(0);
  torch::nn::Linear linear(3, 2);
  torch::optim::AdamW optimizer(linear->parameters(), torch::optim::AdamWOptions(1e-2));
  Checkpointable what{{{"model", linear.get()}}, {{"optimizer", &optimizer}}, {}};
  EXPECT_FALSE(newest_checkpoint(out).has_value());
  save_checkpoint(out, 4, what, {{"epoch", 0}}, 3);
  const std::string latest_then = read_file(out + "/checkpoints/latest");
  {
    torch::NoGradGuard no_grad;
    linear->weight.fill_(0.25);
  }
  save_checkpoint(out, 8, what, {{"epoch", 1}}, 3);
  write_file_atomic(out + "/checkpoints/latest", latest_then);  // as if killed before `latest` was replaced
  make_dirs(out + "/checkpoints/.tmp-step-12");                  // and a later one half written
  {
    torch::NoGradGuard no_grad;
    linear->weight.zero_();
  }
  auto state = load_latest_checkpoint(out, what, {"epoch"});
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ((*state)["step"].get<int64_t>(), 8);
  EXPECT_EQ((*state)["epoch"].get<int64_t>(), 1);
  EXPECT_TRUE(torch::equal(linear->weight, torch::full({2, 3}, 0.25)));
  EXPECT_EQ(*newest_checkpoint(out), out + "/checkpoints/step-8");
  remove_tree(out);
}

// A sampling generator's saved state that is not this generator's kind (a run checkpointed on a GPU resumed on the
// CPU: 16 bytes of CUDA state against the CPU's 5,056) names the file and the reason, not c10's size check.
TEST(Checkpoint, AGeneratorStateOfAnotherDeviceKindIsAClearError) {
  const std::string out = "/tmp/rlhf_test_checkpoint_generator_" + std::to_string(::getpid());
  torch::nn::Linear linear(3, 2);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(7);
  Checkpointable what{{{"model", linear.get()}}, {}, {{"sampling", &generator}}};
  save_checkpoint(out, 3, what, {{"epoch", 0}}, 1);
  ASSERT_TRUE(load_latest_checkpoint(out, what, {"epoch"}).has_value());  // its own state resumes
  const std::string optimizers = out + "/checkpoints/step-3/optimizers.safetensors";
  const std::vector<uint8_t> cuda_like(16, 1);
  write_safetensors(optimizers, {{"generator/sampling", DType::U8, {16}, cuda_like.data(), cuda_like.size()}});
  EXPECT_EQ(error_of([&] { load_latest_checkpoint(out, what, {"epoch"}); }),
            out + "/checkpoints/step-3/optimizers.safetensors: expected the state of a cpu random generator under "
                  "generator/sampling (a run resumes on the kind of device it was checkpointed on), found 16 bytes");
  remove_tree(out);
}

// A checkpoint tensor relabelled in its header (the byte count still right, so the safetensors reader accepts it) was
// read as int64 whatever its dtype: 2-4 times its bytes, past the end of the file (issue 29). Each is now an error
// naming the file and the tensor, and so is a shape other than the parameter's (copy_ broadcast a [1] into it).
TEST(Checkpoint, ATensorOfAnotherDtypeOrShapeIsAClearError) {
  const std::string out = "/tmp/rlhf_test_checkpoint_relabelled_" + std::to_string(::getpid());
  torch::manual_seed(0);
  torch::nn::Linear linear(3, 2);  // weight [2, 3], bias [2]
  torch::optim::AdamW optimizer(linear->parameters(), torch::optim::AdamWOptions(1e-2));
  linear(torch::ones({1, 3})).sum().backward();
  optimizer.step();
  Checkpointable what{{{"model", linear.get()}}, {{"optimizer", &optimizer}}, {}};
  save_checkpoint(out, 1, what, {{"epoch", 0}}, 1);
  ASSERT_TRUE(load_latest_checkpoint(out, what, {"epoch"}).has_value());
  const std::string modules = out + "/checkpoints/step-1/modules.safetensors";
  const std::string optimizers = out + "/checkpoints/step-1/optimizers.safetensors";
  const std::vector<float> bias(2, 0.5f);
  const std::vector<float> weight(6, 0.25f);  // 24 bytes: 6 F32, 12 F16, 6 I32
  auto relabelled = [&](const std::string& path, const std::string& name, DType dtype, std::vector<int64_t> shape) {
    const SafetensorsFile original(path);
    std::vector<TensorBytes> tensors;
    std::vector<std::vector<unsigned char>> bytes;
    for (const auto& info : original.tensors()) {
      bytes.emplace_back(original.data(info), original.data(info) + (info.end - info.begin));
      tensors.push_back({info.name, info.dtype, info.shape, nullptr, bytes.back().size()});
      if (info.name == name) tensors.back().dtype = dtype, tensors.back().shape = shape;
    }
    for (size_t i = 0; i < tensors.size(); ++i) tensors[i].data = bytes[i].data();
    const std::string saved = read_file(path);
    write_safetensors(path, tensors);
    const std::string message = error_of([&] { load_latest_checkpoint(out, what, {"epoch"}); });
    write_file_atomic(path, saved);
    return message;
  };
  EXPECT_EQ(relabelled(modules, "model/weight", DType::I32, {2, 3}),
            modules + " tensor 'model/weight': expected dtype F32 (as checkpoints are written), found I32");
  EXPECT_EQ(relabelled(modules, "model/weight", DType::F16, {4, 3}),
            modules + " tensor 'model/weight': expected dtype F32 (as checkpoints are written), found F16");
  EXPECT_EQ(relabelled(optimizers, "optimizer/0/exp_avg", DType::I32, {2, 3}),
            optimizers + " tensor 'optimizer/0/exp_avg': expected dtype F32 (as checkpoints are written), found I32");
  EXPECT_EQ(relabelled(modules, "model/weight", DType::F32, {3, 2}),
            modules + " tensor 'model/weight': expected shape [2, 3] (the model's), found [3, 2]");
  EXPECT_EQ(relabelled(modules, "model/bias", DType::I16, {4}),
            modules + " tensor 'model/bias': expected dtype F32 (as checkpoints are written), found I16");
  EXPECT_TRUE(load_latest_checkpoint(out, what, {"epoch"}).has_value());  // restored: it loads again
  remove_tree(out);
}

// A state.json nested 200,000 levels deep crashed in the message that printed it (nlohmann's dump() recursion).
TEST(Checkpoint, ADeeplyNestedStateJsonIsRefused) {
  const std::string out = "/tmp/rlhf_test_checkpoint_deep_" + std::to_string(::getpid());
  torch::nn::Linear linear(3, 2);
  Checkpointable what{{{"model", linear.get()}}, {}, {}};
  save_checkpoint(out, 1, what, {{"epoch", 0}}, 1);
  const std::string path = out + "/checkpoints/step-1/state.json";
  write_file_atomic(path, R"({"step": 1, "epoch": )" + std::string(200000, '[') + std::string(200000, ']') + "}");
  EXPECT_EQ(error_of([&] { load_latest_checkpoint(out, what, {"epoch"}); }),
            path + ": expected JSON nested at most 256 levels deep, found nesting deeper than 256 at column 277");
  remove_tree(out);
}

// Hand-edited counters resumed silently: a step of 10.5 at 10, and 1e30, -5 or optimizer steps of -1 or 0 made the
// learning rate or AdamW's bias correction non-finite, and the non-finite guard then blamed the learning rate (issue 29).
TEST(Checkpoint, StateJsonCountersAreWholeNonNegativeAndConsistent) {
  const std::string out = "/tmp/rlhf_test_checkpoint_counters_" + std::to_string(::getpid());
  torch::manual_seed(0);
  torch::nn::Linear linear(3, 2);
  torch::optim::AdamW optimizer(linear->parameters(), torch::optim::AdamWOptions(1e-2));
  linear(torch::ones({1, 3})).sum().backward();
  optimizer.step();
  Checkpointable what{{{"model", linear.get()}}, {{"optimizer", &optimizer}}, {}};
  save_checkpoint(out, 2, what, {{"epoch", 0}, {"micro_batch", 1}, {"window_loss", 0.5}}, 1);
  const std::string path = out + "/checkpoints/step-2/state.json";
  const nlohmann::json good = nlohmann::json::parse(read_file(path));
  auto edited = [&](const std::string& text) {
    write_file_atomic(path, text);
    return error_of([&] { load_latest_checkpoint(out, what, {"epoch", "micro_batch"}); });
  };
  auto with = [&](const std::string& key, const std::string& value) {
    nlohmann::json j = good;
    j.erase(key);
    return edited(j.dump().substr(0, j.dump().size() - 1) + ",\"" + key + "\":" + value + "}");
  };
  const std::string whole = ": expected a whole number from 0 to 2^53 under ";
  EXPECT_EQ(with("step", "10.5"), path + whole + "\"step\", found 10.5");
  EXPECT_EQ(with("step", "1e30"), path + whole + "\"step\", found 1e+30");
  EXPECT_EQ(with("step", "-5"), path + whole + "\"step\", found -5");
  EXPECT_EQ(with("epoch", "-1"), path + whole + "\"epoch\", found -1");
  EXPECT_EQ(with("micro_batch", "0.5"), path + whole + "\"micro_batch\", found 0.5");
  EXPECT_EQ(with("optimizer_steps", R"({"optimizer/0": -1, "optimizer/1": 1})"),
            path + ": expected optimizer_steps from 1 to 2^53, found optimizer/0: -1");
  EXPECT_EQ(with("optimizer_steps", R"({"optimizer/0": 0, "optimizer/1": 1})"),
            path + ": expected optimizer_steps from 1 to 2^53, found optimizer/0: 0");
  EXPECT_EQ(with("optimizer_steps", R"({"optimizer/0": 1, "optimizer/7": 1})"),
            path + ": expected optimizer_steps only for the run's 2 optimized parameters, found \"optimizer/7\"");
  EXPECT_EQ(with("step", "2.0"), "");  // a whole number written as a float is one
  remove_tree(out);
}

// A NaN weight or a negative second moment in a checkpoint made every step after the resume non-finite.
TEST(Checkpoint, NonFiniteWeightsAndNegativeSecondMomentsAreRefused) {
  const std::string out = "/tmp/rlhf_test_checkpoint_moments_" + std::to_string(::getpid());
  torch::manual_seed(0);
  torch::nn::Linear linear(3, 2);
  torch::optim::AdamW optimizer(linear->parameters(), torch::optim::AdamWOptions(1e-2));
  linear(torch::ones({1, 3})).sum().backward();
  optimizer.step();
  Checkpointable what{{{"model", linear.get()}}, {{"optimizer", &optimizer}}, {}};
  save_checkpoint(out, 1, what, {{"epoch", 0}}, 1);
  const std::string modules = out + "/checkpoints/step-1/modules.safetensors";
  const std::string optimizers = out + "/checkpoints/step-1/optimizers.safetensors";
  auto with_value = [&](const std::string& path, const std::string& name, float value) {
    const SafetensorsFile original(path);
    std::vector<TensorBytes> tensors;
    std::vector<std::vector<float>> values;
    for (const auto& info : original.tensors()) {
      const float* data = reinterpret_cast<const float*>(original.data(info));
      values.emplace_back(data, data + info.numel());
      if (info.name == name) values.back()[0] = value;
      tensors.push_back({info.name, info.dtype, info.shape, nullptr, values.back().size() * sizeof(float)});
    }
    for (size_t i = 0; i < tensors.size(); ++i) tensors[i].data = values[i].data();
    const std::string saved = read_file(path);
    write_safetensors(path, tensors);
    const std::string message = error_of([&] { load_latest_checkpoint(out, what, {"epoch"}); });
    write_file_atomic(path, saved);
    return message;
  };
  EXPECT_EQ(with_value(modules, "model/weight", std::numeric_limits<float>::quiet_NaN()),
            modules + " tensor 'model/weight': expected finite values, found NaN or inf");
  EXPECT_EQ(with_value(optimizers, "optimizer/0/exp_avg", std::numeric_limits<float>::infinity()),
            optimizers + " tensor 'optimizer/0/exp_avg': expected finite values, found NaN or inf");
  EXPECT_EQ(with_value(optimizers, "optimizer/1/exp_avg_sq", -1e-3f),
            optimizers + " tensor 'optimizer/1/exp_avg_sq': expected a second moment of 0 or more (a mean of squared "
                         "gradients), found negative values");
  EXPECT_EQ(with_value(optimizers, "optimizer/1/exp_avg", -1e-3f), "");  // a first moment may be negative
  remove_tree(out);
}

// The guard of non-finite steps names the newest checkpoint written before the last finite step (the one at that step
// holds the weights the streak ran on, so a resume from it repeats the streak), sets the later ones aside so that a
// resume takes the good one, and the rotation never removes the good one.
TEST(Checkpoint, TheNonFiniteGuardNamesAndKeepsTheLastGoodCheckpoint) {
  const std::string out = "/tmp/rlhf_test_checkpoint_guard_" + std::to_string(::getpid());
  torch::nn::Linear linear(3, 2);
  Checkpointable what{{{"model", linear.get()}}, {}, {}};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  BadStepGuard guard(2, true);
  for (int64_t step = 1; step <= 3; ++step) {
    EXPECT_TRUE(guard.check(1.0, 1.0, step, out));
    // As StepLoop saves: at most one checkpoint kept, and the newest before the last finite step.
    const auto good = newest_checkpoint(out, guard.last_finite_step());
    save_checkpoint(out, step, what, {{"epoch", 0}}, 1, good ? std::stoll(good->substr(good->rfind('-') + 1)) : -1);
  }
  EXPECT_TRUE(file_exists(out + "/checkpoints/step-2"));  // kept beside step-3 until a step after step-3 is finite
  EXPECT_FALSE(file_exists(out + "/checkpoints/step-1"));
  EXPECT_FALSE(guard.check(nan, 1.0, 4, out));
  EXPECT_TRUE(guard.in_streak());
  EXPECT_EQ(error_of([&] { guard.check(1.0, nan, 5, out); }),
            "training stopped at step 5: 2 steps in a row with a non-finite loss or gradient norm since step 4 (last "
            "loss 1.000000, gradient norm nan); the last good checkpoint is " + out + "/checkpoints/step-2 "
            "(--resume_from_checkpoint true continues from it; lower --learning_rate first); set aside " + out +
            "/checkpoints/step-3.non-finite (the weights the non-finite steps ran on)");
  EXPECT_EQ(*newest_checkpoint(out), out + "/checkpoints/step-2");  // what a resume takes
  EXPECT_EQ(read_file(out + "/checkpoints/latest"), "step-2\n");
  remove_tree(out);

  BadStepGuard first(1, true);  // a streak from the first step: nothing good to name
  EXPECT_EQ(error_of([&] { first.check(nan, nan, 1, out); }),
            "training stopped at step 1: 1 steps in a row with a non-finite loss or gradient norm since step 1 (last "
            "loss nan, gradient norm nan); no checkpoint holds weights that trained a finite step; start again with a "
            "lower --learning_rate");
}

// A checkpoint folder is also a model directory (config.json + model.safetensors in HF's layout) that load_model opens
// with the trained weights, and --resume_from_checkpoint PATH takes such a folder, refusing anything else by name.
TEST(Checkpoint, AFolderIsAModelDirectoryAndResumesByPath) {
  const std::string out = "/tmp/rlhf_test_checkpoint_model_dir_" + std::to_string(::getpid());
  torch::manual_seed(0);
  Transformer model(tiny_config("llama", 97, 32, 2, 4, 2, 64));
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-2));
  for (auto& p : model->parameters()) p.mutable_grad() = torch::ones_like(p);
  optimizer.step();  // moments to save
  Checkpointable what{{{"model", model.get()}}, {{"optimizer", &optimizer}}, {}, {{"", model.get(), "", {}}}};
  save_checkpoint(out, 3, what, {{"epoch", 0}}, 2);
  const std::string folder = out + "/checkpoints/step-3";
  ASSERT_TRUE(file_exists(folder + "/config.json"));
  ASSERT_TRUE(file_exists(folder + "/model.safetensors"));
  Transformer reloaded = load_model(folder);
  auto trained = model->named_parameters();
  for (const auto& p : reloaded->named_parameters()) EXPECT_TRUE(torch::equal(p.value(), trained[p.key()])) << p.key();

  Transformer fresh(tiny_config("llama", 97, 32, 2, 4, 2, 64));
  torch::optim::AdamW fresh_optimizer(fresh->parameters(), torch::optim::AdamWOptions(1e-2));
  Checkpointable into{{{"model", fresh.get()}}, {{"optimizer", &fresh_optimizer}}, {}};
  EXPECT_EQ(load_checkpoint(folder, into, {"epoch"})["step"].get<int64_t>(), 3);
  for (const auto& p : fresh->named_parameters()) EXPECT_TRUE(torch::equal(p.value(), trained[p.key()])) << p.key();

  const std::string expected = ": expected a checkpoint folder (OUTPUT/checkpoints/step-N: state.json, "
                               "modules.safetensors, optimizers.safetensors), found ";
  EXPECT_EQ(error_of([&] { load_checkpoint(out + "/missing", into); }),
            "--resume_from_checkpoint " + out + "/missing" + expected + "no such folder");
  EXPECT_EQ(error_of([&] { check_checkpoint_folder(out); }),
            "--resume_from_checkpoint " + out + expected +
                "a folder without state.json, modules.safetensors, optimizers.safetensors (it holds checkpoints: pass "
                "one of them, e.g. " + folder + ")");
  save_model(*model, out + "/model");
  EXPECT_EQ(error_of([&] { check_checkpoint_folder(out + "/model"); }),
            "--resume_from_checkpoint " + out + "/model" + expected +
                "a folder without state.json, modules.safetensors, optimizers.safetensors");
  remove_tree(out);
}

TEST(Generation, SamplingFromANaNWeightIsAnError) {
  torch::manual_seed(0);
  Transformer model(tiny_config("llama", 97, 32, 1, 4, 2, 64));
  model->eval();
  {
    torch::NoGradGuard no_grad;
    model->named_parameters()[0].value().fill_(std::numeric_limits<float>::quiet_NaN());
  }
  GenerationOptions o;
  o.max_new_tokens = 4;
  auto ids = torch::tensor({{5, 6, 7}}, torch::kLong), mask = torch::ones({1, 3}, torch::kLong);
  EXPECT_EQ(error_of([&] { generate(*model, ids, mask, o, at::make_generator<at::CPUGeneratorImpl>(1)); }),
            "sampling: expected finite next-token probabilities, found NaN or inf at new token 0 (the model's weights "
            "are not finite, or have diverged)");
}

}  // namespace
}  // namespace rlhf
