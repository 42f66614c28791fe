// Data loaders, input transform and batch gather. Every file is written here by the test itself
// (byte by byte, from the format specifications), so the expected values are independent of the
// loaders; the Fashion-MNIST test cross-checks against the package's files read with plain zlib.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "fcnet/data.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using fcnet::Dataset;
using fcnet::DType;
using fcnet::LoadOptions;
using fcnet::test::npy_file;

namespace {

class DataFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("fcnet_test_data_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::string write(const std::string& name, const std::string& bytes) const {
    const std::string p = path(name);
    std::ofstream f(p, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p;
  }

  std::string write_gz(const std::string& name, const std::string& bytes) const {
    const std::string p = path(name);
    gzFile f = gzopen(p.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    EXPECT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    gzclose(f);
    return p;
  }

  fs::path dir_;
};

// Runs fn, expects fcnet::Error whose message contains every one of `parts`.
void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "no fcnet::Error thrown; expected one mentioning " << *parts.begin();
  } catch (const fcnet::Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg << "\nlacks: " << p;
  }
}

std::string be32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (24 - 8 * i)) & 0xFF);
  return s;
}

std::string idx_file(uint8_t type, std::vector<uint32_t> dims, const std::string& payload) {
  std::string s{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) s += be32(d);
  return s + payload;
}

template <class U>
std::string big_endian_payload(const std::vector<U>& v) {
  std::string s;
  for (U x : v) {
    char b[sizeof(U)];
    std::memcpy(b, &x, sizeof(U));
    for (int i = static_cast<int>(sizeof(U)) - 1; i >= 0; --i) s += b[i];
  }
  return s;
}

template <class U>
std::string raw_payload(const std::vector<U>& v) {
  std::string s(v.size() * sizeof(U), '\0');
  if (!v.empty()) std::memcpy(s.data(), v.data(), s.size());
  return s;
}

template <class U>
std::vector<U> stored(const Dataset& ds) {
  EXPECT_EQ(ds.bytes.size(), static_cast<std::size_t>(ds.n * ds.d) * sizeof(U));
  std::vector<U> v(ds.bytes.size() / sizeof(U));
  if (!v.empty()) std::memcpy(v.data(), ds.bytes.data(), ds.bytes.size());
  return v;
}

// Three 2×4 images with distinct non-zero pixels, and their labels.
std::string three_images() {
  std::string px;
  for (int i = 0; i < 24; ++i) px += static_cast<char>((i * 37 + 11) % 256);
  return idx_file(0x08, {3, 2, 4}, px);
}
const std::string kThreeLabels = idx_file(0x08, {3}, std::string{2, 0, 1});

LoadOptions with_labels(const std::string& p) {
  LoadOptions o;
  o.labels_path = p;
  return o;
}

LoadOptions unlabeled() {
  LoadOptions o;
  o.require_labels = false;
  return o;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// IDX

TEST_F(DataFiles, IdxRawImagesWithLabels) {
  const auto img = write("img-idx3-ubyte", three_images());
  const auto lab = write("lab-idx1-ubyte", kThreeLabels);
  const Dataset ds = fcnet::load_dataset(img, with_labels(lab));
  EXPECT_EQ(ds.n, 3);
  EXPECT_EQ(ds.d, 8);
  EXPECT_EQ(ds.dtype, DType::u8);
  EXPECT_EQ(ds.image_shape, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{2, 0, 1}));
  EXPECT_EQ(ds.num_classes(), 3);
  EXPECT_EQ(ds.source, img);
  ASSERT_EQ(ds.bytes.size(), 24u);
  for (int i = 0; i < 24; ++i) EXPECT_EQ(ds.bytes[i], (i * 37 + 11) % 256) << i;
  EXPECT_EQ(ds.row_bytes(2)[3], (19 * 37 + 11) % 256);
}

TEST_F(DataFiles, IdxGzipImagesWithGzipLabels) {
  const auto img = write_gz("img.idx3.gz", three_images());
  const auto lab = write_gz("lab.gz", kThreeLabels);
  const Dataset ds = fcnet::load_dataset(img, with_labels(lab));
  EXPECT_EQ(ds.n, 3);
  EXPECT_EQ(ds.d, 8);
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{2, 0, 1}));
  for (int i = 0; i < 24; ++i) EXPECT_EQ(ds.bytes[i], (i * 37 + 11) % 256) << i;
}

TEST_F(DataFiles, IdxFloatTypesAreByteSwapped) {
  const std::vector<float> f = {1.5f, -2.25f, 3e10f, 0.1f, 7.0f, -1e-3f};
  const auto a = write("f32.idx", idx_file(0x0D, {3, 2}, big_endian_payload(f)));
  const Dataset ds = fcnet::load_dataset(a, unlabeled());
  EXPECT_EQ(ds.dtype, DType::f32);
  EXPECT_EQ(ds.n, 3);
  EXPECT_EQ(ds.d, 2);
  EXPECT_TRUE(ds.image_shape.empty());
  EXPECT_FALSE(ds.has_labels());
  EXPECT_EQ(stored<float>(ds), f);

  const std::vector<double> g = {0.1, -1e300, 2.5, 4.0};
  const auto b = write("f64.idx", idx_file(0x0E, {1, 2, 2}, big_endian_payload(g)));
  const Dataset ds2 = fcnet::load_dataset(b, unlabeled());
  EXPECT_EQ(ds2.dtype, DType::f64);
  EXPECT_EQ(ds2.image_shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(stored<double>(ds2), g);
}

TEST_F(DataFiles, IdxWideLabelTypes) {
  const auto img = write("img-idx3-ubyte", three_images());
  const auto l16 = write("l16.idx", idx_file(0x0B, {3}, big_endian_payload<int16_t>({300, 0, 7})));
  EXPECT_EQ(fcnet::load_dataset(img, with_labels(l16)).labels, (std::vector<int32_t>{300, 0, 7}));
  const auto l32 = write("l32.idx", idx_file(0x0C, {3}, big_endian_payload<int32_t>({5, 900, 1})));
  EXPECT_EQ(fcnet::load_dataset(img, with_labels(l32)).labels, (std::vector<int32_t>{5, 900, 1}));
  // 70000 among three labels would make 70001 classes: refused as a stray index.
  const auto far =
      write("far.idx", idx_file(0x0C, {3}, big_endian_payload<int32_t>({5, 70000, 1})));
  expect_error([&] { fcnet::load_dataset(img, with_labels(far)); },
               {far, "3 distinct labels but the largest is 70000"});
}

TEST_F(DataFiles, IdxMissingLabelsNamesTheSiblingFile) {
  const auto img = write("train-images-idx3-ubyte", three_images());
  write("train-labels-idx1-ubyte", kThreeLabels);
  expect_error([&] { fcnet::load_dataset(img); },
               {img, "no labels", "--labels", "train-labels-idx1-ubyte"});
  const Dataset ds = fcnet::load_dataset(img, unlabeled());
  EXPECT_FALSE(ds.has_labels());
  EXPECT_EQ(ds.num_classes(), 0);
}

TEST_F(DataFiles, IdxMalformedFilesNameTheFileAndTheProblem) {
  const auto lab = write("lab-idx1-ubyte", kThreeLabels);
  std::string px(24, '\x05');
  // Magic: first byte not zero (detected through the name hint, then rejected by the IDX parser).
  std::string bad = three_images();
  bad[0] = 1;
  const auto m = write("bad-images-idx3-ubyte", bad);
  expect_error([&] { fcnet::load_dataset(m, with_labels(lab)); }, {m, "bad IDX magic 01 00 08 03"});
  // Unknown element type and zero dimensions.
  const auto t = write("type-idx3-ubyte", idx_file(0x07, {3, 2, 4}, px));
  expect_error([&] { fcnet::load_dataset(t, with_labels(lab)); }, {t, "bad IDX magic 00 00 07 03"});
  const auto z = write("zero-idx3-ubyte", std::string{'\0', '\0', '\x08', '\0'});
  expect_error([&] { fcnet::load_dataset(z, with_labels(lab)); }, {z, "bad IDX magic"});
  // Size vs file length, both ways.
  const auto tr = write("short.idx", idx_file(0x08, {3, 2, 4}, px.substr(0, 20)));
  expect_error([&] { fcnet::load_dataset(tr, with_labels(lab)); },
               {tr, "truncated", "24 bytes", "holds 20"});
  const auto tl = write("long.idx", idx_file(0x08, {3, 2, 4}, px + "xx"));
  expect_error([&] { fcnet::load_dataset(tl, with_labels(lab)); }, {tl, "trailing bytes"});
  // Dimension product overflows 64 bits.
  const auto ov = write("ovf.idx", idx_file(0x08, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, px));
  expect_error([&] { fcnet::load_dataset(ov, with_labels(lab)); }, {ov, "overflow"});
  // Header cut inside the dimension list.
  const auto hd = write("hdr.idx", idx_file(0x08, {3, 2, 4}, "").substr(0, 9));
  expect_error([&] { fcnet::load_dataset(hd, with_labels(lab)); }, {hd, "truncated", "dimension"});
  // Images vs labels count.
  const auto l2 = write("two-idx1-ubyte", idx_file(0x08, {2}, std::string{1, 1}));
  const auto img = write("img-idx3-ubyte", three_images());
  expect_error([&] { fcnet::load_dataset(img, with_labels(l2)); },
               {l2, "holds 2 labels", "holds 3 examples"});
  // A label file given as data, and an image file given as labels.
  expect_error([&] { fcnet::load_dataset(lab, unlabeled()); }, {lab, "1-D"});
  expect_error([&] { fcnet::load_dataset(img, with_labels(img)); }, {img, "dimensions 3x2x4"});
  // Labels of a non-integer type, and negative labels.
  const auto lf = write("lf.idx", idx_file(0x0D, {3}, big_endian_payload<float>({1, 2, 3})));
  expect_error([&] { fcnet::load_dataset(img, with_labels(lf)); }, {lf, "float32"});
  const auto ln = write("ln.idx", idx_file(0x09, {3}, std::string{1, '\xff', 0}));
  expect_error([&] { fcnet::load_dataset(img, with_labels(ln)); }, {ln, "label -1 at index 1"});
  // Features of an integer type other than uint8.
  const auto i16 = write("i16.idx", idx_file(0x0B, {1, 2}, std::string(4, '\1')));
  expect_error([&] { fcnet::load_dataset(i16, unlabeled()); }, {i16, "int16"});
  // Missing file.
  expect_error([&] { fcnet::load_dataset(path("nope.idx")); }, {path("nope.idx"), "cannot open"});
}

TEST_F(DataFiles, IdxGzipDamageIsReported) {
  const auto lab = write("lab-idx1-ubyte", kThreeLabels);
  // Header declares more images than the (complete) gzip stream holds.
  const auto few = write_gz("few.idx.gz", idx_file(0x08, {5, 2, 4}, std::string(24, '\x07')));
  expect_error([&] { fcnet::load_dataset(few, with_labels(lab)); }, {few, "truncated"});
  // Data after the declared payload inside the gzip stream.
  const auto more = write_gz("more.idx.gz", three_images() + "abc");
  expect_error([&] { fcnet::load_dataset(more, with_labels(lab)); }, {more, "trailing bytes"});
  // The gzip file itself cut in half.
  std::string px;
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; ++i) px += static_cast<char>(rng() & 0xFF);
  const auto whole = write_gz("whole.gz", idx_file(0x08, {3, 40, 25}, px));
  std::ifstream in(whole, std::ios::binary);
  const std::string gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto cut = write("cut.idx.gz", gz.substr(0, gz.size() / 2));
  expect_error([&] { fcnet::load_dataset(cut, with_labels(lab)); }, {cut, "gzip"});
  // Header declares far more than any gzip of this size can inflate to: rejected before allocating.
  const auto huge = write_gz("huge.idx.gz", idx_file(0x08, {2000000000, 100, 100}, px));
  expect_error([&] { fcnet::load_dataset(huge, with_labels(lab)); },
               {huge, "more than the file can hold"});
}

