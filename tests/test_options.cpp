// The table of training options (fcnet/train_options.hpp): every option survives the
// checkpoint's JSON, a resume takes exactly the options the command line did not give, every flag
// the table names is an option of `fcnet train` and reaches the run's configuration, and the
// checks name the option.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "fcnet/checkpoint.hpp"
#include "fcnet/train_options.hpp"
#include "test_util.hpp"

using namespace fcnet;

namespace {

// A configuration in which every option differs from its default.
TrainConfig unusual_config() {
  TrainConfig c;
  c.hidden = {7, 3};
  c.activation = {Activation::leaky_relu, 0.2};
  c.init = Init::normal;
  c.init_std = 0.03;
  c.optimizer.kind = OptimizerKind::rmsprop;
  c.optimizer.momentum = 0.8;
  c.optimizer.beta1 = 0.85;
  c.optimizer.beta2 = 0.98;
  c.optimizer.eps = 1e-7;
  c.optimizer.alpha = 0.9;
  c.optimizer.weight_decay = 0.02;
  c.schedule.kind = ScheduleKind::plateau;
  c.schedule.lr = 0.3;
  c.schedule.decay = 0.7;
  c.schedule.step_epochs = 4;
  c.schedule.min_lr = 1e-5;
  c.warmup_epochs = 0.5;
  c.reg = 1e-3;
  c.dropout = 0.25;
  c.class_weights = {1.5, 0.5};
  c.batch = 33;
  c.epochs = 9;
  c.max_steps = 77;
  c.val_split = 0.15;
  c.patience = 3;
  c.monitor = Monitor::val_balanced_accuracy;
  c.min_delta = 0.01;
  c.plateau_patience = 2;
  c.normalize = Normalize::scale;
  c.seed = 12345678901234ULL;
  c.device = Device::cuda;
  c.precision = Precision::bf16;
  return c;
}

TEST(Options, EveryOptionSurvivesTheCheckpointJson) {
  const TrainConfig c = unusual_config();
  const std::string text = train_config_to_json(c);
  const TrainConfig back = train_config_from_json(text, "test");
  EXPECT_EQ(train_config_to_json(back), text);
  // Each option's own value, compared through the table: none of them is left at its default.
  const TrainConfig d;
  for (const TrainOption& o : train_options()) {
    EXPECT_EQ(o.write(back), o.write(c)) << o.key;
    if (std::string(o.key) != "f64") {  // f64 and a device precision exclude each other
      EXPECT_NE(o.write(back), o.write(d)) << o.key << " is at its default in the test config";
    }
  }
}

TEST(Options, AResumeTakesTheOptionsTheCommandLineLeftOut) {
  const TrainConfig saved = unusual_config();
  TrainConfig cfg;  // the command line's: defaults, with --batch and --lr given
  cfg.batch = 64;
  cfg.schedule.lr = 0.01;
  merge_resumed_options(
      cfg, saved, [](const std::string& flag) { return flag == "--batch" || flag == "--lr"; });
  EXPECT_EQ(cfg.batch, 64);
  EXPECT_DOUBLE_EQ(cfg.schedule.lr, 0.01);
  EXPECT_EQ(cfg.hidden, saved.hidden);
  EXPECT_EQ(cfg.monitor, saved.monitor);
  EXPECT_DOUBLE_EQ(cfg.min_delta, saved.min_delta);
  EXPECT_DOUBLE_EQ(cfg.optimizer.beta2, saved.optimizer.beta2);  // no flag: always the saved
  EXPECT_EQ(cfg.device, Device::cuda);
  EXPECT_EQ(cfg.precision, Precision::bf16);
  // Everything not given equals the checkpoint's.
  TrainConfig expect = saved;
  expect.batch = 64;
  expect.schedule.lr = 0.01;
  EXPECT_EQ(train_config_to_json(cfg), train_config_to_json(expect));
}

TEST(Options, EveryFlagOfTheTableIsAnOptionOfTrain) {
  const test::CmdResult r = test::run_cli("train --help", test::temp_dir("options_help"));
  ASSERT_EQ(r.code, 0) << r.err;
  std::set<std::string> flags;
  for (const TrainOption& o : train_options())
    if (o.flag[0] != '\0') flags.insert(o.flag);
  EXPECT_GE(flags.size(), 25u);
  for (const std::string& f : flags)
    EXPECT_NE(r.out.find("  " + f + " "), std::string::npos) << f << " is not in train --help";
}

TEST(Options, AMistypedFieldIsNamed) {
  std::string text = train_config_to_json(unusual_config());
  const std::string from = "\"momentum\":0.8";
  const auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, from.size(), "\"momentum\":\"high\"");
  try {
    train_config_from_json(text, "c.json");
    ADD_FAILURE() << "accepted a string momentum";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("config.optimizer.momentum"), std::string::npos)
        << e.what();
  }
}

