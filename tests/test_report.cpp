// Tests of the HTML training report: page structure, escaping, self-containment, the per-class
// numbers (hand-computed), the embedded PNG images (decoded with zlib) and the edge cases.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "fcnet/error.hpp"
#include "fcnet/report.hpp"
#include "report/chart.hpp"
#include "report/png.hpp"
#include "report/text.hpp"

namespace {

using fcnet::ReportData;
using fcnet::ReportEpoch;
using fcnet::ReportExample;
constexpr double kNaN = fcnet::kReportMissing;

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) ++n;
  return n;
}

// Whether s contains one of `words` (lower case) as a whole word, in any letter case.
bool has_word(const std::string& s, const std::vector<std::string>& words) {
  std::string word;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    const char c = i < s.size() ? s[i] : ' ';
    if (std::isalpha(static_cast<unsigned char>(c))) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      continue;
    }
    for (const auto& w : words)
      if (word == w) return true;
    word.clear();
  }
  return false;
}

// Text from the element carrying id="<id>" up to the first `end` after it.
std::string slice(const std::string& html, const std::string& id, const std::string& end) {
  const auto begin = html.find("id=\"" + id + "\"");
  if (begin == std::string::npos) return "";
  const auto stop = html.find(end, begin);
  return html.substr(begin, stop == std::string::npos ? std::string::npos : stop - begin);
}

// Three classes, three epochs with validation, two layers, a 2x2 "image" input with three units.
ReportData small_report() {
  ReportData d;
  d.title = "run <script>alert(\"x\")</script> & 'q'";
  d.summary = {{"a<b", "\"quoted\" & 'single'\nsecond line"}, {"network", "4-3-3 relu"}};
  d.class_names = {"cat", "dog & <wolf>", "bird"};
  d.confusion = {{5, 1, 0}, {2, 6, 2}, {0, 0, 4}};
  d.confusion_split = "test";
  for (int e = 1; e <= 3; ++e) {
    ReportEpoch ep;
    ep.epoch = e;
    ep.train_loss = 1.0 / e;
    ep.val_loss = 1.1 / e;
    ep.train_accuracy = 0.5 + 0.1 * e;
    ep.val_accuracy = 0.45 + 0.1 * e;
    ep.lr = 0.1;
    ep.seconds = 1.5;
    ep.weight_norms = {3.0 + e, 1.0 + e};
    ep.grad_norms = {0.5 / e, 0.2 / e};
    d.epochs.push_back(ep);
  }
  d.first_layer_inputs = 4;
  d.first_layer_units = 3;
  d.image_shape = {2, 2};
  // Row-major D x H1: unit 0 has weights {0.5, -0.5, 0.25, 0}.
  d.first_layer_weights = {0.5f,  1.0f, -2.0f, -0.5f, 2.0f,  1.0f,
                           0.25f, 3.0f, 0.5f,  0.0f,  -1.0f, 0.1f};
  ReportExample ex;
  ex.index = 17;
  ex.true_label = 1;
  ex.predicted_label = 0;
  ex.confidence = 0.875;
  ex.pixels = {0.0f, 1.0f, 0.5f, 0.25f};
  d.misclassified = {ex};
  ex.index = 3;
  ex.true_label = 2;
  ex.predicted_label = 1;
  d.misclassified.push_back(ex);
  return d;
}

std::vector<uint8_t> base64_decode(const std::string& s) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    const int v = value(c);
    if (v < 0) break;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xff));
    }
  }
  return out;
}

uint32_t be32(const std::vector<uint8_t>& b, std::size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) |
         b[at + 3];
}

// A decoded 8-bit PNG: header fields, palette and the unfiltered samples.
struct Png {
  uint32_t width = 0, height = 0;
  int color_type = -1;
  std::vector<uint8_t> palette, samples;
};