// ---------------------------------------------------------------------------------------------
// CSV

TEST_F(DataFiles, CsvHeaderWithLabelColumnInTheMiddle) {
  const auto p = write("a.csv", "x1,label,x2\n1.5,2,3\n-4,0,5e-1\n");
  const Dataset ds = fcnet::load_dataset(p);
  EXPECT_EQ(ds.n, 2);
  EXPECT_EQ(ds.d, 2);
  EXPECT_EQ(ds.dtype, DType::f32);  // every value is exactly a float
  EXPECT_EQ(stored<float>(ds), (std::vector<float>{1.5f, 3.f, -4.f, 0.5f}));
  // Labels are class names: {0, 2} are two classes, in numeric order.
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"0", "2"}));
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(ds.num_classes(), 2);
}

TEST_F(DataFiles, CsvWithoutHeaderTakesTheFirstColumn) {
  const auto p = write("b.csv", "3,1,2\n0,4,+5\n\n1, 7 ,8\n");
  const Dataset ds = fcnet::load_dataset(p);
  EXPECT_EQ(ds.n, 3);
  EXPECT_EQ(ds.d, 2);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"0", "1", "3"}));
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{2, 0, 1}));
  EXPECT_EQ(stored<float>(ds), (std::vector<float>{1, 2, 4, 5, 7, 8}));
}

TEST_F(DataFiles, CsvHeaderDetectedFromTheLabelCellAlone) {
  // Every feature name is numeric, the label column's is not, and the next row's label is a number.
  const auto p = write("c.csv", "y,0,1\n1,0.25,2\n0,4,5\n");
  const Dataset ds = fcnet::load_dataset(p);
  EXPECT_EQ(ds.n, 2);
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(stored<float>(ds), (std::vector<float>{0.25f, 2, 4, 5}));
}

// A missing cell below a text cell says nothing about a header: a headerless file whose second
// line has a gap under a city name keeps its first line as data (6 rows, not 5).
TEST_F(DataFiles, CsvHeaderNotInferredFromAGapBelowText) {
  LoadOptions o;
  o.label_col = "-1";  // the last column, as the tester's --label-col -1
  const Dataset ds =
      fcnet::load_dataset(write("nohdr.csv",
                                "41.5,Rome,False,no\n12.1,,False,no\n38.4,Paris,True,yes\n"
                                "50.2,Rome,True,no\n33.0,Oslo,False,yes\n29.9,Paris,True,yes\n"),
                          o);
  EXPECT_EQ(ds.n, 6);
  EXPECT_FALSE(ds.schema.header);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"no", "yes"}));
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{0, 0, 1, 0, 1, 1}));
  // 41.5; Oslo, Paris, Rome and the gap's category; False, True.
  EXPECT_EQ(ds.schema.feature_names(),
            (std::vector<std::string>{"0", "1=Oslo", "1=Paris", "1=Rome", "1=missing", "2=False",
                                      "2=True"}));
  // A header with a gap below one of its names is still a header when another name is above a
  // number.
  const auto h = write("hdr.csv", "x,city,y\n1.5,,no\n2.5,Rome,yes\n");
  const Dataset hd = fcnet::load_dataset(h, o);
  EXPECT_EQ(hd.n, 2);
  EXPECT_TRUE(hd.schema.header);
  EXPECT_EQ(hd.schema.label, "y");
}

// pandas names unnamed columns 0, 1, …, k−1 (DataFrame(np.c_[X, y]).to_csv(index=False)): that
// first line is a header, not an example of a class "2"; other lines of numbers stay data, and a
// model trained without a header reads such a line as data.
TEST_F(DataFiles, CsvHeaderOfColumnPositionsAsPandasWritesIt) {
  LoadOptions o;
  o.label_col = "-1";
  const auto p = write("np.csv", "0,1,2\n5.1,3.5,0.0\n4.9,3.0,1.0\n6.2,2.9,2.0\n6.3,3.3,2.0\n");
  const Dataset ds = fcnet::load_dataset(p, o);
  EXPECT_EQ(ds.n, 4);
  EXPECT_TRUE(ds.schema.header);
  EXPECT_EQ(ds.schema.label, "2");
  EXPECT_TRUE(ds.class_names.empty());  // labels 0…2 stay indices: no class "2" from the header
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{0, 1, 2, 2}));
  EXPECT_EQ(stored<double>(ds), (std::vector<double>{5.1, 3.5, 4.9, 3, 6.2, 2.9, 6.3, 3.3}));
  // Not 0…k−1 in order: the first line is data.
  const Dataset swapped = fcnet::load_dataset(write("s.csv", "1,0,2\n5.1,3.5,0\n"), o);
  EXPECT_EQ(swapped.n, 2);
  EXPECT_FALSE(swapped.schema.header);
  // Two columns: "0,1" is as likely a row of data (a binary feature and its label) and stays one.
  const Dataset two = fcnet::load_dataset(write("two.csv", "0,1\n1,0\n1,1\n"), o);
  EXPECT_EQ(two.n, 3);
  EXPECT_EQ(two.labels, (std::vector<int32_t>{1, 0, 1}));
  // A headerless model's schema says there is no header: line 1 is an example.
  Dataset plain = fcnet::load_dataset(write("plain.csv", "5.1,3.5,0\n4.9,3.0,1\n"), o);
  ASSERT_FALSE(plain.schema.header);
  LoadOptions m;
  m.schema = &plain.schema;
  m.index_labels = true;
  const Dataset e = fcnet::load_dataset(write("e.csv", "0,1,2\n4.9,3.0,1\n"), m);
  EXPECT_EQ(e.n, 2);
  EXPECT_EQ(e.labels, (std::vector<int32_t>{2, 1}));
}

