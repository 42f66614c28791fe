// The training report from the command line: `fcnet train --report` on images the test writes as
// IDX files, and `fcnet report` on a CSV data set. The numbers on the page are checked against
// what `fcnet train --json`, `fcnet eval --json` and `fcnet info --json` report independently, and
// the report data of a PyTorch fixture network against its softmax probabilities.
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fcnet/random.hpp"
#include "fcnet/training_report.hpp"
#include "test_util.hpp"

using namespace fcnet;
using namespace fcnet::test;
using json = nlohmann::json;

namespace {

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) ++n;
  return n;
}

bool has(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

void put_be32(std::ofstream& f, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  f.write(b, 4);
}

// n 28x28 uint8 images of three classes (a horizontal bar, a vertical bar, a diagonal, each at a
// random place, with noise) as IDX image and label files.
void write_idx_images(const std::filesystem::path& images, const std::filesystem::path& labels,
                      int n, uint64_t seed) {
  Rng rng(seed);
  std::ofstream fi(images, std::ios::binary), fl(labels, std::ios::binary);
  put_be32(fi, 0x00000803);
  put_be32(fi, static_cast<uint32_t>(n));
  put_be32(fi, 28);
  put_be32(fi, 28);
  put_be32(fl, 0x00000801);
  put_be32(fl, static_cast<uint32_t>(n));
  for (int k = 0; k < n; ++k) {
    const int cls = k % 3;
    const int at = 4 + static_cast<int>(rng.below(20));
    std::vector<uint8_t> px(28 * 28);
    for (int r = 0; r < 28; ++r)
      for (int c = 0; c < 28; ++c) {
        const bool on = cls == 0   ? std::abs(r - at) <= 1
                        : cls == 1 ? std::abs(c - at) <= 1
                                   : std::abs(r - c - (at - 14) / 2) <= 1;
        const double v = (on ? 200.0 : 20.0) + 60.0 * rng.normal();
        px[static_cast<std::size_t>(r * 28 + c)] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
      }
    fi.write(reinterpret_cast<const char*>(px.data()), static_cast<std::streamsize>(px.size()));
    fl.put(static_cast<char>(cls));
  }
}

// A CSV of n rows: 5 features around one of three class centres, labels as names.
void write_csv(const std::filesystem::path& p, int n, uint64_t seed) {
  static const char* names[] = {"circle", "square", "triangle"};
  static const double centre[3][5] = {{1, 0, 0, 1, 0}, {0, 1, 0, 0, 1}, {0, 0, 1, 1, 1}};
  Rng rng(seed);
  std::ofstream f(p);
  f << "a,b,c,d,e,label\n";
  for (int k = 0; k < n; ++k) {
    const int cls = static_cast<int>(rng.below(3));
    for (int j = 0; j < 5; ++j) f << centre[cls][j] + 0.6 * rng.normal() << ",";
    f << names[cls] << "\n";
  }
}

// The integer in <td class="num">N</td> after the element with id="<id>".
int64_t cell_after(const std::string& html, const std::string& id, int which) {
  auto at = html.find("id=\"" + id + "\"");
  if (at == std::string::npos) return -1;
  for (int k = 0; k <= which; ++k) {
    at = html.find("<td class=\"num", at + 1);
    if (at == std::string::npos) return -1;
  }
  at = html.find('>', at) + 1;
  return std::stoll(html.substr(at, html.find('<', at) - at));
}

std::string percent1(double fraction) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f%%", 100.0 * fraction);
  return b;
}

// fcnet eval --json of `model` on `data`.
json eval_json(const std::filesystem::path& model, const std::filesystem::path& data,
               const std::filesystem::path& dir) {
  auto r = run_cli("eval --json --model " + model.string() + " --data " + data.string(), dir);
  EXPECT_EQ(r.code, 0) << r.err;
  return r.code == 0 ? json::parse(r.out) : json();
}

// The CSV case both train-and-report tests use: train.csv (400 rows) and test.csv (150 rows, 3
// classes) written into `dir`, and `fcnet train` on them into dir/m.safetensors with `options`.
CmdResult train_on_csv(const std::filesystem::path& dir, const std::string& options) {
  write_csv(dir / "train.csv", 400, 5);
  write_csv(dir / "test.csv", 150, 6);
  return run_cli("train --data " + (dir / "train.csv").string() + " --test-data " +
                     (dir / "test.csv").string() +
                     " --hidden 8 --epochs 4 --batch 40 --threads 1 --out " +
                     (dir / "m.safetensors").string() + " " + options,
                 dir);
}