Png decode_png(const std::vector<uint8_t>& b) {
  Png p;
  const std::vector<uint8_t> signature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  EXPECT_EQ(std::vector<uint8_t>(b.begin(), b.begin() + 8), signature);
  std::vector<uint8_t> idat;
  for (std::size_t at = 8; at + 12 <= b.size();) {
    const uint32_t len = be32(b, at);
    const std::string type(b.begin() + static_cast<long>(at) + 4,
                           b.begin() + static_cast<long>(at) + 8);
    const auto* data = b.data() + at + 8;
    const uint32_t crc = static_cast<uint32_t>(crc32(0, b.data() + at + 4, len + 4));
    EXPECT_EQ(crc, be32(b, at + 8 + len)) << "CRC of chunk " << type;
    if (type == "IHDR") {
      p.width = be32(b, at + 8);
      p.height = be32(b, at + 12);
      EXPECT_EQ(data[8], 8) << "bit depth";
      p.color_type = data[9];
    } else if (type == "PLTE") {
      p.palette.assign(data, data + len);
    } else if (type == "IDAT") {
      idat.insert(idat.end(), data, data + len);
    }
    at += 12 + len;
  }
  std::vector<uint8_t> raw(static_cast<std::size_t>(p.height) * (p.width + 1));
  uLongf raw_size = static_cast<uLongf>(raw.size());
  EXPECT_EQ(uncompress(raw.data(), &raw_size, idat.data(), static_cast<uLong>(idat.size())), Z_OK);
  EXPECT_EQ(raw_size, raw.size());
  for (uint32_t y = 0; y < p.height; ++y) {
    EXPECT_EQ(raw[y * (p.width + 1)], 0) << "filter type of row " << y;
    for (uint32_t x = 0; x < p.width; ++x) p.samples.push_back(raw[y * (p.width + 1) + 1 + x]);
  }
  return p;
}

// The first data:image/png URI after the element with the given id.
Png first_png_after(const std::string& html, const std::string& id) {
  const std::string prefix = "data:image/png;base64,";
  const auto at = html.find(prefix, html.find("id=\"" + id + "\""));
  if (at == std::string::npos) return {};
  const auto begin = at + prefix.size();
  return decode_png(base64_decode(html.substr(begin, html.find('"', begin) - begin)));
}

TEST(Report, HasEverySectionAndPlot) {
  const std::string html = fcnet::render_report_html(small_report());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  for (const char* id : {"summary", "curves", "schedule", "confusion", "norms", "first-layer",
                         "misclassified", "epochs"})
    EXPECT_NE(html.find(std::string("<section id=\"") + id + "\""), std::string::npos) << id;
  for (const char* id : {"chart-loss", "chart-accuracy", "chart-lr", "chart-time",
                         "chart-weight-norms", "chart-grad-norms"})
    EXPECT_NE(html.find(std::string("<svg class=\"chart\" id=\"") + id + "\""), std::string::npos)
        << id;
  EXPECT_NE(html.find("<svg class=\"heatmap\" id=\"confusion-matrix\""), std::string::npos);
  // Train and validation lines in both curve charts, one line per layer in both norm charts.
  EXPECT_EQ(count(html, "<g class=\"series train\">"), 2u);
  EXPECT_EQ(count(html, "<g class=\"series val\">"), 2u);
  EXPECT_EQ(count(html, "<g class=\"series layer layer-2\">"), 2u);
  // 3x3 heat map cells; 3 first-layer tiles and 2 example images.
  EXPECT_EQ(count(slice(html, "confusion-matrix", "</svg>"), "<rect "), 9u);
  EXPECT_EQ(count(slice(html, "first-layer-weights", "</section>"), "<img "), 3u);
  EXPECT_EQ(count(slice(html, "misclassified-grid", "</section>"), "<img "), 2u);
  // The summary cards show the last epoch's values.
  EXPECT_NE(html.find(">80.00%<"), std::string::npos);  // train accuracy 0.5 + 0.3
  EXPECT_NE(html.find(">75.00%<"), std::string::npos);  // validation accuracy 0.45 + 0.3
}