// pandas' to_csv() with its index writes a first column with no name. Training refuses it naming
// the column (it would be a feature no model could find again by name); ignored, the rest trains.
// A model's empty role names (no id column) match no unnamed column of the files it reads.
TEST_F(DataFiles, CsvUnnamedColumnIsNoFeatureAndNoRole) {
  const auto p = write("idx.csv", ",x,label\n0,0.5,a\n1,1.5,b\n2,2.5,a\n");
  expect_error([&] { fcnet::load_dataset(p, {}); },
               {p + ":1", "gives column 0 (0-based) no name", "--ignore-cols 0", "index=False"});
  LoadOptions o;
  o.ignore_cols = {"0"};
  const Dataset ds = fcnet::load_dataset(p, o);
  EXPECT_EQ(ds.schema.feature_names(), (std::vector<std::string>{"x"}));
  EXPECT_EQ(ds.schema.id, "");
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{0, 1, 0}));
  // Read by the model: the unnamed column is neither the id nor the label (a schema whose label
  // has no name, as a model fitted on arrays, finds no label there).
  LoadOptions m;
  m.schema = &ds.schema;
  m.require_labels = false;
  const Dataset e = fcnet::load_dataset(p, m);
  EXPECT_TRUE(e.ids.empty());
  EXPECT_EQ(e.n, 3);
  fcnet::TableSchema unnamed = ds.schema;
  unnamed.label = "";
  m.schema = &unnamed;
  m.require_labels = true;
  expect_error([&] { fcnet::load_dataset(p, m); }, {p, "has no label column"});
  // pandas' to_csv() of an array-made frame: ",0,1,2" is a header (index, then positions), and
  // since a column is named "0" the suggestion counts from the end, where "0" would find it.
  const auto q = write("np_idx.csv", ",0,1,2\n0,5.5,1.5,0\n1,4.5,2.5,1\n2,6.5,0.5,1\n");
  LoadOptions last;
  last.label_col = "-1";
  expect_error([&] { fcnet::load_dataset(q, last); },
               {q + ":1", "gives column 0 (0-based) no name", "--ignore-cols=-4"});
  last.ignore_cols = {"-4"};
  const Dataset np = fcnet::load_dataset(q, last);
  EXPECT_EQ(np.n, 3);
  EXPECT_EQ(np.schema.feature_names(), (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(np.labels, (std::vector<int32_t>{0, 1, 1}));
  EXPECT_EQ(stored<float>(np), (std::vector<float>{5.5f, 1.5f, 4.5f, 2.5f, 6.5f, 0.5f}));
  // An unnamed column a role takes is no feature, and is not refused.
  LoadOptions by_id;
  by_id.id_col = "0";
  EXPECT_EQ(fcnet::load_dataset(p, by_id).ids, (std::vector<std::string>{"0", "1", "2"}));
}

TEST_F(DataFiles, CsvHeaderRuleGivenOverridesDetection) {
  // Column names that are numbers (years) above numbers, and a text label: no column holds text
  // above a number, so detection reads the first line as data, and says so.
  const auto p = write("years.csv", "2019,2020,label\n1.5,2.5,cat\n1.0,2.0,dog\n1.1,2.1,cat\n");
  LoadOptions by_position;
  by_position.label_col = "2";
  const Dataset guessed = fcnet::load_dataset(p, by_position);
  EXPECT_EQ(guessed.n, 4);
  EXPECT_EQ(guessed.class_names, (std::vector<std::string>{"cat", "dog", "label"}));
  ASSERT_EQ(guessed.notes.size(), 1u);
  EXPECT_NE(guessed.notes[0].find("--header yes"), std::string::npos) << guessed.notes[0];
  LoadOptions yes;
  yes.header = LoadOptions::Header::present;
  const Dataset named = fcnet::load_dataset(p, yes);
  EXPECT_TRUE(named.notes.empty());
  EXPECT_EQ(named.n, 3);
  EXPECT_EQ(named.schema.feature_names(), (std::vector<std::string>{"2019", "2020"}));
  EXPECT_EQ(named.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(stored<double>(named), (std::vector<double>{1.5, 2.5, 1.0, 2.0, 1.1, 2.1}));
  // A line of names read as data when told: the label column's first cell is a class.
  const auto q = write("names.csv", "a,b,label\n1,2,x\n3,4,y\n");
  LoadOptions no;
  no.header = LoadOptions::Header::absent;
  no.label_col = "2";
  no.categorical = {"0", "1"};
  const Dataset data = fcnet::load_dataset(q, no);
  EXPECT_EQ(data.n, 3);
  EXPECT_EQ(data.class_names, (std::vector<std::string>{"label", "x", "y"}));
  // A model trained without a header reads a file with one by position when told it has one;
  // a model whose columns have names cannot find them in a file read without a header.
  const auto headed = write("headed.csv", "p,q,r\n1.5,2.5,cat\n0.5,2.5,dog\n");
  LoadOptions m;
  m.schema = &guessed.schema;
  m.header = LoadOptions::Header::present;
  m.known_classes = guessed.class_names;
  const Dataset e = fcnet::load_dataset(headed, m);
  EXPECT_EQ(e.n, 2);
  EXPECT_EQ(stored<float>(e), (std::vector<float>{1.5f, 2.5f, 0.5f, 2.5f}));
  EXPECT_EQ(e.labels, (std::vector<int32_t>{0, 1}));
  LoadOptions m2;
  m2.schema = &named.schema;
  m2.header = LoadOptions::Header::absent;
  expect_error([&] { fcnet::load_dataset(p, m2); },
               {p, "--header no", "finds its columns by name"});
}

TEST_F(DataFiles, CsvExcelSeparatorLineNamesTheDelimiter) {
  // "sep=;" as Excel writes it: the delimiter, then the header on line 2; line numbers stay
  // those of the file.
  const auto p = write("excel.csv", "sep=;\r\na;b;label\r\n1,5;2;x\r\n2,5;3;y\r\n");
  LoadOptions o;
  o.decimal = ',';
  const Dataset ds = fcnet::load_dataset(p, o);
  EXPECT_EQ(ds.schema.feature_names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(stored<float>(ds), (std::vector<float>{1.5f, 2.0f, 2.5f, 3.0f}));
  expect_error([&] { fcnet::load_dataset(write("bad.csv", "sep=;\na;label\n1;x\n2;y;z\n"), {}); },
               {"bad.csv:4", "row has 3 fields"});
}

TEST_F(DataFiles, CsvNotANumberIsToldFromAnInfinity) {
  expect_error([&] { fcnet::load_dataset(write("nan.csv", "a,label\n1,x\nNAN,y\n"), {}); },
               {"nan.csv:3", "'NAN' (NaN, not a number)", "--na-values: list it there"});
  expect_error([&] { fcnet::load_dataset(write("inf.csv", "a,label\n1,x\n-inf,y\n"), {}); },
               {"inf.csv:3", "'-inf' (infinite)"});
}

TEST_F(DataFiles, CsvNumbersWithStrayTextsAreNotCategories) {
  // 30 ages with "N/A" and "-" among them: numbers with gaps the file marks its own way.
  std::string rows = "age,label\n";
  for (int i = 0; i < 30; ++i)
    rows += (i == 4   ? std::string("N/A")
             : i == 9 ? "-"
                      : std::to_string(20 + i)) +
            "," + (i % 2 ? "x" : "y") + "\n";
  const auto p = write("ages.csv", rows);
  expect_error([&] { fcnet::load_dataset(p, {}); },
               {p + ":6", "column 'age' holds 28 numbers and 2 cells of text (N/A, -)",
                "--na-values 'NA,,NaN,nan,null,NULL,?,N/A,-'", "--categorical age"});
  LoadOptions gaps;
  gaps.na_values = {"N/A", "-"};
  const Dataset g = fcnet::load_dataset(p, gaps);
  EXPECT_EQ(g.schema.feature_names(), (std::vector<std::string>{"age", "age=missing"}));
  LoadOptions cats;
  cats.categorical = {"age"};
  EXPECT_EQ(fcnet::load_dataset(p, cats).schema.columns[0].categories.size(), 30u);
  // Prices with thousands separators beside plain ones, under either decimal mark; in a ';'
  // file under the decimal point, "1,500" is a decimal comma (the rule for those says so).
  expect_error(
      [&] {
        fcnet::load_dataset(write("prices.csv", "price,label\n\"1,999.00\",x\n799.00,y\n"), {});
      },
      {"prices.csv:2", "column 'price' holds numbers written with thousands separators",
       "'1,999.00'", "--categorical price"});
  LoadOptions comma;
  comma.decimal = ',';
  expect_error(
      [&] {
        fcnet::load_dataset(write("preise.csv", "preis;label\n1.999,00;x\n799,50;y\n"), comma);
      },
      {"preise.csv:2", "thousands separators", "'1.999,00'"});
  expect_error([&] { fcnet::load_dataset(write("semi.csv", "a;label\n\"1,500\";x\n2;y\n"), {}); },
               {"semi.csv", "numbers with a decimal comma?", "--decimal ,"});
  // Codes beside numbers (ICD-9: 250.83, 428, V57, E909) are categories, not gaps; and in a ';'
  // file of whole numbers, 12,5 is a decimal comma.
  std::string icd = "diag,label\n";
  for (int i = 0; i < 80; ++i)
    icd +=
        (i % 10 == 3 ? std::string(i % 20 == 3 ? "V57" : "E909") : std::to_string(400 + i % 25)) +
        ",x\n";
  EXPECT_EQ(fcnet::load_dataset(write("icd.csv", icd + "401,y\n"), {}).schema.columns[0].kind,
            fcnet::ColumnSpec::Kind::categorical);
  std::string semi = "a;label\n";
  for (int i = 0; i < 30; ++i) semi += std::to_string(10 + i) + ";x\n";
  expect_error([&] { fcnet::load_dataset(write("semi12.csv", semi + "12,5;y\n"), {}); },
               {"numbers with a decimal comma?", "--decimal ,"});
  expect_error([&] { fcnet::load_dataset(write("tab.tsv", "a\tlabel\n\"1,500\"\tx\n2\ty\n"), {}); },
               {"numbers with a decimal comma?"});
  // Few distinct numbers beside a text (sizes 1-5 and "XL") stay categories, as before.
  std::string sizes = "size,label\n";
  for (int i = 0; i < 30; ++i)
    sizes += (i % 7 == 6 ? std::string("XL") : std::to_string(1 + i % 5)) + ",x\n";
  sizes += "1,y\n";
  const Dataset z = fcnet::load_dataset(write("sizes.csv", sizes), {});
  EXPECT_EQ(z.schema.columns[0].categories,
            (std::vector<std::string>{"1", "2", "3", "4", "5", "XL"}));
}

TEST_F(DataFiles, CsvColumnListsNameColumnsOfTheFile) {
  const auto p = write("iris.csv", "sl,sw,label\n1,2,a\n3,4,b\n");
  LoadOptions o;
  o.categorical = {"SL"};
  expect_error([&] { fcnet::load_dataset(p, o); },
               {p + ":1", "no column named 'SL' for --categorical", "sl, sw, label"});
  LoadOptions last;
  last.categorical = {"-2"};  // from the end: sw
  EXPECT_EQ(fcnet::load_dataset(p, last).schema.columns[1].kind,
            fcnet::ColumnSpec::Kind::categorical);
  LoadOptions num;
  num.numeric = {"foo"};
  expect_error([&] { fcnet::load_dataset(p, num); }, {"no column named 'foo' for --numeric"});
}

TEST_F(DataFiles, CsvFirstColumnOfIdentifiersIsNotTakenForLabels) {
  std::string rows = "customer_id,income,churned\n";
  for (int i = 0; i < 40; ++i)
    rows += std::to_string(1000 + i) + "," + std::to_string(30 + i % 7) + "," +
            (i % 3 ? "no" : "yes") + "\n";
  const auto p = write("churn.csv", rows);
  expect_error([&] { fcnet::load_dataset(p, {}); },
               {p, "no column is named 'label'", "'customer_id'", "40 distinct values in 40 rows",
                "--label-col NAME", "churned"});
  LoadOptions named;
  named.label_col = "churned";
  EXPECT_EQ(fcnet::load_dataset(p, named).class_names, (std::vector<std::string>{"no", "yes"}));
  named.label_col = "customer_id";  // named by the user: taken as it is
  EXPECT_EQ(fcnet::load_dataset(p, named).num_classes(), 40);
}

TEST_F(DataFiles, CsvColumnsWithoutAnyValueAreLeftOut) {
  // Every line ends with the delimiter: the last column has no name and no value.
  const auto p = write("trailing.csv", "a,b,label,\n1.5,2.5,cat,\n1.0,,dog,\n1.25,2.0,cat,\n");
  const Dataset ds = fcnet::load_dataset(p, {});
  EXPECT_EQ(ds.schema.feature_names(), (std::vector<std::string>{"a", "b", "b=missing"}));
  EXPECT_EQ(ds.schema.file_columns, 4);
  ASSERT_EQ(ds.notes.size(), 1u);
  EXPECT_NE(ds.notes[0].find("column 3 (unnamed) is left out"), std::string::npos) << ds.notes[0];
  // b's gap takes the mean of 2.5 and 2.0.
  EXPECT_EQ(stored<float>(ds),
            (std::vector<float>{1.5f, 2.5f, 0.0f, 1.0f, 2.25f, 1.0f, 1.25f, 2.0f, 0.0f}));
  // A named column without a value is left out too; an unnamed one with values is still refused.
  const auto q = write("empty_named.csv", "a,c,label\n1,NA,x\n2,,y\n");
  const Dataset e = fcnet::load_dataset(q, {});
  EXPECT_EQ(e.schema.feature_names(), (std::vector<std::string>{"a"}));
  ASSERT_EQ(e.notes.size(), 1u);
  EXPECT_NE(e.notes[0].find("column 'c' is left out: every one of its 2 cells is missing"),
            std::string::npos)
      << e.notes[0];
  expect_error([&] { fcnet::load_dataset(write("idx.csv", ",x,label\n0,1,a\n1,2,b\n"), {}); },
               {"gives column 0 (0-based) no name"});
  expect_error([&] { fcnet::load_dataset(write("none.csv", "a,b,label\n,,x\nNA,,y\n"), {}); },
               {"none.csv", "no feature column holding a value"});
  // The model reads later files by its own columns: the empty one is not looked for.
  LoadOptions m;
  m.schema = &e.schema;
  m.known_classes = e.class_names;
  const Dataset later = fcnet::load_dataset(write("later.csv", "label,a\ny,5\n"), m);
  EXPECT_EQ(stored<float>(later), (std::vector<float>{5.0f}));
  // Tables from Python go through the same rule.
  std::vector<fcnet::TableColumn> cols(2);
  cols[0].name = "x";
  cols[0].numbers = {1.0, 2.0};
  cols[1].name = "gone";
  cols[1].numbers = {std::nan(""), std::nan("")};
  const Dataset t = fcnet::encode_table(cols, {}, "frame");
  EXPECT_EQ(t.schema.feature_names(), (std::vector<std::string>{"x"}));
  ASSERT_EQ(t.notes.size(), 1u);
  EXPECT_NE(t.notes[0].find("column 'gone' is left out"), std::string::npos);
}

TEST_F(DataFiles, CsvLabelCodesKeepTheirText) {
  // Codes with leading zeros and integers past a double's exact range are class names as
  // written (read as numbers, "007" and "07" were one class "7"); other numbers still read as
  // numbers ("1.0" is the class "1"), in numeric order with a code after its value's equals.
  const auto p = write("codes.csv", "label,a\n007,1\n07,2\n010,3\n7,4\n1.0,5\n1,6\n");
  const Dataset ds = fcnet::load_dataset(p);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"1", "007", "07", "7", "010"}));
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{1, 2, 4, 3, 0, 0}));
  const auto big =
      write("big.csv", "label,a\n9007199254740993,1\n9007199254740992,2\n9007199254740993,3\n");
  const Dataset b = fcnet::load_dataset(big);
  EXPECT_EQ(b.class_names, (std::vector<std::string>{"9007199254740992", "9007199254740993"}));
  EXPECT_EQ(b.labels, (std::vector<int32_t>{1, 0, 1}));
  // A model's classes as written find the same codes in a file it reads.
  LoadOptions o;
  o.known_classes = {"007", "010", "07"};
  EXPECT_EQ(fcnet::load_dataset(write("k.csv", "label,a\n07,1\n007,2\n010,3\n"), o).labels,
            (std::vector<int32_t>{2, 0, 1}));
}

TEST_F(DataFiles, CsvClassNamesSortedAndStored) {
  const auto p = write("names.csv", "label,a\ncat,1\ndog,2\nbird,3\ncat,4\n");
  const Dataset ds = fcnet::load_dataset(p);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"bird", "cat", "dog"}));
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{1, 2, 0, 1}));
  EXPECT_EQ(ds.num_classes(), 3);
  // With the model's classes known, names map to those indices and unknown names fail.
  LoadOptions o;
  o.known_classes = {"dog", "cat", "bird", "fish"};
  const Dataset k = fcnet::load_dataset(p, o);
  EXPECT_EQ(k.labels, (std::vector<int32_t>{1, 0, 2, 1}));
  EXPECT_EQ(k.class_names, o.known_classes);
  EXPECT_EQ(k.num_classes(), 4);
  o.known_classes = {"dog", "cat"};
  expect_error([&] { fcnet::load_dataset(p, o); }, {p + ":4", "unknown class 'bird'", "dog, cat"});
}