// Rows of the misclassified-examples table (examples that are not images).
std::size_t misclassified_rows(const std::string& html) {
  const auto mis = html.substr(html.find("id=\"misclassified\""));
  return count(mis.substr(0, mis.find("</section>")), "<tr><td class=\"num\">");
}

const char* kSections[] = {"id=\"summary\"",          "id=\"curves\"",
                           "id=\"chart-loss\"",       "id=\"chart-accuracy\"",
                           "id=\"chart-lr\"",         "id=\"confusion\"",
                           "id=\"per-class\"",        "id=\"chart-weight-norms\"",
                           "id=\"chart-grad-norms\"", "id=\"first-layer\"",
                           "id=\"misclassified\"",    "id=\"epoch-table\""};

}  // namespace

TEST(ReportCli, TrainWritesReportOnIdxImagesWithValidationSplit) {
  auto dir = temp_dir("report-train-idx");
  write_idx_images(dir / "images.idx", dir / "labels.idx", 300, 11);
  const auto page = dir / "report.html", model = dir / "model.safetensors";
  auto r = run_cli(
      "train --data " + (dir / "images.idx").string() + " --labels " +
          (dir / "labels.idx").string() +
          " --val-split 0.2 --hidden 16 --epochs 3 --batch 32 --lr 0.003 --seed 1 --threads 1" +
          " --out " + model.string() + " --report " + page.string() + " --json",
      dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const json tj = json::parse(r.out);
  EXPECT_EQ(tj["report"].get<std::string>(), page.string());
  const std::string html = read_file(page.string());
  for (const char* s : kSections) EXPECT_TRUE(has(html, s)) << s;

  // The report's own evaluation of the held-out split: 20% of 300 examples, at the accuracy the
  // trainer measured for the epoch whose weights the model keeps.
  const double val_acc = tj["val_accuracy"].get<double>();
  EXPECT_EQ(tj["val_examples"].get<int64_t>(), 60);
  EXPECT_TRUE(has(html, "(validation split)"));
  EXPECT_EQ(cell_after(html, "overall-accuracy", 0), 60);
  EXPECT_TRUE(has(html, "colspan=\"3\">" + percent1(val_acc) + " <span"))
      << "expected " << percent1(val_acc);
  const auto wrong = static_cast<std::size_t>(std::llround((1.0 - val_acc) * 60));
  EXPECT_EQ(count(html, "<figure class=\"example\""), std::min<std::size_t>(wrong, 48));
  // 28x28 images: every first-layer unit drawn, and the class supports add up to 60.
  EXPECT_EQ(count(html, "class=\"unit pix\""), 16u);
  int64_t support = 0;
  for (int k = 0; k < 3; ++k) support += cell_after(html, "class-row-" + std::to_string(k), 0);
  EXPECT_EQ(support, 60);
  EXPECT_TRUE(has(html, "784 features (28\u00d728 images), 3 classes"));
  EXPECT_TRUE(has(html, "240 training examples, 60 held out for validation"));
  // One epoch-table row per epoch, with the losses `train --json` printed.
  const auto table = html.substr(html.find("id=\"epoch-table\""));
  EXPECT_EQ(count(table, "<tr><td class=\"num\">"), 3u);

  // The model keeps the history, so `fcnet report` can redraw the curves later.
  r = run_cli("info --json --model " + model.string(), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const json hist = json::parse(r.out)["training"]["history"];
  ASSERT_EQ(hist.size(), 3u);
  for (int e = 0; e < 3; ++e) {
    EXPECT_EQ(hist[e]["epoch"].get<int>(), e + 1);
    EXPECT_NEAR(hist[e]["train_loss"].get<double>(), tj["epochs"][e]["train_loss"].get<double>(),
                1e-6 * tj["epochs"][e]["train_loss"].get<double>());
    EXPECT_NEAR(hist[e]["val_accuracy"].get<double>(),
                tj["epochs"][e]["val_accuracy"].get<double>(), 1e-6);
    EXPECT_EQ(hist[e]["weight_norms"].size(), 2u);
    EXPECT_EQ(hist[e]["grad_norms"].size(), 2u);
    EXPECT_GT(hist[e]["weight_norms"][0].get<double>(), 0.0);
  }
}

// train --report with test data: the report shows the trainer's one test evaluation (passed in,
// not redone), which must be what fcnet eval measures on the saved model.
TEST(ReportCli, TrainReportOnTestDataMatchesEval) {
  auto dir = temp_dir("report-train-test");
  const auto model = dir / "m.safetensors", page = dir / "r.html";
  auto r = train_on_csv(dir, "--json --report " + page.string());
  ASSERT_EQ(r.code, 0) << r.err;
  const json tj = json::parse(r.out);
  const json ej = eval_json(model, dir / "test.csv", dir);
  const double acc = ej["accuracy"].get<double>();
  EXPECT_DOUBLE_EQ(tj["test_accuracy"].get<double>(), acc);
  const std::string html = read_file(page.string());
  EXPECT_TRUE(has(html, "(test split)"));
  EXPECT_EQ(cell_after(html, "overall-accuracy", 0), 150);
  EXPECT_TRUE(has(html, "colspan=\"3\">" + percent1(acc) + " <span")) << percent1(acc);
  for (int k = 0; k < 3; ++k)
    EXPECT_EQ(cell_after(html, "class-row-" + std::to_string(k), 0),
              ej["per_class"][k]["support"].get<int64_t>())
        << k;
  const auto errors = static_cast<std::size_t>(std::llround((1.0 - acc) * 150));
  EXPECT_EQ(misclassified_rows(html), std::min<std::size_t>(errors, 48));
}

TEST(ReportCli, ReportOnCsvMatchesEval) {
  auto dir = temp_dir("report-csv");
  const auto model = dir / "m.safetensors", page = dir / "r.html";
  auto r = train_on_csv(dir, "-q");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_cli("report --model " + model.string() + " --data " + (dir / "test.csv").string() +
                  " --out " + page.string() + " --json --threads 1",
              dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const json rj = json::parse(r.out);
  const json ej = eval_json(model, dir / "test.csv", dir);
  EXPECT_EQ(rj["examples"].get<int64_t>(), 150);
  EXPECT_DOUBLE_EQ(rj["accuracy"].get<double>(), ej["accuracy"].get<double>());
  EXPECT_EQ(rj["split"].get<std::string>(), "test");
  EXPECT_EQ(rj["epochs"].get<int>(), 4);

  const std::string html = read_file(page.string());
  for (const char* s : kSections) EXPECT_TRUE(has(html, s)) << s;
  EXPECT_TRUE(has(html, "(test split)"));
  // Per-class rows: names and supports as eval counts them.
  for (int k = 0; k < 3; ++k) {
    const auto& pc = ej["per_class"][k];
    const std::string row = "id=\"class-row-" + std::to_string(k) + "\"><td>";
    EXPECT_TRUE(has(html, row + pc["class"].get<std::string>() + "</td>")) << k;
    EXPECT_EQ(cell_after(html, "class-row-" + std::to_string(k), 0), pc["support"].get<int64_t>());
  }
  // Not images: the misclassified examples are a table with one row per error, the first
  // layer is not drawn.
  const auto errors =
      static_cast<std::size_t>(std::llround((1.0 - ej["accuracy"].get<double>()) * 150));
  EXPECT_TRUE(has(html, "id=\"misclassified-table\"") || errors == 0);
  EXPECT_EQ(misclassified_rows(html), std::min<std::size_t>(errors, 48));
  EXPECT_TRUE(has(html, "not drawn"));
  EXPECT_FALSE(has(html, "class=\"unit pix\""));
  // Curves from the stored history: 4 rows in the epoch table.
  const auto table = html.substr(html.find("id=\"epoch-table\""));
  EXPECT_EQ(count(table, "<tr><td class=\"num\">"), 4u);
  EXPECT_TRUE(has(html, "Model file"));
}

TEST(ReportCli, ImageShapeOptionDrawsCsvRowsAsImages) {
  auto dir = temp_dir("report-shape");
  // 4 features drawn as 2x2 images.
  {
    Rng rng(3);
    std::ofstream f(dir / "d.csv");
    for (int k = 0; k < 120; ++k) {
      const int cls = k % 2;
      f << cls;
      for (int j = 0; j < 4; ++j) f << "," << (j % 2 == cls ? 1.0 : 0.0) + 0.8 * rng.normal();
      f << "\n";
    }
  }
  const auto model = dir / "m.safetensors", page = dir / "r.html";
  auto r = run_cli("train --data " + (dir / "d.csv").string() +
                       " --hidden 5 --epochs 2 --threads 1 -q --image-shape 2,2 --report " +
                       page.string() + " --out " + model.string(),
                   dir);
  ASSERT_EQ(r.code, 0) << r.err;
  std::string html = read_file(page.string());
  EXPECT_EQ(count(html, "class=\"unit pix\""), 5u);
  EXPECT_TRUE(has(html, "(training split)"));  // no test data, no validation split
  // The model remembers the shape, so `fcnet report` draws images without the option.
  r = run_cli("report -q --model " + model.string() + " --data " + (dir / "d.csv").string() +
                  " --out " + page.string(),
              dir);
  ASSERT_EQ(r.code, 0) << r.err;
  html = read_file(page.string());
  EXPECT_EQ(count(html, "class=\"unit pix\""), 5u);

  // A shape that does not multiply to the feature count is a usage error.
  r = run_cli("report --model " + model.string() + " --data " + (dir / "d.csv").string() +
                  " --image-shape 3,3 --out " + (dir / "x.html").string(),
              dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_TRUE(has(r.err, "--image-shape")) << r.err;
  r = run_cli("train --data " + (dir / "d.csv").string() + " --image-shape 2x3 --out " +
                  (dir / "y.safetensors").string(),
              dir);
  EXPECT_EQ(r.code, 2) << r.err;
  r = run_cli("report --model " + model.string() + " --data " + (dir / "d.csv").string() +
                  " --image-shape two --out " + (dir / "x.html").string(),
              dir);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "x.html"));
}

TEST(ReportCli, UnwritableReportFailsBeforeTraining) {
  auto dir = temp_dir("report-unwritable");
  write_csv(dir / "d.csv", 60, 1);
  const auto model = dir / "m.safetensors";
  auto r = run_cli("train --data " + (dir / "d.csv").string() + " --epochs 1 --out " +
                       model.string() + " --report " + (dir / "missing" / "r.html").string(),
                   dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, "missing")) << r.err;
  EXPECT_FALSE(has(r.err, "epoch 1/")) << "trained before failing: " << r.err;
  EXPECT_FALSE(std::filesystem::exists(model));
}

TEST(ReportData, ConfusionAndMisclassifiedFollowPyTorchProbabilities) {
  // A float64 model and batch from the PyTorch fixtures; the model has no training metadata, so
  // the report has no epochs but still evaluates.
  const NetFixture f = load_net_fixture("net_tanh_4_10_3.safetensors");
  Dataset data;
  data.n = f.x.rows();
  data.d = f.x.cols();
  data.dtype = DType::f64;
  data.bytes.resize(static_cast<std::size_t>(f.x.size()) * 8);
  std::memcpy(data.bytes.data(), f.x.data(), data.bytes.size());
  data.labels = f.y;
  data.source = "fixture";
  ReportInputs in;
  in.model = &f.model;
  in.eval = &data;
  in.eval_split = "fixture";
  const ReportData d = make_report_data(in);
  EXPECT_TRUE(d.epochs.empty());
  EXPECT_EQ(d.confusion_split, "fixture");
  ASSERT_EQ(d.confusion.size(), 3u);

  const auto probs = f.tensor("probs");  // N x 3, from torch.softmax in float64
  std::vector<std::vector<int64_t>> want(3, std::vector<int64_t>(3, 0));
  std::vector<int64_t> wrong;
  for (int64_t i = 0; i < data.n; ++i) {
    const double* p = probs.data() + i * 3;
    const auto pred = std::max_element(p, p + 3) - p;
    want[static_cast<std::size_t>(f.y[static_cast<std::size_t>(i)])]
        [static_cast<std::size_t>(pred)]++;
    if (pred != f.y[static_cast<std::size_t>(i)]) wrong.push_back(i);
  }
  EXPECT_EQ(d.confusion, want);
  ASSERT_EQ(d.misclassified.size(), wrong.size());
  ASSERT_FALSE(wrong.empty());  // the fixture's random network gets some wrong
  for (std::size_t k = 0; k < wrong.size(); ++k) {
    const auto& ex = d.misclassified[k];
    EXPECT_EQ(ex.index, wrong[k]);
    EXPECT_EQ(ex.true_label, f.y[static_cast<std::size_t>(wrong[k])]);
    EXPECT_NEAR(ex.confidence, probs[static_cast<std::size_t>(wrong[k] * 3 + ex.predicted_label)],
                1e-12);
    EXPECT_TRUE(ex.pixels.empty());  // 4 features are not an image
  }
  // W1 (4 x 10) as the first layer, row-major.
  ASSERT_EQ(d.first_layer_weights.size(), 40u);
  const auto w1 = f.tensor("W1");
  for (std::size_t i = 0; i < 40; ++i)
    EXPECT_EQ(d.first_layer_weights[i], static_cast<float>(w1[i]));
  EXPECT_NO_THROW(render_report_html(d));

  // A shape for the 4 inputs draws them; one that does not fit is an error.
  in.image_shape = {2, 2};
  EXPECT_EQ(make_report_data(in).misclassified[0].pixels.size(), 4u);
  in.image_shape = {3, 2};
  EXPECT_THROW(make_report_data(in), Error);
}