TEST(Report, PerClassPrecisionRecallMatchHandComputedValues) {
  // confusion rows (true) {5,1,0} {2,6,2} {0,0,4}; column sums 7, 7, 6.
  const std::string html = fcnet::render_report_html(small_report());
  struct Row {
    const char *id, *support, *predicted, *precision, *recall, *f1;
  };
  const Row rows[] = {
      {"class-row-0", ">6<", ">7<", ">71.4%<", ">83.3%<", ">76.9%<"},   // 5/7, 5/6, 10/13
      {"class-row-1", ">10<", ">7<", ">85.7%<", ">60.0%<", ">70.6%<"},  // 6/7, 6/10, 12/17
      {"class-row-2", ">4<", ">6<", ">66.7%<", ">100.0%<", ">80.0%<"},  // 4/6, 4/4, 8/10
  };
  for (const auto& r : rows) {
    const std::string row = slice(html, r.id, "</tr>");
    ASSERT_FALSE(row.empty()) << r.id;
    for (const char* cell : {r.support, r.predicted, r.precision, r.recall, r.f1})
      EXPECT_NE(row.find(cell), std::string::npos) << r.id << " lacks " << cell << ": " << row;
  }
  // Macro averages: (5/7 + 6/7 + 4/6)/3, (5/6 + 6/10 + 1)/3, (10/13 + 12/17 + 8/10)/3.
  const std::string macro = slice(html, "macro-average", "</tr>");
  EXPECT_NE(macro.find(">74.6%<"), std::string::npos) << macro;
  EXPECT_NE(macro.find(">81.1%<"), std::string::npos) << macro;
  EXPECT_NE(macro.find(">75.8%<"), std::string::npos) << macro;
  const std::string accuracy = slice(html, "overall-accuracy", "</tr>");
  EXPECT_NE(accuracy.find("75.0%"), std::string::npos) << accuracy;  // 15 of 20
  EXPECT_NE(accuracy.find("15 correct"), std::string::npos) << accuracy;
  // Largest confusion: dog predicted as cat (2) and as bird (2), in class order; 20% of dog.
  const std::string list = slice(html, "confusion", "</ol>");
  EXPECT_NE(list.find("<li><b>dog &amp; &lt;wolf&gt;</b> predicted as <b>cat</b>: 2 (20.0% of"),
            std::string::npos);
}

TEST(Report, EscapesEveryString) {
  const std::string html = fcnet::render_report_html(small_report());
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("<title>run &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; "
                      "&#39;q&#39;</title>"),
            std::string::npos);
  EXPECT_EQ(html.find("dog & <wolf>"), std::string::npos);
  EXPECT_NE(html.find("dog &amp; &lt;wolf&gt;"), std::string::npos);
  EXPECT_NE(html.find("<th scope=\"row\">a&lt;b</th>"), std::string::npos);
  EXPECT_NE(html.find("&quot;quoted&quot; &amp; &#39;single&#39;<br>second line"),
            std::string::npos);
  EXPECT_EQ(fcnet::report_detail::html_escape("a\x01<\"b'\n&"), "a&lt;&quot;b&#39;\n&amp;");
}

TEST(Report, NamesNoRemoteOrExternalResource) {
  const std::string html = fcnet::render_report_html(small_report());
  for (const char* bad : {"http://", "https://", "src=\"//", "href=\"//", "url(", "@import",
                          "<link", "<script", "<iframe"})
    EXPECT_EQ(html.find(bad), std::string::npos) << bad;
  // Every src is a data: URI and every href an in-page anchor.
  EXPECT_EQ(count(html, "src=\""), count(html, "src=\"data:image/png;base64,"));
  EXPECT_EQ(count(html, "href=\""), count(html, "href=\"#"));
  EXPECT_NE(html.find("Content-Security-Policy"), std::string::npos);
}

TEST(Report, IsDeterministic) {
  const ReportData d = small_report();
  const ReportData copy = d;
  const std::string a = fcnet::render_report_html(d);
  EXPECT_EQ(a, fcnet::render_report_html(d));
  EXPECT_EQ(a, fcnet::render_report_html(copy));
}

TEST(Report, FirstLayerTilesUseTheDivergingPalette) {
  const std::string html = fcnet::render_report_html(small_report());
  const Png p = first_png_after(html, "first-layer-weights");
  EXPECT_EQ(p.width, 2u);
  EXPECT_EQ(p.height, 2u);
  EXPECT_EQ(p.color_type, 3);
  ASSERT_EQ(p.palette.size(), 256u * 3);
  // Unit 0: {0.5, -0.5, 0.25, 0} / max|w| 0.5 = {1, -1, 0.5, 0} -> round((t + 1) / 2 * 255).
  EXPECT_EQ(p.samples, (std::vector<uint8_t>{255, 0, 191, 128}));
  auto rgb = [&](int i) {
    return std::vector<int>{p.palette[3 * i], p.palette[3 * i + 1], p.palette[3 * i + 2]};
  };
  EXPECT_GT(rgb(255)[0], rgb(255)[2] + 80);  // positive: red
  EXPECT_GT(rgb(0)[2], rgb(0)[0] + 80);      // negative: blue
  for (int c : rgb(128)) EXPECT_GT(c, 235);  // zero: near white
}