TEST_F(DataFiles, CsvQuotesCrlfAndBom) {
  const auto p = write("q.csv",
                       "\xEF\xBB\xBFname,\"x,1\",x2\r\n"
                       "\"a,b\",1,2\r\n"
                       "\"say \"\"hi\"\"\",3,\"4\"\r\n"
                       "\"two\nlines\", 5 ,6\r\n"
                       "\"a,b\",7,8");
  LoadOptions o;
  o.label_col = "name";
  const Dataset ds = fcnet::load_dataset(p, o);
  EXPECT_EQ(ds.n, 4);
  EXPECT_EQ(ds.d, 2);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"a,b", "say \"hi\"", "two\nlines"}));
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{0, 1, 2, 0}));
  EXPECT_EQ(stored<float>(ds), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
  // The quoted header cell "x,1" is one column; a bad cell after the two-line record is on line 4.
  const auto bad = write("qbad.csv", "name,\"x,1\"\r\n\"two\nlines\",5\r\nz,oops\r\n");
  o.numeric = {"x,1"};
  expect_error([&] { fcnet::load_dataset(bad, o); },
               {bad + ":4", "column 'x,1' (--numeric)", "'oops'"});
}

TEST_F(DataFiles, CsvLabelColumnByNameAndIndex) {
  const auto p = write("t.csv", "a,b,target\n1,2,0\n3,4,1\n");
  LoadOptions o;
  o.label_col = "target";
  Dataset ds = fcnet::load_dataset(p, o);
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(stored<float>(ds), (std::vector<float>{1, 2, 3, 4}));
  o.label_col = "-1";  // from the end: the last column
  ds = fcnet::load_dataset(p, o);
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(stored<float>(ds), (std::vector<float>{1, 2, 3, 4}));
  o.label_col = "1";
  ds = fcnet::load_dataset(p, o);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"2", "4"}));
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(stored<float>(ds), (std::vector<float>{1, 0, 3, 1}));
  const auto nh = write("nh.csv", "1,2,0\n3,4,1\n");
  o.label_col = "2";
  ds = fcnet::load_dataset(nh, o);
  EXPECT_EQ(ds.n, 2);
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{0, 1}));
  o.label_col = "3";
  expect_error([&] { fcnet::load_dataset(nh, o); },
               {nh + ":1", "--label-col 3 is outside the 3 columns", "from -3 to 2"});
  o.label_col = "target";
  expect_error([&] { fcnet::load_dataset(nh, o); }, {nh + ":1", "no column named 'target'"});
  const auto other = write("o.csv", "a,b,c\n1,2,0\n");
  expect_error([&] { fcnet::load_dataset(other, o); },
               {other + ":1", "no column named 'target'", "a, b, c"});
}

TEST_F(DataFiles, CsvWithoutLabelsForPrediction) {
  const auto h = write("p.csv", "a,b,c\n1,2,3\n4,5,6\n");
  Dataset ds = fcnet::load_dataset(h, unlabeled());
  EXPECT_EQ(ds.n, 2);
  EXPECT_EQ(ds.d, 3);
  EXPECT_FALSE(ds.has_labels());
  EXPECT_EQ(stored<float>(ds), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  const auto nh = write("pn.csv", "1,2,3\n4,5,6\n");
  ds = fcnet::load_dataset(nh, unlabeled());
  EXPECT_EQ(ds.d, 3);
  EXPECT_EQ(ds.n, 2);
  // A column named label still counts as labels.
  const auto l = write("pl.csv", "a,label\n1.25,1\n");
  ds = fcnet::load_dataset(l, unlabeled());
  EXPECT_EQ(ds.d, 1);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"1"}));
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{0}));
}

TEST_F(DataFiles, CsvValuesThatAreNotFloatsAreKeptAsDouble) {
  const auto p = write("d.csv", "label,x\n0,0.1\n1,16777217\n");
  const Dataset ds = fcnet::load_dataset(p);
  EXPECT_EQ(ds.dtype, DType::f64);
  EXPECT_EQ(stored<double>(ds), (std::vector<double>{0.1, 16777217.0}));
}

TEST_F(DataFiles, CsvMalformedFilesNameFileAndLine) {
  auto bad = [&](const std::string& name, const std::string& text,
                 std::initializer_list<std::string> parts, LoadOptions o = {}) {
    const auto p = write(name, text);
    SCOPED_TRACE(name);
    std::vector<std::string> all(parts);
    try {
      fcnet::load_dataset(p, o);
      ADD_FAILURE() << "no error for " << name;
    } catch (const fcnet::Error& e) {
      const std::string msg = e.what();
      for (const auto& s : all) EXPECT_NE(msg.find(s), std::string::npos) << msg << " lacks " << s;
      EXPECT_EQ(msg.rfind(p, 0), 0u) << msg;
    }
  };
  bad("ragged.csv", "label,a,b\n0,1,2\n1,2\n", {":3:", "2 fields", "expected 3"});
  auto numeric = [](std::vector<std::string> cols) {
    LoadOptions o;
    o.numeric = std::move(cols);
    return o;
  };
  bad("text.csv", "label,a,b\n0,1,2\n1,abc,2\n", {":3:", "column 'a'", "'abc'", "a number"},
      numeric({"a"}));
  bad("text_nh.csv", "0,1,2\n1,2,x\n", {":2:", "column '2'", "'x'"}, numeric({"2"}));
  bad("inf.csv", "label,a\n0,-inf\n", {":2:", "infinite"});
  bad("huge.csv", "label,a\n0,1e999\n", {":2:", "infinite"});
  bad("empty_label.csv", "label,a\n0,1\nNA,2\n", {":3:", "empty label 'NA'"});
  bad("empty.csv", "", {"empty file"});
  bad("blank.csv", "\n  \n\r\n", {"empty file"});
  bad("header_only.csv", "label,a,b\n", {"header only"});
  bad("no_label.csv", "a,b\n1,2\n", {":1:", "no column named 'y'"}, [] {
    LoadOptions o;
    o.label_col = "y";
    return o;
  }());
  bad("index_model.csv", "label,a\n0,1\ncat,2\n", {":3:", "label 'cat'", "indices"}, [] {
    LoadOptions o;
    o.index_labels = true;
    return o;
  }());
  bad("unclosed.csv", "label,a\n0,1\n1,\"2\n3,4\n", {":3:", "never closed"});
  bad("after_quote.csv", "label,a\n0,\"1\"x\n", {":2:", "after the closing quote"});
  bad("only_label.csv", "label\n1\n", {":1:", "no feature columns"});
  bad("model_classes.csv", "label,a\n0,1\n2,1\n", {":2:", "unknown class '0'", "a, b"}, [] {
    LoadOptions o;
    o.known_classes = {"a", "b"};
    return o;
  }());
}

// ---------------------------------------------------------------------------------------------
// NPY

TEST_F(DataFiles, NpyNaNAndInfinitiesAreRefusedWhereTheyStand) {
  // An array has no missing-value marker: train, eval and predict would otherwise compute with
  // them (a NaN row got a believable answer, an infinite one NaN probabilities).
  const double inf = std::numeric_limits<double>::infinity();
  for (const auto& [descr, bad, what] :
       {std::tuple{"<f8", std::nan(""), "holds NaN at row 2, column 1"},
        std::tuple{"<f4", -inf, "holds an infinity at row 2, column 1"}}) {
    std::vector<double> x = {0.5, 1, 2, 3, 4, 5, 6, 7};
    x[5] = bad;  // row 2 of 4 rows × 2 columns
    const std::string payload = std::string(descr) == "<f8"
                                    ? raw_payload(x)
                                    : raw_payload(std::vector<float>(x.begin(), x.end()));
    const auto f =
        write(std::string("bad") + descr[2] + ".npy", npy_file(descr, "(4, 2)", payload));
    expect_error([&] { fcnet::load_dataset(f); }, {f, what, "(counted from 0)", "finite numbers"});
  }
}