// A JSON value as the command line writes it: lists comma-separated, names bare.
std::string as_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_array()) return v.dump();
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x.dump();
  return s;
}

TEST(Options, EveryFlagReachesTheRunsConfiguration) {
  // Every flagged option at its unusual value (the device's and precisions aside: this runs on
  // the CPU in f32), and the model's training metadata must hold exactly those values.
  TrainConfig want = unusual_config();
  want.device = Device::cpu;
  want.precision = Precision::fp32;
  const auto dir = test::temp_dir("options_flags");
  {
    std::ofstream csv(dir / "t.csv");
    csv << "a,b,label\n";
    for (int i = 0; i < 60; ++i)
      csv << i % 7 << "," << (i * 3) % 5 << "," << (i % 3 ? "x" : "y") << "\n";
  }
  std::string args = "train --data " + (dir / "t.csv").string() + " --quiet --out " +
                     (dir / "m.safetensors").string() + " --class-weight x=1.5,y=0.5";
  std::set<std::string> given;
  for (const TrainOption& o : train_options()) {
    if (!o.flag[0] || !o.help[0] || std::string(o.flag) == "--class-weight") continue;
    args += std::string(" ") + o.flag + " " + as_text(o.write(want));
    given.insert(o.key);
  }
  const test::CmdResult r = test::run_cli(args, dir);
  ASSERT_EQ(r.code, 0) << args << "\n" << r.err;
  const test::CmdResult info =
      test::run_cli("info --json --model " + (dir / "m.safetensors").string(), dir);
  ASSERT_EQ(info.code, 0) << info.err;
  const nlohmann::json meta = nlohmann::json::parse(info.out).at("training");
  const TrainConfig defaults;
  EXPECT_GE(given.size(), 25u);
  for (const TrainOption& o : train_options()) {
    if (!o.keyword[0] || std::string(o.key) == "precision" || std::string(o.key) == "device")
      continue;
    ASSERT_TRUE(meta.contains(o.keyword)) << o.keyword;
    const bool flagged = given.count(o.key) || std::string(o.key) == "class_weights";
    EXPECT_EQ(meta.at(o.keyword), o.write(flagged ? want : defaults)) << o.keyword;
  }
  EXPECT_EQ(meta.at("precision"), "f32");
}

TEST(Options, ChecksNameTheOptionAndWhatIsExpected) {
  TrainConfig c;
  c.schedule.lr = -1;
  try {
    check_config(c);
    ADD_FAILURE() << "accepted lr -1";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--lr: is -1, expected a positive learning rate");
    EXPECT_EQ(in_keywords(e.what()), "lr: is -1, expected a positive learning rate");
  }
  c = TrainConfig{};
  c.optimizer.beta2 = 1;  // no flag: named by its keyword
  EXPECT_THROW(
      {
        try {
          check_config(c);
        } catch (const Error& e) {
          EXPECT_STREQ(e.what(), "beta2: is 1, expected a decay rate in [0, 1)");
          throw;
        }
      },
      Error);
  c = TrainConfig{};
  c.class_weights = {0, 0};  // no example would count
  EXPECT_THROW(check_config(c), Error);
  c.class_weights = {0, 1};
  EXPECT_NO_THROW(check_config(c));
  // The command line's text: a value of the wrong type names the flag.
  const TrainOption* batch = option_by_flag("--batch");
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ(option_value_of_text(*batch, "64"), nlohmann::json(64));
  EXPECT_THROW(option_value_of_text(*batch, "6.5"), Error);
  const TrainOption* hidden = option_by_flag("--hidden");
  ASSERT_NE(hidden, nullptr);
  EXPECT_EQ(option_value_of_text(*hidden, "7,3"), nlohmann::json({7, 3}));
  EXPECT_EQ(option_value_of_text(*hidden, "none"), nlohmann::json::array());
  TrainConfig d;
  EXPECT_THROW(set_option(*hidden, d, nlohmann::json({7, 0}), "--hidden"), Error);
  EXPECT_THROW(set_option(*batch, d, nlohmann::json("64"), "--batch"), Error);
}

}  // namespace