TEST(Report, MisclassifiedImagesAreGrayscalePixels) {
  const std::string html = fcnet::render_report_html(small_report());
  const Png p = first_png_after(html, "misclassified-grid");
  EXPECT_EQ(p.color_type, 0);
  EXPECT_EQ(p.width, 2u);
  EXPECT_EQ(p.height, 2u);
  EXPECT_EQ(p.samples, (std::vector<uint8_t>{0, 255, 128, 64}));  // {0, 1, 0.5, 0.25} * 255
  const std::string grid = slice(html, "misclassified-grid", "</section>");
  EXPECT_NE(grid.find("example 17: true dog &amp; &lt;wolf&gt;, predicted cat (88%)"),
            std::string::npos);
}

TEST(Report, OneEpochWithoutValidationOrImages) {
  ReportData d;
  d.title = "";
  ReportEpoch ep;
  ep.epoch = 1;
  ep.train_loss = 0.7;
  ep.train_accuracy = 0.6;
  d.epochs = {ep};
  d.class_names = {"a", "b"};
  d.confusion = {{3, 1}, {0, 2}};
  d.first_layer_inputs = 3;
  d.first_layer_units = 2;
  d.first_layer_weights = {1, 2, 3, 4, 5, 6};
  ReportExample ex;
  ex.true_label = 0;
  ex.predicted_label = 1;
  ex.confidence = 0.51;
  d.misclassified = {ex};
  const std::string html = fcnet::render_report_html(d);
  EXPECT_NE(html.find("<title>fcnet training report</title>"), std::string::npos);
  EXPECT_NE(html.find("No validation split was used"), std::string::npos);
  EXPECT_EQ(html.find("class=\"series val\""), std::string::npos);
  // The single point is drawn as a marker, the x axis has the one tick "1".
  const std::string loss = slice(html, "chart-loss", "</svg>");
  EXPECT_EQ(count(loss, "<circle "), 1u);
  EXPECT_NE(loss.find("text-anchor=\"middle\">1</text>"), std::string::npos);
  EXPECT_NE(html.find("not images (no image shape)"), std::string::npos);
  EXPECT_EQ(html.find("<img "), std::string::npos);
  EXPECT_NE(html.find("id=\"misclassified-table\""), std::string::npos);
  EXPECT_NE(html.find("No learning rate was recorded."), std::string::npos);
  EXPECT_NE(html.find("No per-layer norms were recorded."), std::string::npos);
  EXPECT_EQ(html.find("chart-time"), std::string::npos);
}

TEST(Report, MissingValuesBreakLinesAndNeverPrintNan) {
  ReportData d;
  const double loss[] = {0.9, kNaN, 0.5, 0.4};
  for (int e = 0; e < 4; ++e) {
    ReportEpoch ep;
    ep.epoch = e + 1;
    ep.train_loss = loss[e];
    ep.val_loss = e == 3 ? std::numeric_limits<double>::infinity() : 1.0 - 0.1 * e;
    ep.weight_norms = {1.0 + e, e == 1 ? kNaN : 2.0};
    d.epochs.push_back(ep);
  }
  const std::string html = fcnet::render_report_html(d);
  // Points 1, 3, 4: a solid line joins epochs 3-4, a dashed "gap" segment joins 1 to 3.
  const std::string chart = slice(html, "chart-loss", "</svg>");
  const auto series_at = chart.find("<g class=\"series train\">");
  ASSERT_NE(series_at, std::string::npos);
  const std::string train = chart.substr(series_at, chart.find("</g>", series_at) - series_at);
  auto path_d = [&](const std::string& cls) {
    const std::string key = "<path class=\"" + cls + "\" d=\"";
    const auto at = train.find(key);
    if (at == std::string::npos) return std::string();
    return train.substr(at + key.size(), train.find('"', at + key.size()) - at - key.size());
  };
  const std::string line = path_d("line"), gap = path_d("gap");
  EXPECT_EQ(count(line, "M"), 1u) << line;
  EXPECT_EQ(count(line, "L"), 1u) << line;
  EXPECT_EQ(count(gap, "M"), 1u) << gap;
  EXPECT_EQ(count(gap, "L"), 1u) << gap;
  // The gap ends where the line starts (epoch 3).
  EXPECT_EQ(gap.substr(gap.find('L') + 1), line.substr(1, line.find(" L") - 1));
  EXPECT_EQ(count(train, "<circle "), 3u);
  EXPECT_TRUE(has_word("y=-NaN;", {"nan"}));  // the check itself can fail
  EXPECT_FALSE(has_word(html, {"nan", "inf", "infinity"}));
  // The missing values show as dashes in the epoch table.
  EXPECT_GE(count(slice(html, "epoch-table", "</table>"), "\u2014"), 2u);
}