TEST_F(DataFiles, NpyFeaturesOfEachDtypeAndLabelsOfEachIntegerType) {
  const std::vector<float> xf = {0.5f, -1.f, 2.f, 1e-3f, 3.f, -7.25f};
  const std::vector<double> xd = {0.1, -1e200, 2, 3, 4, 5};
  const std::vector<uint8_t> xu = {0, 255, 17, 3, 99, 128};
  const auto f = write("xf.npy", npy_file("<f4", "(3, 2)", raw_payload(xf)));
  const auto d = write("xd.npy", npy_file("<f8", "(3, 2)", raw_payload(xd), 2));
  const auto u = write("xu.npy", npy_file("|u1", "(3, 2)", raw_payload(xu), 3));
  const std::vector<int32_t> want = {2, 0, 1};
  const std::vector<std::string> labels = {
      write("i32.npy", npy_file("<i4", "(3,)", raw_payload<int32_t>({2, 0, 1}))),
      write("i64.npy", npy_file("<i8", "(3,)", raw_payload<int64_t>({2, 0, 1}))),
      write("u8.npy", npy_file("|u1", "(3,)", raw_payload<uint8_t>({2, 0, 1}))),
      write("i16.npy", npy_file("<i2", "(3,)", raw_payload<int16_t>({2, 0, 1}))),
      write("u16.npy", npy_file("<u2", "(3,)", raw_payload<uint16_t>({2, 0, 1}))),
      write("col.npy", npy_file("<i8", "(3, 1)", raw_payload<int64_t>({2, 0, 1}))),
      write("f8.npy", npy_file("<f8", "(3,)", raw_payload<double>({2, 0, 1}))),
      write("lab.csv", "y\n2\n0\n1\n"),
  };
  for (const auto& l : labels) {
    SCOPED_TRACE(l);
    const Dataset a = fcnet::load_dataset(f, with_labels(l));
    EXPECT_EQ(a.labels, want);
    EXPECT_EQ(a.dtype, DType::f32);
    EXPECT_EQ(a.n, 3);
    EXPECT_EQ(a.d, 2);
    EXPECT_EQ(stored<float>(a), xf);
  }
  const Dataset b = fcnet::load_dataset(d, with_labels(labels[0]));
  EXPECT_EQ(b.dtype, DType::f64);
  EXPECT_EQ(stored<double>(b), xd);
  const Dataset c = fcnet::load_dataset(u, with_labels(labels[0]));
  EXPECT_EQ(c.dtype, DType::u8);
  EXPECT_EQ(stored<uint8_t>(c), xu);
  // gzip-compressed NPY works the same.
  const auto gz = write_gz("xf.npy.gz", npy_file("<f4", "(3, 2)", raw_payload(xf)));
  EXPECT_EQ(stored<float>(fcnet::load_dataset(gz, with_labels(labels[1]))), xf);
  // A class-name label file.
  const auto names = write("names.csv", "\"b\"\na\nb\n");
  const Dataset e = fcnet::load_dataset(f, with_labels(names));
  EXPECT_EQ(e.class_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(e.labels, (std::vector<int32_t>{1, 0, 1}));
}

TEST_F(DataFiles, NpyMalformedFilesAreRejected) {
  const std::vector<float> xf = {0.5f, -1.f, 2.f, 1e-3f, 3.f, -7.25f};
  const auto lab = write("lab.npy", npy_file("<i8", "(3,)", raw_payload<int64_t>({2, 0, 1})));
  auto bad = [&](const std::string& name, const std::string& bytes,
                 std::initializer_list<std::string> parts) {
    const auto p = write(name, bytes);
    SCOPED_TRACE(name);
    std::vector<std::string> all(parts);
    all.push_back(p);
    try {
      fcnet::load_dataset(p, with_labels(lab));
      ADD_FAILURE() << "no error for " << name;
    } catch (const fcnet::Error& e) {
      for (const auto& s : all)
        EXPECT_NE(std::string(e.what()).find(s), std::string::npos) << e.what() << " lacks " << s;
    }
  };
  bad("fortran.npy", npy_file("<f4", "(3, 2)", raw_payload(xf), 1, "True"), {"Fortran"});
  bad("big.npy", npy_file(">f4", "(3, 2)", raw_payload(xf)), {"big-endian"});
  bad("magic.npy", std::string("\x93NUMPX\x01\x00", 8) + std::string(40, '\0'), {"bad NPY magic"});
  bad("onedim.npy", npy_file("<f4", "(6,)", raw_payload(xf)), {"shape (6,)", "2-D"});
  bad("short.npy", npy_file("<f4", "(4, 2)", raw_payload(xf)), {"truncated", "32", "holds 24"});
  bad("long.npy", npy_file("<f4", "(2, 2)", raw_payload(xf)), {"trailing bytes"});
  bad("int.npy", npy_file("<i4", "(3, 2)", raw_payload(xf)), {"'<i4'", "float32"});
  bad("struct.npy", npy_file("<f4", "(3, 2)", raw_payload(xf)).replace(20, 5, "[('a'"),
      {"bad NPY header"});
  bad("syntax.npy", npy_file("<f4", "[3, 2]", raw_payload(xf)), {"bad NPY header"});
  bad("version.npy", npy_file("<f4", "(3, 2)", raw_payload(xf), 9), {"version 9"});
  bad("ovf.npy", npy_file("<f4", "(99999999999, 99999999999)", raw_payload(xf)), {"overflow"});
  bad("hugehdr.npy", std::string("\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12), {"header length"});

  // Labels: negative, fractional, wrong count, wrong shape.
  const auto x = write("x.npy", npy_file("<f4", "(3, 2)", raw_payload(xf)));
  auto bad_labels = [&](const std::string& name, const std::string& bytes,
                        std::initializer_list<std::string> parts) {
    const auto p = write(name, bytes);
    SCOPED_TRACE(name);
    std::vector<std::string> all(parts);
    all.push_back(p);
    try {
      fcnet::load_dataset(x, with_labels(p));
      ADD_FAILURE() << "no error for " << name;
    } catch (const fcnet::Error& e) {
      for (const auto& s : all)
        EXPECT_NE(std::string(e.what()).find(s), std::string::npos) << e.what() << " lacks " << s;
    }
  };
  bad_labels("neg.npy", npy_file("<i4", "(3,)", raw_payload<int32_t>({0, -2, 1})),
             {"label -2 at index 1"});
  bad_labels("frac.npy", npy_file("<f8", "(3,)", raw_payload<double>({0, 1.5, 1})),
             {"label 1.5 at index 1"});
  bad_labels("count.npy", npy_file("<i4", "(2,)", raw_payload<int32_t>({0, 1})),
             {"holds 2 labels", "holds 3 examples"});
  bad_labels("shape.npy", npy_file("<i4", "(1, 2)", raw_payload<int32_t>({0, 1})),
             {"shape (1, 2)"});
  bad_labels("bool.npy", npy_file("|b1", "(3,)", std::string(3, '\1')), {"'|b1'"});
  // Labels required but not given.
  expect_error([&] { fcnet::load_dataset(x); }, {x, "--labels"});
}

TEST_F(DataFiles, UnrecognizedBinaryIsReported) {
  const auto p = write("blob.bin", std::string("\x01\x02\x00\x04zzzz", 8));
  expect_error([&] { fcnet::load_dataset(p); }, {p, "unrecognized", "01 02 00 04"});
}

// ---------------------------------------------------------------------------------------------
// Transform

namespace {
Dataset make_f32(int64_t n, int64_t d, const std::vector<float>& v) {
  Dataset ds;
  ds.n = n;
  ds.d = d;
  ds.dtype = DType::f32;
  ds.bytes.resize(v.size() * 4);
  std::memcpy(ds.bytes.data(), v.data(), ds.bytes.size());
  return ds;
}
}  // namespace

TEST(DataTransform, ParseNormalize) {
  EXPECT_EQ(fcnet::parse_normalize("auto"), fcnet::Normalize::automatic);
  EXPECT_EQ(fcnet::parse_normalize("none"), fcnet::Normalize::none);
  EXPECT_EQ(fcnet::parse_normalize("scale"), fcnet::Normalize::scale);
  EXPECT_EQ(fcnet::parse_normalize("standardize"), fcnet::Normalize::standardize);
  expect_error([] { fcnet::parse_normalize("zscore"); },
               {"--normalize", "'zscore'", "standardize"});
}

TEST(DataTransform, FitModes) {
  Dataset u8;
  u8.n = 2;
  u8.d = 2;
  u8.dtype = DType::u8;
  u8.bytes = {0, 10, 255, 10};
  auto a = fcnet::fit_transform(u8, fcnet::Normalize::automatic);
  EXPECT_DOUBLE_EQ(a.scale, 1.0 / 255.0);
  EXPECT_TRUE(a.mean.empty());
  EXPECT_TRUE(a.std.empty());
  EXPECT_TRUE(fcnet::fit_transform(u8, fcnet::Normalize::none).identity());
  EXPECT_DOUBLE_EQ(fcnet::fit_transform(u8, fcnet::Normalize::scale).scale, 1.0 / 255.0);
  // Standardized uint8: column 0 holds {0, 255} → scaled {0, 1}: mean 0.5, std 0.5; column 1 is
  // constant → std 1.
  auto s = fcnet::fit_transform(u8, fcnet::Normalize::standardize);
  EXPECT_DOUBLE_EQ(s.scale, 1.0 / 255.0);
  ASSERT_EQ(s.mean.size(), 2u);
  EXPECT_DOUBLE_EQ(s.mean[0], 0.5);
  EXPECT_DOUBLE_EQ(s.std[0], 0.5);
  EXPECT_DOUBLE_EQ(s.mean[1], 10.0 / 255.0);
  EXPECT_DOUBLE_EQ(s.std[1], 1.0);

  // float: column 0 {1, 2, 6}: mean 3, population variance (4+1+9)/3; column 1 constant 5.
  const Dataset f = make_f32(3, 2, {1, 5, 2, 5, 6, 5});
  EXPECT_TRUE(fcnet::fit_transform(f, fcnet::Normalize::scale).identity());
  for (auto mode : {fcnet::Normalize::automatic, fcnet::Normalize::standardize}) {
    auto t = fcnet::fit_transform(f, mode);
    EXPECT_DOUBLE_EQ(t.scale, 1.0);
    EXPECT_DOUBLE_EQ(t.mean[0], 3.0);
    EXPECT_DOUBLE_EQ(t.std[0], std::sqrt(14.0 / 3.0));
    EXPECT_DOUBLE_EQ(t.mean[1], 5.0);
    EXPECT_DOUBLE_EQ(t.std[1], 1.0);
    // Applied: row 2 → ((6-3)/sqrt(14/3), 0); row 0 → ((1-3)/sqrt(14/3), 0).
    fcnet::Matrix<double> out(2, 2);
    const int64_t idx[] = {2, 0};
    fcnet::gather_batch(out.view(), f, idx, 2, t);
    EXPECT_NEAR(out(0, 0), 3.0 / std::sqrt(14.0 / 3.0), 1e-14);
    EXPECT_NEAR(out(1, 0), -2.0 / std::sqrt(14.0 / 3.0), 1e-14);
    EXPECT_EQ(out(0, 1), 0.0);
    EXPECT_EQ(out(1, 1), 0.0);
  }
  // A large offset does not cancel the variance (values 1e6+{0,1,2}: std sqrt(2/3)).
  const Dataset off = make_f32(3, 1, {1e6f, 1e6f + 1, 1e6f + 2});
  auto t = fcnet::fit_transform(off, fcnet::Normalize::standardize);
  EXPECT_DOUBLE_EQ(t.mean[0], 1e6 + 1);
  EXPECT_NEAR(t.std[0], std::sqrt(2.0 / 3.0), 1e-12);
  // Magnitudes whose squares overflow or underflow a double: {1, 2, 3, 4}·s has mean 2.5·s and
  // std sqrt(1.25)·s (the sum of squares was infinite at 1e200 and lost to underflow at 1e-200).
  // Beside them, an ordinary column keeps the bits of the plain formula.
  for (const double s : {1e200, 1e-200, 1e300, 3e-300}) {
    Dataset big;
    big.n = 4;
    big.d = 2;
    big.dtype = DType::f64;
    const std::vector<double> v = {1 * s, 0.1, 2 * s, 0.7, 3 * s, 0.2, 4 * s, 0.3};
    big.bytes.resize(v.size() * sizeof(double));
    std::memcpy(big.bytes.data(), v.data(), big.bytes.size());
    auto b = fcnet::fit_transform(big, fcnet::Normalize::standardize);
    EXPECT_NEAR(b.mean[0] / s, 2.5, 1e-15) << s;
    EXPECT_NEAR(b.std[0] / (std::sqrt(1.25) * s), 1.0, 1e-15) << s;
    const double m = (0.1 + 0.7 + 0.2 + 0.3) / 4;
    double sq = 0;
    for (double x : {0.1, 0.7, 0.2, 0.3}) sq += (x - m) * (x - m);
    EXPECT_EQ(b.std[1], std::sqrt(sq / 4)) << s;
  }
}

TEST(DataTransform, PrepareChecksTheTransform) {
  fcnet::InputTransform t;
  t.mean = {1, 2};
  expect_error([&] { fcnet::prepare_transform(t, 3); }, {"input transform", "input_mean has 2"});
  t.mean = {1, 2, 3};
  t.std = {1, 0, 1};
  expect_error([&] { fcnet::prepare_transform(t, 3); }, {"input_std[1]", "positive"});
  t.std = {2, 4, 0.5};
  t.scale = 0.5;
  const auto p = fcnet::prepare_transform(t, 3);
  EXPECT_EQ(p.kind, fcnet::PreparedTransform::Kind::affine);
  // x' = (0.5x - m)/s  →  mul = 0.5/s, add = -m/s
  EXPECT_DOUBLE_EQ(p.mul_d[1], 0.125);
  EXPECT_DOUBLE_EQ(p.add_d[1], -0.5);
  EXPECT_DOUBLE_EQ(p.mul_d[2], 1.0);
  EXPECT_DOUBLE_EQ(p.add_d[2], -6.0);
  EXPECT_FLOAT_EQ(p.add_f[0], -0.5f);
}

// ---------------------------------------------------------------------------------------------
// Gather

namespace {

Dataset random_dataset(DType t, int64_t n, int64_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  Dataset ds;
  ds.n = n;
  ds.d = d;
  ds.dtype = t;
  ds.bytes.resize(static_cast<std::size_t>(n * d) * fcnet::dtype_size(t));
  std::uniform_real_distribution<double> u(-3, 7);
  for (int64_t k = 0; k < n * d; ++k) {
    if (t == DType::u8) {
      ds.bytes[k] = static_cast<uint8_t>(1 + rng() % 255);
    } else if (t == DType::f32) {
      const auto v = static_cast<float>(u(rng));
      std::memcpy(ds.bytes.data() + 4 * k, &v, 4);
    } else {
      const double v = u(rng);
      std::memcpy(ds.bytes.data() + 8 * k, &v, 8);
    }
  }
  return ds;
}

double value_at(const Dataset& ds, int64_t i, int64_t j) {
  const uint8_t* r = ds.row_bytes(i);
  if (ds.dtype == DType::u8) return r[j];
  if (ds.dtype == DType::f32) {
    float v;
    std::memcpy(&v, r + 4 * j, 4);
    return v;
  }
  double v;
  std::memcpy(&v, r + 8 * j, 8);
  return v;
}

template <class T>
void check_gather_against_naive(DType t, int64_t n, int64_t d, int64_t count) {
  const Dataset ds = random_dataset(t, n, d, static_cast<uint32_t>(n * 31 + d));
  std::mt19937 rng(5);
  std::vector<int64_t> idx(count);
  for (auto& i : idx) i = static_cast<int64_t>(rng() % static_cast<uint32_t>(n));
  idx[0] = n - 1;
  std::vector<fcnet::InputTransform> tfs(3);
  tfs[1].scale = 1.0 / 255.0;
  tfs[2].scale = 0.5;
  std::uniform_real_distribution<double> u(0.2, 3);
  for (int64_t j = 0; j < d; ++j) {
    tfs[2].mean.push_back(u(rng) - 1);
    tfs[2].std.push_back(u(rng));
  }
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  for (const auto& tf : tfs) {
    // Output with padding columns, which must stay untouched.
    const int64_t ld = d + 3;
    std::vector<T> buf(static_cast<std::size_t>(count * ld), T(-999));
    fcnet::MatrixView<T> out(buf.data(), count, d, ld);
    fcnet::gather_batch(out, ds, idx.data(), count, fcnet::prepare_transform(tf, d));
    for (int64_t r = 0; r < count; ++r) {
      for (int64_t j = 0; j < d; ++j) {
        const double x = value_at(ds, idx[r], j);
        const double m = tf.mean.empty() ? 0.0 : tf.mean[j];
        const double s = tf.std.empty() ? 1.0 : tf.std[j];
        const double want = (x * tf.scale - m) / s;
        const double mag = 1 + std::abs(x * tf.scale / s) + std::abs(m / s);
        ASSERT_NEAR(out(r, j), want, tol * mag)
            << fcnet::dtype_name(t) << " row " << r << " col " << j;
      }
      for (int64_t j = d; j < ld; ++j) ASSERT_EQ(buf[r * ld + j], T(-999));
    }
  }
}

}  // namespace

TEST(DataGather, MatchesNaiveLoopForEveryTypePair) {
  for (DType t : {DType::u8, DType::f32, DType::f64}) {
    check_gather_against_naive<float>(t, 1, 1, 1);
    check_gather_against_naive<double>(t, 1, 1, 1);
    check_gather_against_naive<float>(t, 53, 37, 41);
    check_gather_against_naive<double>(t, 53, 37, 41);
    // Large enough for the multi-threaded path.
    check_gather_against_naive<float>(t, 700, 784, 256);
    check_gather_against_naive<double>(t, 700, 784, 256);
  }
}

namespace {

// The same values stored as `t`, n rows × d columns.
Dataset stored_as(DType t, int64_t n, int64_t d, const std::vector<double>& v) {
  Dataset ds;
  ds.n = n;
  ds.d = d;
  ds.dtype = t;
  ds.bytes.resize(v.size() * fcnet::dtype_size(t));
  for (std::size_t k = 0; k < v.size(); ++k) {
    if (t == DType::u8) {
      ds.bytes[k] = static_cast<uint8_t>(v[k]);
    } else if (t == DType::f32) {
      const auto f = static_cast<float>(v[k]);
      std::memcpy(ds.bytes.data() + 4 * k, &f, 4);
    } else {
      std::memcpy(ds.bytes.data() + 8 * k, &v[k], 8);
    }
  }
  return ds;
}

// (x·scale − mean)/std in long double, from the transform's own statistics, not its factors.
void expect_standardized(const fcnet::Matrix<float>& got, const std::vector<double>& v, int64_t d,
                         const fcnet::InputTransform& tf, const char* what) {
  for (int64_t i = 0; i < got.rows(); ++i)
    for (int64_t j = 0; j < d; ++j) {
      const long double x = v[static_cast<std::size_t>(i * d + j)];
      const long double want = (x * static_cast<long double>(tf.scale) - tf.mean[j]) / tf.std[j];
      ASSERT_NEAR(got(i, j), static_cast<double>(want),
                  1e-6 * std::max(1.0, std::abs(static_cast<double>(want))))
          << what << " row " << i << " col " << j;
    }
}

}  // namespace

// Epoch seconds (~1.7e9, spread ~1000): −mean/std is ~−2e6, so x·mul + add in float cancels to
// noise. Float data must gather what double data with the same values gathers, and both the
// standardized values themselves.
TEST(DataGather, LargeOffsetsGatherTheSameFromFloatAndDoubleData) {
  const int64_t n = 300, d = 3;
  std::mt19937 rng(7);
  std::normal_distribution<double> spread(0, 1000);
  std::vector<double> exact, inexact;  // multiples of 128 (exact floats) and whole seconds
  for (int64_t k = 0; k < n * d; ++k) {
    const double t = 1.7e9 + static_cast<double>(k % d) * 1e7 + spread(rng);
    exact.push_back(std::round(t / 128) * 128);
    inexact.push_back(std::round(t));
  }
  const Dataset as_f32 = stored_as(DType::f32, n, d, exact);
  const Dataset as_f64 = stored_as(DType::f64, n, d, exact);
  const Dataset wide = stored_as(DType::f64, n, d, inexact);
  const auto tf = fcnet::fit_transform(wide, fcnet::Normalize::standardize);
  const auto a = fcnet::to_matrix<float>(as_f32, tf);
  const auto b = fcnet::to_matrix<float>(as_f64, tf);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) ASSERT_EQ(a(i, j), b(i, j)) << "row " << i << " col " << j;
  expect_standardized(a, exact, d, tf, "f32 data");
  expect_standardized(b, exact, d, tf, "f64 data");
  expect_standardized(fcnet::to_matrix<float>(wide, tf), inexact, d, tf, "inexact f64 data");
  std::vector<int64_t> idx(64);
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>((i * 37) % n);
  fcnet::Matrix<float> batch(64, d);
  fcnet::gather_batch(batch.view(), as_f32, idx.data(), 64, tf);
  for (int64_t i = 0; i < 64; ++i)
    for (int64_t j = 0; j < d; ++j) ASSERT_EQ(batch(i, j), a(idx[i], j));
}

// uint8 data keeps the float transform only where it is exact enough: a column of 255s with one
// 254 in 20000 rows has −mean/std ≈ −3.6e4, which float cannot hold to 1e-6 of the results.
TEST(DataGather, NearlyConstantUint8ColumnStandardizesExactly) {
  const int64_t n = 20000, d = 2;
  std::vector<double> v;
  for (int64_t i = 0; i < n; ++i) {
    v.push_back(i == 5 ? 254 : 255);
    v.push_back(static_cast<double>((i * 7) % 256));
  }
  const Dataset u8 = stored_as(DType::u8, n, d, v);
  const auto tf = fcnet::fit_transform(u8, fcnet::Normalize::standardize);
  EXPECT_FALSE(fcnet::prepare_transform(tf, d).u8_float);
  // The second column alone varies over its range: it keeps the float fast path.
  fcnet::InputTransform varied = tf;
  varied.mean = {tf.mean[1]};
  varied.std = {tf.std[1]};
  EXPECT_TRUE(fcnet::prepare_transform(varied, 1).u8_float);
  const auto m = fcnet::to_matrix<float>(u8, tf);
  expect_standardized(m, v, d, tf, "u8 data");
  const auto wide = fcnet::to_matrix<float>(stored_as(DType::f64, n, d, v), tf);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) ASSERT_NEAR(m(i, j), wide(i, j), 1e-6) << i << " " << j;
}

TEST(DataGather, IdentityOnSameTypeCopiesExactly) {
  const Dataset ds = random_dataset(DType::f32, 9, 5, 3);
  fcnet::Matrix<float> out(3, 5);
  const int64_t idx[] = {4, 4, 8};
  fcnet::gather_batch(out.view(), ds, idx, 3, fcnet::InputTransform{});
  for (int64_t j = 0; j < 5; ++j) {
    EXPECT_EQ(out(0, j), static_cast<float>(value_at(ds, 4, j)));
    EXPECT_EQ(out(2, j), static_cast<float>(value_at(ds, 8, j)));
  }
}

TEST(DataGather, RejectsBadIndicesAndShapes) {
  Dataset ds = random_dataset(DType::u8, 4, 3, 1);
  ds.source = "toy.csv";
  fcnet::Matrix<float> out(2, 3);
  const int64_t bad[] = {1, 4};
  expect_error([&] { fcnet::gather_batch(out.view(), ds, bad, 2, fcnet::InputTransform{}); },
               {"toy.csv", "batch index 4 is out of range", "0..3"});
  const int64_t neg[] = {-1, 0};
  expect_error([&] { fcnet::gather_batch(out.view(), ds, neg, 2, fcnet::InputTransform{}); },
               {"batch index -1"});
  fcnet::Matrix<float> wrong(2, 4);
  const int64_t ok[] = {0, 1};
  expect_error([&] { fcnet::gather_batch(wrong.view(), ds, ok, 2, fcnet::InputTransform{}); },
               {"toy.csv", "2x3"});
}

TEST(DataGather, ToMatrixConvertsTheWholeSet) {
  const Dataset ds = random_dataset(DType::u8, 6, 4, 9);
  fcnet::InputTransform tf;
  tf.scale = 1.0 / 255.0;
  const auto m = fcnet::to_matrix<double>(ds, tf);
  ASSERT_EQ(m.rows(), 6);
  ASSERT_EQ(m.cols(), 4);
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 4; ++j) EXPECT_NEAR(m(i, j), value_at(ds, i, j) / 255.0, 1e-15);
}

// ---------------------------------------------------------------------------------------------
// Dataset basics

TEST(DataSet, SubsetTypesAndClasses) {
  EXPECT_STREQ(fcnet::dtype_name(DType::u8), "uint8");
  EXPECT_STREQ(fcnet::dtype_name(DType::f32), "float32");
  EXPECT_STREQ(fcnet::dtype_name(DType::f64), "float64");
  EXPECT_EQ(fcnet::dtype_size(DType::u8), 1u);
  EXPECT_EQ(fcnet::dtype_size(DType::f32), 4u);
  EXPECT_EQ(fcnet::dtype_size(DType::f64), 8u);

  Dataset ds = make_f32(4, 2, {1, 2, 3, 4, 5, 6, 7, 8});
  ds.labels = {0, 3, 1, 1};
  EXPECT_EQ(ds.num_classes(), 4);
  const Dataset s = ds.subset({3, 0, 3});
  EXPECT_EQ(s.n, 3);
  EXPECT_EQ(s.d, 2);
  EXPECT_EQ(stored<float>(s), (std::vector<float>{7, 8, 1, 2, 7, 8}));
  EXPECT_EQ(s.labels, (std::vector<int32_t>{1, 0, 1}));
  EXPECT_EQ(s.num_classes(), 2);
  ds.class_names = {"a", "b", "c", "d", "e"};
  EXPECT_EQ(ds.num_classes(), 5);
  EXPECT_EQ(ds.subset({1}).num_classes(), 5);
  ds.source = "toy";
  expect_error([&] { ds.subset({4}); }, {"toy", "subset index 4"});
}