TEST(Report, ManyClassesUseIndexLabelsThenOnlyTheTable) {
  for (const int c : {60, 150}) {
    ReportData d;
    d.confusion.assign(c, std::vector<int64_t>(c, 0));
    for (int k = 0; k < c; ++k) {
      d.confusion[k][k] = 10 + k % 7;
      d.confusion[k][(k + 1) % c] = 1 + k % 3;
      d.class_names.push_back("class " + std::to_string(k));
    }
    const std::string html = fcnet::render_report_html(d);
    EXPECT_EQ(count(html, "id=\"class-row-"), static_cast<std::size_t>(c));
    if (c == 60) {
      const std::string map = slice(html, "confusion-matrix", "</svg>");
      EXPECT_EQ(count(map, "<rect "), 3600u);
      EXPECT_EQ(map.find("class 1<"), std::string::npos);  // too small for names
      EXPECT_EQ(map.find("<title>true"), std::string::npos);
    } else {
      EXPECT_EQ(html.find("id=\"confusion-matrix\""), std::string::npos);
      EXPECT_NE(html.find("With 150 classes the matrix is too large to draw"), std::string::npos);
    }
  }
}

TEST(Report, LimitsUnitsAndExamples) {
  ReportData d;
  d.image_shape = {1, 2};
  d.first_layer_inputs = 2;
  d.first_layer_units = 100;
  for (int i = 0; i < 200; ++i) d.first_layer_weights.push_back(static_cast<float>(i % 7) - 3);
  for (int i = 0; i < 60; ++i) {
    ReportExample ex;
    ex.true_label = 0;
    ex.predicted_label = 1;
    ex.pixels = {0.2f, 0.8f};
    d.misclassified.push_back(ex);
  }
  const std::string html = fcnet::render_report_html(d);
  EXPECT_EQ(count(slice(html, "first-layer-weights", "</section>"), "<img "), 64u);
  EXPECT_NE(html.find("The first 64 of 100 units are shown."), std::string::npos);
  EXPECT_EQ(count(slice(html, "misclassified-grid", "</section>"), "<img "), 48u);
  EXPECT_NE(html.find("The first 48 of 60 examples"), std::string::npos);
}

TEST(Report, LearningRateSpanningDecadesUsesLogScale) {
  ReportData d;
  for (int e = 1; e <= 6; ++e) {
    ReportEpoch ep;
    ep.epoch = e;
    ep.lr = std::pow(10.0, -e);
    ep.train_loss = 1.0 / e;
    d.epochs.push_back(ep);
  }
  const std::string html = fcnet::render_report_html(d);
  EXPECT_NE(html.find("id=\"chart-lr\" viewBox=\"0 0 560 300\" width=\"560\" height=\"300\" "
                      "role=\"img\" aria-labelledby=\"chart-lr-title\" data-scale=\"log\""),
            std::string::npos);
  EXPECT_NE(slice(html, "chart-loss", "</svg>").find("data-scale=\"linear\""), std::string::npos);
  EXPECT_NE(slice(html, "chart-lr", "</svg>").find(">1e-06</text>"), std::string::npos);
}