// The canonical order is a function of the multiset of rows: the same rows, labels and weights in
// another order (a subset of them given by index, duplicates, the same bytes with another label or
// weight among them) sort to the same sequence. Rows of 13 values exercise the hash's tail.
TEST(DataSet, CanonicalOrderDependsOnlyOnTheRows) {
  constexpr std::size_t width = 13;
  std::mt19937 gen(11);
  std::vector<uint8_t> distinct(40 * width);
  for (auto& b : distinct) b = static_cast<uint8_t>(gen() % 3);  // few values: near-equal rows
  std::vector<uint8_t> rows;
  std::vector<int32_t> labels;
  std::vector<double> weights;
  for (int k = 0; k < 120; ++k) {  // each distinct row three times, labels and weights varied
    const std::size_t r = static_cast<std::size_t>(k % 40);
    rows.insert(rows.end(), distinct.begin() + static_cast<std::ptrdiff_t>(r * width),
                distinct.begin() + static_cast<std::ptrdiff_t>((r + 1) * width));
    labels.push_back(k % 2);
    weights.push_back(k % 3 == 0 ? 0.5 : 2.0);
  }
  rows.push_back(0);  // one row more, left out of idx: never read as part of the others
  auto sequence = [&](const std::vector<int64_t>& idx, const std::vector<uint8_t>& r,
                      const std::vector<int32_t>& l, const std::vector<double>& w) {
    std::vector<int64_t> sorted = idx;
    fcnet::sort_rows_canonically(sorted, r.data(), DType::u8, width, l.data(), w.data());
    std::vector<std::pair<std::vector<uint8_t>, std::pair<int32_t, double>>> out;
    for (int64_t i : sorted) {
      const auto* p = r.data() + static_cast<std::size_t>(i) * width;
      out.push_back({std::vector<uint8_t>(p, p + width), {l[i], w[i]}});
    }
    return out;
  };
  std::vector<int64_t> all(120);
  for (int64_t i = 0; i < 120; ++i) all[static_cast<std::size_t>(i)] = i;
  const auto want = sequence(all, rows, labels, weights);
  // The same rows permuted: row k of the copy is row perm[k] of the original.
  std::vector<int64_t> perm = all;
  std::shuffle(perm.begin(), perm.end(), gen);
  std::vector<uint8_t> rows2(rows.size(), 0);
  std::vector<int32_t> labels2(120);
  std::vector<double> weights2(120);
  for (std::size_t k = 0; k < 120; ++k) {
    const auto i = static_cast<std::size_t>(perm[k]);
    std::memcpy(rows2.data() + k * width, rows.data() + i * width, width);
    labels2[k] = labels[i];
    weights2[k] = weights[i];
  }
  EXPECT_TRUE(sequence(all, rows2, labels2, weights2) == want) << "the rows permuted";
  // Listed by index in another order, the rows of one table sort alike too.
  EXPECT_TRUE(sequence(perm, rows, labels, weights) == want) << "the indices permuted";
  // Without labels and weights, by the bytes alone.
  std::vector<int64_t> a = all, b = perm;
  fcnet::sort_rows_canonically(a, rows.data(), DType::u8, width, nullptr, nullptr);
  fcnet::sort_rows_canonically(b, rows.data(), DType::u8, width, nullptr, nullptr);
  for (std::size_t k = 0; k < 120; ++k)
    ASSERT_EQ(std::memcmp(rows.data() + static_cast<std::size_t>(a[k]) * width,
                          rows.data() + static_cast<std::size_t>(b[k]) * width, width),
              0);
  // The same numbers stored as float32 or float64 sort as the uint8 rows do.
  const std::vector<float> f(rows.begin(), rows.end());
  const std::vector<double> g(rows.begin(), rows.end());
  std::vector<int64_t> as_f32 = all, as_f64 = all, as_u8 = all;
  fcnet::sort_rows_canonically(as_u8, rows.data(), DType::u8, width, labels.data(), weights.data());
  fcnet::sort_rows_canonically(as_f32, reinterpret_cast<const uint8_t*>(f.data()), DType::f32,
                               width, labels.data(), weights.data());
  fcnet::sort_rows_canonically(as_f64, reinterpret_cast<const uint8_t*>(g.data()), DType::f64,
                               width, labels.data(), weights.data());
  EXPECT_EQ(as_f32, as_u8);
  EXPECT_EQ(as_f64, as_u8);
}

// ---------------------------------------------------------------------------------------------
// Fashion-MNIST

namespace {
std::string gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  std::string out;
  if (f == nullptr) return out;
  char buf[1 << 16];
  int r;
  while ((r = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(r));
  gzclose(f);
  return out;
}

class EnvVar {
 public:
  EnvVar(const char* name, const std::string& value) : name_(name) {
    const char* old = std::getenv(name);
    if (old != nullptr) old_ = old, had_ = true;
    ::setenv(name, value.c_str(), 1);
  }
  ~EnvVar() {
    if (had_)
      ::setenv(name_, old_.c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};
}  // namespace

TEST(DataSet, CanonicalOrderTakesMinusZeroForZero) {
  // The same numbers, one table writing a zero as -0: the same order of rows.
  std::mt19937 gen(5);
  std::vector<double> plus(200 * 3), minus;
  for (auto& v : plus) v = static_cast<double>(gen() % 3);  // many zeros
  minus = plus;
  for (auto& v : minus)
    if (v == 0) v = -0.0;
  std::vector<int64_t> a(200), b(200);
  for (int64_t i = 0; i < 200; ++i)
    a[static_cast<std::size_t>(i)] = b[static_cast<std::size_t>(i)] = i;
  fcnet::sort_rows_canonically(a, reinterpret_cast<const uint8_t*>(plus.data()), DType::f64, 3,
                               nullptr, nullptr);
  fcnet::sort_rows_canonically(b, reinterpret_cast<const uint8_t*>(minus.data()), DType::f64, 3,
                               nullptr, nullptr);
  for (std::size_t k = 0; k < 200; ++k)
    for (std::size_t j = 0; j < 3; ++j)
      ASSERT_EQ(plus[static_cast<std::size_t>(a[k]) * 3 + j],
                minus[static_cast<std::size_t>(b[k]) * 3 + j])
          << "row " << k;
}

TEST(DataFashionMnist, RealFilesLoadWithTheirLabels) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (std::getenv("FCNET_FASHION_MNIST_DIR") != nullptr ||
      !fs::exists(dir + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const std::string labels = gunzip(dir + "/train-labels-idx1-ubyte.gz");
  const std::string images = gunzip(dir + "/train-images-idx3-ubyte.gz");
  ASSERT_EQ(labels.size(), 60008u);
  ASSERT_EQ(images.size(), 16u + 60000u * 784u);

  const Dataset train = fcnet::load_dataset("fashion-mnist:train");
  EXPECT_EQ(train.n, 60000);
  EXPECT_EQ(train.d, 784);
  EXPECT_EQ(train.dtype, DType::u8);
  EXPECT_EQ(train.image_shape, (std::vector<int64_t>{28, 28}));
  EXPECT_EQ(train.source, "fashion-mnist:train");
  EXPECT_EQ(train.class_names, fcnet::fashion_mnist_classes());
  EXPECT_EQ(train.class_names[9], "Ankle boot");
  EXPECT_EQ(train.num_classes(), 10);
  ASSERT_EQ(train.labels.size(), 60000u);
  EXPECT_EQ(train.labels[0], static_cast<uint8_t>(labels[8]));
  EXPECT_EQ(train.labels[59999], static_cast<uint8_t>(labels[60007]));
  std::vector<int> hist(10, 0);
  for (int32_t y : train.labels) {
    ASSERT_GE(y, 0);
    ASSERT_LT(y, 10);
    ++hist[y];
  }
  for (int c = 0; c < 10; ++c) EXPECT_EQ(hist[c], 6000) << "class " << c;
  EXPECT_EQ(std::memcmp(train.bytes.data(), images.data() + 16, 784), 0);
  EXPECT_EQ(std::memcmp(train.row_bytes(59999), images.data() + 16 + 59999 * 784, 784), 0);

  const Dataset test = fcnet::load_dataset("fashion-mnist:test");
  EXPECT_EQ(test.n, 10000);
  EXPECT_EQ(test.d, 784);
  EXPECT_EQ(test.labels.size(), 10000u);
  LoadOptions o;
  o.default_split = "test";
  EXPECT_EQ(fcnet::load_dataset("fashion-mnist", o).n, 10000);
  EXPECT_EQ(fcnet::load_dataset("fashion-mnist").n, 60000);
}

TEST_F(DataFiles, FashionMnistDirectoryOverride) {
  write_gz("t10k-images-idx3-ubyte.gz", three_images());
  write_gz("t10k-labels-idx1-ubyte.gz", kThreeLabels);
  write("train-images-idx3-ubyte", three_images());  // uncompressed copies are found too
  write("train-labels-idx1-ubyte", idx_file(0x08, {3}, std::string{9, 9, 4}));
  EnvVar env("FCNET_FASHION_MNIST_DIR", dir_.string());
  EXPECT_EQ(fcnet::fashion_mnist_dir(), dir_.string());
  const Dataset t = fcnet::load_dataset("fashion-mnist:test");
  EXPECT_EQ(t.n, 3);
  EXPECT_EQ(t.labels, (std::vector<int32_t>{2, 0, 1}));
  EXPECT_EQ(t.class_names.size(), 10u);
  EXPECT_EQ(fcnet::load_dataset("fashion-mnist").labels, (std::vector<int32_t>{9, 9, 4}));
  expect_error([] { fcnet::load_dataset("fashion-mnist:valid"); },
               {"fashion-mnist:valid", "unknown Fashion-MNIST split 'valid'"});
  fs::remove(path("t10k-labels-idx1-ubyte.gz"));
  expect_error([] { fcnet::load_dataset("fashion-mnist:test"); },
               {"t10k-labels-idx1-ubyte.gz", "not found", "FCNET_FASHION_MNIST_DIR"});
}

// ---------------------------------------------------------------------------------------------
// Tables as people have them: dialects, roles, categories, gaps, label sets

// The stored features as doubles, whichever type they were kept in.
std::vector<double> values_of(const Dataset& ds) {
  if (ds.dtype == DType::f64) return stored<double>(ds);
  const std::vector<float> f = stored<float>(ds);
  return std::vector<double>(f.begin(), f.end());
}

// The same table written with , ; tab | (decimal commas with ;) reads to the same features.
TEST_F(DataFiles, CsvDialectsReadAlike) {
  const Dataset comma = fcnet::load_dataset(write("c.csv", "label,a,b\n1,0.5,2\n2,1.25,3\n"));
  const Dataset semi = fcnet::load_dataset(write("s.csv", "label;a;b\n1;0,5;2\n2;1,25;3\n"), [] {
    LoadOptions o;
    o.decimal = ',';
    return o;
  }());
  const Dataset tab = fcnet::load_dataset(write("t.tsv", "label\ta\tb\n1\t0.5\t2\n2\t1.25\t3\n"));
  const Dataset pipe = fcnet::load_dataset(write("p.csv", "label|a|b\n1|0.5|2\n2|1.25|3\n"));
  for (const Dataset* d : {&semi, &tab, &pipe}) {
    EXPECT_EQ(d->d, 2);
    EXPECT_EQ(stored<float>(*d), stored<float>(comma));
    EXPECT_EQ(d->class_names, (std::vector<std::string>{"1", "2"}));
    EXPECT_EQ(d->labels, (std::vector<int32_t>{0, 1}));
  }
  EXPECT_EQ(stored<float>(comma), (std::vector<float>{0.5f, 2, 1.25f, 3}));
}

// Text columns are one-hot encoded with their categories sorted; numeric gaps take the training
// mean and get an indicator feature; ids and ignored columns are never features.
TEST_F(DataFiles, CsvCategoriesGapsAndRoles) {
  const auto p = write("peng.csv",
                       "id,species,island,bill,sex,note\n"
                       "p1,Adelie,Torgersen,39.5,male,x\n"
                       "p2,Gentoo,Biscoe,NA,female,y\n"
                       "p3,Adelie,Dream,40.5,NA,z\n"
                       "p4,Chinstrap,Biscoe,48.0,female,w\n");
  LoadOptions o;
  o.label_col = "species";
  o.id_col = "id";
  o.ignore_cols = {"note"};
  const Dataset ds = fcnet::load_dataset(p, o);
  ASSERT_EQ(ds.schema.columns.size(), 3u);
  EXPECT_EQ(ds.schema.feature_names(),
            (std::vector<std::string>{"island=Biscoe", "island=Dream", "island=Torgersen", "bill",
                                      "bill=missing", "sex=female", "sex=male", "sex=missing"}));
  EXPECT_EQ(ds.d, 8);
  const double mean = (39.5 + 40.5 + 48.0) / 3;  // the fill of the gap
  EXPECT_DOUBLE_EQ(ds.schema.columns[1].fill, mean);
  const std::vector<double> want = {0, 0, 1, 39.5, 0, 0, 1, 0,  //
                                    1, 0, 0, mean, 1, 1, 0, 0,  //
                                    0, 1, 0, 40.5, 0, 0, 0, 1,  //
                                    1, 0, 0, 48.0, 0, 1, 0, 0};
  EXPECT_EQ(values_of(ds), want);
  EXPECT_EQ(ds.ids, (std::vector<std::string>{"p1", "p2", "p3", "p4"}));
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"Adelie", "Chinstrap", "Gentoo"}));
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{0, 2, 0, 1}));
  // With the schema: columns by name in any order, extra ones ignored, unseen categories counted.
  const auto q = write("q.csv",
                       "sex,extra,bill,island,species\n"
                       "male,9,39.5,Torgersen,Adelie\n"
                       "female,9,50,Mars,Gentoo\n");
  LoadOptions m;
  m.schema = &ds.schema;
  m.known_classes = ds.class_names;
  const Dataset e = fcnet::load_dataset(q, m);
  EXPECT_EQ(values_of(e), (std::vector<double>{0, 0, 1, 39.5, 0, 0, 1, 0,  //
                                               0, 0, 0, 50, 0, 1, 0, 0}));
  EXPECT_EQ(e.labels, (std::vector<int32_t>{0, 2}));
  ASSERT_EQ(e.unseen.size(), 1u);
  EXPECT_EQ(e.unseen[0], (std::pair<std::string, int64_t>{"island", 1}));
  // A slice (a rank's share, a validation split) keeps the schema and its rows' ids.
  const Dataset part = ds.subset({3, 1});
  EXPECT_EQ(part.schema.feature_names(), ds.schema.feature_names());
  EXPECT_EQ(part.ids, (std::vector<std::string>{"p4", "p2"}));
  EXPECT_EQ(part.labels, (std::vector<int32_t>{1, 2}));
  const auto r = write("r.csv", "species,island,sex\nAdelie,Dream,male\n");
  expect_error([&] { fcnet::load_dataset(r, m); }, {r, "lacks the column bill"});
}