TEST(Report, RejectsInconsistentData) {
  auto expect_error = [](ReportData d, const std::string& part) {
    try {
      fcnet::render_report_html(d);
      ADD_FAILURE() << "no error for " << part;
    } catch (const fcnet::Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  ReportData d = small_report();
  d.confusion[1].pop_back();
  expect_error(d, "confusion row 1 has 2 entries, expected 3");
  d = small_report();
  d.class_names.pop_back();
  expect_error(d, "2 class names for a 3-class confusion matrix");
  d = small_report();
  d.first_layer_weights.pop_back();
  expect_error(d, "11 first-layer weights for D = 4, H1 = 3");
  d = small_report();
  d.image_shape = {3, 2};
  expect_error(d, "image_shape 3x2 for 4 inputs, expected H x W = D");
  d = small_report();
  d.misclassified[1].pixels.push_back(0.5f);
  expect_error(d, "misclassified example 1 has 5 pixels");
}

TEST(ReportText, FormatsNumbersWithoutLocale) {
  using namespace fcnet::report_detail;
  EXPECT_EQ(format_fixed(-0.0001, 2), "0.00");
  EXPECT_EQ(format_fixed(2.5, 3), "2.500");
  EXPECT_EQ(format_general(1.5e-05, 3), "1.5e-05");
  EXPECT_EQ(format_general(0.123456, 4), "0.1235");
  EXPECT_EQ(format_percent(0.8531, 1), "85.3%");
  EXPECT_EQ(format_percent(kNaN, 1), "\u2014");
  EXPECT_EQ(format_duration(125), "2 min 05 s");
  EXPECT_EQ(format_duration(7380), "2 h 03 min");
  EXPECT_EQ(format_coord(12.0), "12");
  EXPECT_EQ(format_coord(12.25), "12.2");  // round-half-even of the binary value 12.25
  EXPECT_EQ(css_color(mix({0, 0, 0}, {255, 100, 10}, 0.5)), "#803205");
}

TEST(ReportImage, Base64MatchesRfc4648Vectors) {
  using fcnet::report_detail::base64_encode;
  auto enc = [](std::string s) { return base64_encode(std::vector<uint8_t>(s.begin(), s.end())); };
  EXPECT_EQ(enc(""), "");
  EXPECT_EQ(enc("f"), "Zg==");
  EXPECT_EQ(enc("fo"), "Zm8=");
  EXPECT_EQ(enc("foo"), "Zm9v");
  EXPECT_EQ(enc("foob"), "Zm9vYg==");
  EXPECT_EQ(enc("fooba"), "Zm9vYmE=");
  EXPECT_EQ(enc("foobar"), "Zm9vYmFy");
}

TEST(ReportImage, PngRoundTripsThroughZlib) {
  std::vector<uint8_t> samples(7 * 5);
  for (std::size_t i = 0; i < samples.size(); ++i) samples[i] = static_cast<uint8_t>(i * 7 + 3);
  const Png p = decode_png(fcnet::report_detail::encode_png(7, 5, samples));
  EXPECT_EQ(p.width, 7u);
  EXPECT_EQ(p.height, 5u);
  EXPECT_EQ(p.color_type, 0);
  EXPECT_EQ(p.samples, samples);
  EXPECT_THROW(fcnet::report_detail::encode_png(7, 4, samples), fcnet::Error);
  EXPECT_THROW(fcnet::report_detail::encode_png(7, 5, samples, {{1, 2, 3}}), fcnet::Error);
}

TEST(ReportChart, TicksAreNiceAndCoverTheData) {
  using namespace fcnet::report_detail;
  EXPECT_DOUBLE_EQ(nice_step(0.106), 0.2);
  EXPECT_DOUBLE_EQ(nice_step(3.1), 5.0);
  EXPECT_DOUBLE_EQ(nice_step(0.01), 0.01);
  const Ticks t = linear_ticks(0.23, 0.76, 6, false);  // raw step 0.106 -> 0.2
  EXPECT_DOUBLE_EQ(t.lo, 0.2);
  EXPECT_DOUBLE_EQ(t.hi, 0.8);
  ASSERT_EQ(t.values.size(), 4u);
  EXPECT_NEAR(t.values[1], 0.4, 1e-12);
  const Ticks e = linear_ticks(1, 10, 9, true);  // epochs: step 2 -> 2, 4, ..., 10
  EXPECT_EQ(e.values, (std::vector<double>{2, 4, 6, 8, 10}));
  const Ticks one = linear_ticks(1, 1, 9, true);  // one epoch: a single tick
  EXPECT_EQ(one.values, (std::vector<double>{1}));
  const Ticks lg = log_ticks(0.003, 0.5);
  EXPECT_DOUBLE_EQ(lg.lo, 0.001);
  EXPECT_DOUBLE_EQ(lg.hi, 1.0);
  ASSERT_EQ(lg.values.size(), 4u);
  EXPECT_NEAR(lg.values[2], 0.1, 1e-15);
}

}  // namespace