// Whatever the label column holds is a set of class names; {1, 2} is two classes, {−1, 1} too;
// a continuous column is refused; a column of mostly distinct texts is not a category.
// A table handed over column by column (a data frame's) encodes exactly as the CSV with the same
// cells: the same schema and the same feature bytes, fitted or applied, columns in any order.
TEST_F(DataFiles, EncodeTableMatchesTheCsvLoader) {
  const auto p = write("t.csv",
                       "island,bill,sex,code,y\n"
                       "Torgersen,39.5,male,3,a\n"
                       "Biscoe,NA,female,1,b\n"
                       "Dream,40.25,NA,3,a\n"
                       "Biscoe,48.0,female,2,b\n");
  LoadOptions o;
  o.label_col = "y";
  o.categorical = {"code"};
  const Dataset csv = fcnet::load_dataset(p, o);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<fcnet::TableColumn> cols(4);
  cols[0].name = "island";
  cols[0].text = true;
  cols[0].texts = {"Torgersen", "Biscoe", "Dream", "Biscoe"};
  cols[1].name = "bill";
  cols[1].numbers = {39.5, nan, 40.25, 48.0};
  cols[2].name = "sex";
  cols[2].text = true;
  cols[2].texts = {"male", "female", "", "female"};
  cols[2].missing = {0, 0, 1, 0};
  cols[3].name = "code";
  cols[3].numbers = {3, 1, 3, 2};
  LoadOptions fit;
  fit.categorical = {"code"};
  const Dataset table = fcnet::encode_table(cols, fit, "frame");
  EXPECT_EQ(table.schema.feature_names(), csv.schema.feature_names());
  EXPECT_EQ(table.schema.encoding_hash(), csv.schema.encoding_hash());
  EXPECT_EQ(table.schema.columns[1].fill, csv.schema.columns[1].fill);
  ASSERT_EQ(table.d, csv.d);
  EXPECT_EQ(table.dtype, csv.dtype);
  EXPECT_EQ(table.bytes, csv.bytes);
  // Applied by the CSV's schema, the columns reversed, an unseen category counted.
  std::vector<fcnet::TableColumn> rev(cols.rbegin(), cols.rend());
  rev[3].texts[0] = "Atlantis";
  LoadOptions by;
  by.schema = &csv.schema;
  const Dataset applied = fcnet::encode_table(rev, by, "frame");
  ASSERT_EQ(applied.d, csv.d);
  EXPECT_EQ(applied.unseen, (std::vector<std::pair<std::string, int64_t>>{{"island", 1}}));
  const auto a = fcnet::to_matrix<double>(applied, fcnet::InputTransform{});
  const auto c = fcnet::to_matrix<double>(csv, fcnet::InputTransform{});
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < csv.d; ++j) {
      const bool atlantis = i == 0 && j < 3;  // the first row's island features: all zero
      EXPECT_EQ(a(i, j), atlantis ? 0.0 : c(i, j)) << i << "," << j;
    }
  // A missing column is named; an infinite number is refused naming the row.
  rev.pop_back();
  EXPECT_THROW(
      try { fcnet::encode_table(rev, by, "frame"); } catch (const fcnet::Error& e) {
        EXPECT_NE(std::string(e.what()).find("frame: lacks the column island"), std::string::npos)
            << e.what();
        throw;
      },
      fcnet::Error);
  cols[1].numbers[2] = std::numeric_limits<double>::infinity();
  EXPECT_THROW(
      try { fcnet::encode_table(cols, fit, "frame"); } catch (const fcnet::Error& e) {
        EXPECT_NE(std::string(e.what()).find("frame: row 2: column 'bill' holds inf"),
                  std::string::npos)
            << e.what();
        throw;
      },
      fcnet::Error);
}

// A gap's fill, the training mean, does not depend on the order of the rows: a sum in floating
// point would (1e20 + 1 − 1e20 is 0 in long double, 1e20 − 1e20 + 1 is 1), and so would the filled
// features of a table given in another order.
TEST(DataTable, GapFillIsTheSameInAnyRowOrder) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto fill = [](const std::vector<double>& cells) {
    std::vector<fcnet::TableColumn> cols(1);
    cols[0].name = "x";
    cols[0].numbers = cells;
    return fcnet::encode_table(cols, LoadOptions{}, "frame").schema.columns[0].fill;
  };
  const double a = fill({1e20, 1, -1e20, nan}), b = fill({-1e20, 1e20, 1, nan});
  EXPECT_EQ(a, b);
  EXPECT_DOUBLE_EQ(a, 1.0 / 3);
  // Values of many magnitudes and signs, in many orders: one fill, the mean to a double's rounding.
  std::mt19937 gen(5);
  std::vector<double> cells;
  long double exact = 0;  // small enough magnitudes here for long double to be near exact
  for (int i = 0; i < 5000; ++i) {
    const double v =
        std::ldexp(static_cast<double>(gen()) - 2147483648.0, static_cast<int>(gen() % 40));
    cells.push_back(v);
    exact += v;
  }
  cells.push_back(nan);
  const double first = fill(cells);
  EXPECT_NEAR(first, static_cast<double>(exact / 5000), std::abs(first) * 1e-13);
  for (int k = 0; k < 20; ++k) {
    std::shuffle(cells.begin(), cells.end(), gen);
    ASSERT_EQ(fill(cells), first) << "order " << k;
  }
}

TEST_F(DataFiles, CsvLabelSetsAndRefusals) {
  Dataset a = fcnet::load_dataset(write("a.csv", "label,x\n1,0\n2,1\n2,2\n"));
  EXPECT_EQ(a.class_names, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(a.labels, (std::vector<int32_t>{0, 1, 1}));
  Dataset b = fcnet::load_dataset(write("b.csv", "label,x\n-1,0\n1,1\n-1,2\n10,3\n"));
  EXPECT_EQ(b.class_names, (std::vector<std::string>{"-1", "1", "10"}));  // numeric order
  EXPECT_EQ(b.labels, (std::vector<int32_t>{0, 1, 0, 2}));
  std::string cont = "label,x\n";
  for (int i = 0; i < 20; ++i)
    cont += std::to_string(i * 0.37 + 0.01) + "," + std::to_string(i) + "\n";
  const auto c = write("c.csv", cont);
  expect_error([&] { fcnet::load_dataset(c, {}); }, {c, "looks continuous", "regression"});
  // Few distinct values, repeated (a measurement such as iris' petal width): continuous too.
  std::string few = "label,x\n";
  for (int i = 0; i < 60; ++i)
    few += std::to_string(1 + (i % 4)) + ".5," + std::to_string(i) + "\n";
  const auto f = write("f.csv", few);
  expect_error([&] { fcnet::load_dataset(f, {}); },
               {f + ":2", "'1.5', one of 4 distinct numbers", "looks continuous"});
  std::string ids = "label,name\n";
  for (int i = 0; i < 50; ++i) ids += std::to_string(i % 2) + ",n" + std::to_string(i) + "\n";
  const auto d = write("d.csv", ids);
  expect_error([&] { fcnet::load_dataset(d, {}); },
               {d, "column 'name' holds 50 distinct texts in 50 rows", "--ignore-cols name"});
  // Numbers with a decimal comma read under the decimal point: the message says --decimal ,.
  std::string commas = "label;x\n";
  for (int i = 0; i < 50; ++i) commas += std::to_string(i % 2) + ";" + std::to_string(i) + ",25\n";
  const auto e = write("e.csv", commas);
  expect_error([&] { fcnet::load_dataset(e, {}); },
               {e, "such as '0,25': numbers with a decimal comma?", "--decimal ,"});
  // Few distinct values (iris written with decimal=','): refused all the same, not one-hot; whole
  // numbers beside them ("5" for 5.0) read as numbers either way.
  const std::string semi = "x;label\n5,1;0\n4,9;0\n5;1\n5,1;1\n";
  const auto s = write("semi.csv", semi);
  expect_error([&] { fcnet::load_dataset(s, {}); },
               {s, "column 'x' holds 2 distinct texts in 4 rows, such as '5,1'", "--decimal ,"});
  LoadOptions comma;
  comma.decimal = ',';
  EXPECT_EQ(stored<double>(fcnet::load_dataset(s, comma)), (std::vector<double>{5.1, 4.9, 5, 5.1}));
  LoadOptions cat;  // named a category: its texts are the categories
  cat.categorical = {"x"};
  EXPECT_EQ(fcnet::load_dataset(s, cat).schema.feature_names(),
            (std::vector<std::string>{"x=4,9", "x=5", "x=5,1"}));
  // In a ',' file such texts were quoted on purpose (codes such as "1,2"): categories.
  const auto q = write("quoted.csv", "x,label\n\"1,2\",0\n\"2,3\",1\n\"1,2\",1\n");
  EXPECT_EQ(fcnet::load_dataset(q, {}).schema.feature_names(),
            (std::vector<std::string>{"x=1,2", "x=2,3"}));
}
