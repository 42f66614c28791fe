// Bad input through the command line: every malformed file, option or combination ends with
// "fcnet: error: <file>[:line]: <what>, expected <what>", the right exit code (1 for data, model
// and runtime errors, 2 for usage errors), before any training, and with existing outputs left
// exactly as they were and no temporary files behind.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "fcnet/model_io.hpp"
#include "io/crc32c.hpp"
#include "test_util.hpp"

using namespace fcnet;
using namespace fcnet::test;
namespace fs = std::filesystem;

namespace {

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string gzip_bytes(const std::string& raw) {
  uLongf n = compressBound(static_cast<uLong>(raw.size())) + 32;
  std::string out(n, '\0');
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // +16: gzip framing
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string idx(uint8_t type, std::vector<uint32_t> dims, const std::string& payload) {
  std::string s{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (auto d : dims) s += be32(d);
  return s + payload;
}

std::string npy_header(const std::string& dict) {
  std::string d = dict;
  while ((10 + d.size() + 1) % 64 != 0) d += ' ';
  d += '\n';
  std::string s("\x93NUMPY\x01\x00", 8);
  s += static_cast<char>(d.size() & 0xFF);
  s += static_cast<char>(d.size() >> 8);
  return s + d;
}

// A small separable 3-class CSV (label first), 30 rows × 4 features, every value non-zero.
std::string good_csv() {
  std::string s = "label,a,b,c,d\n";
  for (int i = 0; i < 30; ++i) {
    const int y = i % 3;
    s += std::to_string(y) + "," + std::to_string(1 + y * 2 + (i % 5) * 0.1) + "," +
         std::to_string(-1.5 + y) + "," + std::to_string(0.25 * (i % 7) + 0.5) + "," +
         std::to_string(3 - y) + "\n";
  }
  return s;
}

class Robust : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = temp_dir(std::string("robust-") + info->name());
    work_ = dir_ / "work";
    fs::create_directories(work_);
    write_bytes(work_ / "good.csv", good_csv());
    // An existing model file that no failed run may touch.
    write_bytes(work_ / "m.safetensors", "precious bytes of an earlier model");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (work_ / name).string(); }
  std::string put(const std::string& name, const std::string& bytes) const {
    write_bytes(work_ / name, bytes);
    return path(name);
  }

  // Files in the work folder, to check that a run left nothing behind.
  std::vector<std::string> listing() const {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(work_)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
  }

  // Runs `args`; expects exit `code`, stderr starting with "fcnet: error: " and containing every
  // part, no training started, the existing model untouched and no new files.
  CmdResult expect_fail(const std::string& args, int code,
                        std::initializer_list<std::string> parts) {
    const auto before = listing();
    CmdResult r = run_cli(args, dir_);
    EXPECT_EQ(r.code, code) << args << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("fcnet: error: ", 0), 0u) << args << "\n" << r.err;
    for (const auto& p : parts)
      EXPECT_NE(r.err.find(p), std::string::npos)
          << args << "\nstderr: " << r.err << "\nlacks: " << p;
    EXPECT_EQ(r.err.find("epoch 1/"), std::string::npos) << "training started: " << r.err;
    EXPECT_EQ(read_file(path("m.safetensors")), "precious bytes of an earlier model") << args;
    EXPECT_EQ(listing(), before) << args;
    EXPECT_TRUE(r.out.empty()) << r.out;
    return r;
  }

  // fcnet train on `data` with small defaults for the options `extra` does not set.
  std::string train_on(const std::string& data, const std::string& extra = "") const {
    auto unless = [&](const std::string& opt, const std::string& value) {
      return extra.find(opt + " ") == std::string::npos ? " " + opt + " " + value : "";
    };
    return "train --data " + data + unless("--test-data", "none") + unless("--hidden", "4") +
           unless("--epochs", "2") + unless("--out", path("m.safetensors")) + " " + extra;
  }

  fs::path dir_, work_;
};

}  // namespace

TEST_F(Robust, UsageErrorsExitTwoNamingTheOption) {
  const std::string base = "train --data " + path("good.csv") + " --out " + path("m.safetensors");
  for (auto [opt, name] :
       std::vector<std::pair<std::string, std::string>>{{"--epochs -1", "--epochs"},
                                                        {"--epochs 0", "--epochs"},
                                                        {"--epochs 1.5", "--epochs"},
                                                        {"--epochs many", "--epochs"},
                                                        {"--lr abc", "--lr"},
                                                        {"--lr -0.1", "--lr"},
                                                        {"--lr 0", "--lr"},
                                                        {"--hidden 0", "--hidden"},
                                                        {"--hidden 64,0", "--hidden"},
                                                        {"--hidden 64,,32", "--hidden"},
                                                        {"--hidden -5", "--hidden"},
                                                        {"--hidden abc", "--hidden"},
                                                        {"--batch 0", "--batch"},
                                                        {"--batch -3", "--batch"},
                                                        {"--threads 0", "--threads"},
                                                        {"--val-split 1.5", "--val-split"},
                                                        {"--dropout 1", "--dropout"},
                                                        {"--precision f16", "--precision"},
                                                        {"--patience 3", "--patience"},
                                                        {"--no-such-option", "--no-such-option"}}) {
    SCOPED_TRACE(opt);
    expect_fail(base + " " + opt, 2, {name});
  }
  expect_fail("eval --data " + path("good.csv"), 2, {"--model"});
}

TEST_F(Robust, AbsurdSizesFailWithAMessageNotACrash) {
  for (const char* h : {"100000000000", "3000000000", "2000000000,2000000000"}) {
    SCOPED_TRACE(h);
    expect_fail(train_on(path("good.csv"), std::string("--hidden ") + h), 1,
                {"training: ", "memory", "expected a network that fits"});
  }
  // A batch far larger than the data is clamped to the data, not allocated.
  auto r = run_cli(train_on(path("good.csv"), "--batch 100000000000 --epochs 1"), dir_);
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(Robust, MalformedCsvNamesFileLineAndExpectation) {
  struct Case {
    std::string name, text, extra;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"ragged.csv", "label,a,b\n0,1,2\n1,2\n", "", {":3: row has 2 fields, expected 3"}},
      {"text.csv",
       "label,a,b\n0,1,2\n1,abc,2\n",
       "--numeric a",
       {":3: column 'a' (--numeric) holds 'abc', expected a number"}},
      {"inf.csv", "label,a\n0,1\n1,-Inf\n", "", {":3:", "infinite"}},
      {"empty.csv", "", "", {"empty file, expected"}},
      {"header.csv", "label,a,b\r\n", "", {"header only", "expected at least one row"}},
      {"nolabel.csv", "a,b\n1,2\n0,3\n", "--label-col y", {":1: no column named 'y'", "expected"}},
      {"na_label.csv",
       "label,a\n0,1\nNA,2\n",
       "",
       {":3: empty label 'NA', expected a class label"}},
      {"semicolons.csv",
       "label;a;b\n0;1;2\n1;2;3\n",
       "--delimiter ,",
       {":1: the rows hold a single column, and ';' appears in them", "--delimiter ';'"}},
      {"quote.csv", "label,a\n0,\"1\n", "", {":2: quoted field is never closed"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string p = put(c.name, c.text);
    auto r = expect_fail(train_on(p, c.extra), 1, {});
    EXPECT_EQ(r.err.rfind("fcnet: error: " + p, 0), 0u) << r.err;
    for (const auto& part : c.parts) EXPECT_NE(r.err.find(part), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("expected"), std::string::npos) << r.err;
  }
}

TEST_F(Robust, TolerableCsvVariantsTrain) {
  // CRLF, a UTF-8 BOM, quoted fields and gzip compression are all accepted.
  std::string crlf = "\xEF\xBB\xBF\"label\",\"a\",b\r\n";
  for (int i = 0; i < 20; ++i)
    crlf += std::to_string(i % 2) + ",\"" + std::to_string(i % 2 ? 2.5 : -2.5) + "\"," +
            std::to_string(0.1 * i + 0.3) + "\r\n";
  const std::string p = put("variants.csv", crlf);
  const std::string gz = put("variants.csv.gz", gzip_bytes(crlf));
  for (const auto& data : {p, gz}) {
    SCOPED_TRACE(data);
    auto r = run_cli(train_on(data, "--json --out " + path("v.safetensors")), dir_);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(load_model(path("v.safetensors")).input_dim(), 2);
  }
}

TEST_F(Robust, MalformedIdxGzipAndNpyFilesAreRejected) {
  std::string px;
  for (int i = 0; i < 24; ++i) px += static_cast<char>(i * 7 + 1);
  const std::string images = put("img-idx3-ubyte", idx(0x08, {3, 2, 4}, px));
  const std::string labels3 = put("lab3-idx1-ubyte", idx(0x08, {3}, std::string{0, 1, 1}));
  const std::string labels2 = put("lab2-idx1-ubyte", idx(0x08, {2}, std::string{0, 1}));
  const std::string magic = put("magic-idx3-ubyte", "\x01" + idx(0x08, {3, 2, 4}, px).substr(1));
  const std::string trunc = put("trunc.idx", idx(0x08, {3, 2, 4}, px.substr(0, 20)));
  const std::string ovf = put("ovf.idx", idx(0x08, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, px));
  std::string big(4000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) % 251);
  const std::string whole = gzip_bytes(idx(0x08, {10, 20, 20}, big));
  const std::string cut = put("cut.idx.gz", whole.substr(0, whole.size() / 2));

  expect_fail(train_on(magic, "--labels " + labels3), 1, {magic + ": bad IDX magic 01 00 08 03"});
  expect_fail(train_on(trunc, "--labels " + labels3), 1,
              {trunc + ": truncated", "expected a file of exactly"});
  expect_fail(train_on(ovf, "--labels " + labels3), 1, {ovf + ": IDX dimensions", "overflow"});
  expect_fail(train_on(cut, "--labels " + labels3), 1, {cut + ": gzip", "expected"});
  expect_fail(train_on(images, "--labels " + labels2), 1,
              {labels2 + ": holds 2 labels but " + images + " holds 3 examples",
               "expected one label per example"});

  const std::string f32(24, '\x3f');
  const std::string fortran =
      put("f.npy", npy_header("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }") + f32);
  const std::string short_npy =
      put("s.npy", npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 2), }") + f32);
  const std::string dtype =
      put("c.npy", npy_header("{'descr': '<c8', 'fortran_order': False, 'shape': (3, 1), }") + f32);
  expect_fail(train_on(fortran, "--labels " + labels3), 1, {fortran + ": NPY array is in Fortran"});
  expect_fail(train_on(short_npy, "--labels " + labels3), 1,
              {short_npy + ": truncated: NPY shape (4, 2)", "expected a file of exactly"});
  expect_fail(train_on(dtype, "--labels " + labels3), 1, {dtype + ": NPY features of dtype '<c8'"});
  expect_fail(train_on(path("missing.npy")), 1, {path("missing.npy") + ": cannot open"});
}

TEST_F(Robust, MalformedModelFilesAreRejected) {
  // A good model to damage: trained here on good.csv.
  auto r = run_cli(train_on(path("good.csv"), "--out " + path("good.safetensors")), dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string good = read_file(path("good.safetensors"));
  uint64_t hlen = 0;
  std::memcpy(&hlen, good.data(), 8);
  std::string header = good.substr(8, hlen);
  auto with_header = [&](const std::string& name, std::string h) {
    while (h.size() < hlen) h += ' ';
    EXPECT_EQ(h.size(), hlen) << name;
    return put(name, good.substr(0, 8) + h + good.substr(8 + hlen));
  };
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string h = header;
    const auto pos = h.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    if (pos != std::string::npos) h.replace(pos, from.size(), to);
    return h;
  };
  const std::string cut = put("cut.safetensors", good.substr(0, good.size() - 9));
  const std::string hl =
      put("hl.safetensors", std::string("\xff\xff\xff\x00\x00\x00\x00\x00", 8) + good.substr(8));
  const std::string act = with_header("act.safetensors", replaced("\"relu\"", "\"ReLU\""));
  const std::string chain =
      with_header("chain.safetensors", replaced("\"shape\":[4,3]", "\"shape\":[3,4]"));
  const std::string extra = with_header("extra.safetensors", replaced("\"b2\"", "\"zz\""));
  const std::string dt = with_header("dtype.safetensors", replaced("\"F32\"", "\"I32\""));
  const std::string cmd = "eval --data " + path("good.csv") + " --model ";
  expect_fail(cmd + cut, 1, {cut + ": tensor '", "lie outside the data section"});
  expect_fail(cmd + hl, 1, {hl + ": header length", "exceeds the file size"});
  expect_fail(cmd + act, 1, {act + ": metadata activation: unknown activation 'ReLU'"});
  expect_fail(cmd + chain, 1,
              {chain + ": tensor 'W2': has shape [3,4], expected fan_in 4 to chain with the "
                       "previous layer"});
  expect_fail(cmd + extra, 1, {extra, "expected"});
  expect_fail(cmd + dt, 1, {dt + ": tensor '", "has dtype I32, expected"});
  // Model vs data columns: a model trained on a, b, c, d, given a file without d.
  const std::string narrow = put("narrow.csv", "label,a,b,c\n0,1,2,3\n1,3,2,1\n");
  expect_fail("eval --model " + path("good.safetensors") + " --data " + narrow, 1,
              {narrow + ": lacks the column d that the model was trained on",
               "expected every feature column of the training file (found by name, in any order)"});
  expect_fail("predict --model " + path("good.safetensors") + " --data " + narrow + " --out " +
                  path("m.safetensors"),
              1, {narrow + ": lacks the column d"});
}

TEST_F(Robust, EverythingCheckableFailsBeforeTraining) {
  // Output folder missing, or a file where a folder should be.
  expect_fail(train_on(path("good.csv"), "--out " + path("no/such/dir/m.safetensors")), 1,
              {"no/such/dir", "expected a writable folder"});
  expect_fail(train_on(path("good.csv"), "--out " + path("good.csv/m.safetensors")), 1,
              {"expected a writable folder"});
  expect_fail(train_on(path("good.csv"), "--out " + work_.string()), 1,
              {"is a folder", "expected a file path"});
  expect_fail(train_on(path("good.csv"), "--checkpoint " + path("none/ck.safetensors")), 1,
              {"none/ck.safetensors", "expected a writable folder"});
  // Test data of another width, and test labels beyond the training classes.
  const std::string narrow = put("narrow.csv", "label,a,b\n0,1,2\n1,3,2\n");
  expect_fail(train_on(path("good.csv"), "--test-data " + narrow), 1,
              {narrow + ": lacks the columns c, d that the model was trained on"});
  // A validation split that leaves nothing to train on.
  expect_fail(train_on(put("two.csv", "label,a\n0,1\n1,2\n"), "--val-split 0.9"), 1,
              {"--val-split", "expected at least one of each"});
  // Labels of a single class.
  expect_fail(train_on(put("one.csv", "label,a\n0,1\n0,2\n")), 1,
              {"only one class", "expected at least two classes"});
  // A resume file that does not exist or is not a checkpoint.
  expect_fail(train_on(path("good.csv"), "--resume " + path("nope.safetensors")), 1,
              {path("nope.safetensors") + ": cannot open"});
}

TEST_F(Robust, SuccessfulRunsLeaveOnlyTheirOutputs) {
  auto r = run_cli(train_on(path("good.csv"), "--checkpoint " + path("ck.safetensors")), dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(listing(), (std::vector<std::string>{"ck.safetensors", "good.csv", "m.safetensors"}));
  EXPECT_EQ(load_model(path("m.safetensors")).input_dim(), 4);
  r = run_cli("predict --model " + path("m.safetensors") + " --data " + path("good.csv") +
                  " --out " + path("p.txt"),
              dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(listing(),
            (std::vector<std::string>{"ck.safetensors", "good.csv", "m.safetensors", "p.txt"}));
}

// A small gzip file whose IDX header claims 3,000,000 images of 28×28 (2.35 GB) but holds 3 MB:
// loading it fails as truncated having allocated about what inflated, not what the header claims.
TEST_F(Robust, AGzipHeaderClaimingMoreThanItHoldsCostsOnlyWhatInflates) {
  std::string junk(3 << 20, '\0');
  uint64_t x = 88172645463325252ull;  // xorshift: incompressible bytes
  for (auto& c : junk) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x >> 56);
  }
  const std::string gz = put("big-idx3-ubyte.gz", gzip_bytes(idx(0x08, {3000000, 28, 28}, junk)));
  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  LoadOptions opt;
  opt.require_labels = false;
  try {
    (void)load_dataset(gz, opt);
    ADD_FAILURE() << "loaded a truncated file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(gz + ": truncated: the IDX data"), std::string::npos)
        << e.what();
  }
  getrusage(RUSAGE_SELF, &after);
  const double grown_mb = static_cast<double>(after.ru_maxrss - before.ru_maxrss) / 1024.0;
  EXPECT_LT(grown_mb, 200.0) << "peak memory grew by " << grown_mb << " MB";
}

// IDX/NPY labels are class indices: one stray 10000000 among 0 and 1 is refused, naming the file,
// instead of building a network with ten million outputs.
TEST_F(Robust, AStrayLabelIndexIsRefused) {
  std::string px;
  for (int i = 0; i < 30 * 4; ++i) px += static_cast<char>(i * 7 + 1);
  const std::string images = put("img-idx3-ubyte", idx(0x08, {30, 2, 2}, px));
  std::string lab;
  for (int i = 0; i < 30; ++i) lab += be32(i == 7 ? 10000000u : static_cast<uint32_t>(i % 2));
  const std::string labels = put("lab-idx1-ubyte", idx(0x0C, {30}, lab));
  expect_fail(
      train_on(images, "--labels " + labels), 1,
      {labels + ": holds 3 distinct labels but the largest is 10000000", "expected class indices"});
}

// CRC-32C: the check value of the standard ("123456789" → e3069283), and the instruction and
// table versions against the bit-at-a-time reference on odd sizes.
TEST(Crc32c, MatchesTheStandardAndTheReference) {
  const char* check = "123456789";
  EXPECT_EQ(io_detail::crc32c_ref(check, 9), 0xE3069283u);
  EXPECT_EQ(io_detail::crc32c(check, 9), 0xE3069283u);
  EXPECT_EQ(io_detail::crc32c_table(check, 9), 0xE3069283u);
  EXPECT_EQ(io_detail::crc32c("", 0), 0u);
  std::string buf(4099, '\0');
  Rng rng(3);
  for (auto& c : buf) c = static_cast<char>(rng.below(256));
  for (std::size_t n : {1u, 7u, 8u, 13u, 64u, 1000u, 4099u})
    for (std::size_t off : {0u, 1u, 3u}) {
      if (off + n > buf.size()) continue;
      const uint32_t ref = io_detail::crc32c_ref(buf.data() + off, n);
      EXPECT_EQ(io_detail::crc32c(buf.data() + off, n), ref) << n << "+" << off;
      EXPECT_EQ(io_detail::crc32c_table(buf.data() + off, n), ref) << n << "+" << off;
    }
}

// Every single-byte change in the tensor data of a model or a checkpoint is refused by info, eval,
// predict and resume, naming the damaged tensor; bytes appended to a file are refused; a file
// without checksums (written before fcnet stored them) still loads and info says so.
TEST_F(Robust, DamagedModelsAndCheckpointsAreRefusedNamingTheTensor) {
  auto t = run_cli(train_on(path("good.csv"), "--out " + path("a.safetensors") + " --checkpoint " +
                                                  path("ck.safetensors") + " --quiet"),
                   dir_);
  ASSERT_EQ(t.code, 0) << t.err;
  for (const std::string name : {"a.safetensors", "ck.safetensors"}) {
    SCOPED_TRACE(name);
    const std::string bytes = read_file(path(name));
    uint64_t hlen = 0;
    std::memcpy(&hlen, bytes.data(), 8);
    const std::size_t data = 8 + hlen;
    Rng rng(11);
    for (int k = 0; k < 20; ++k) {
      std::string bad = bytes;
      const std::size_t at = data + rng.below(bytes.size() - data);
      bad[at] = static_cast<char>(bad[at] ^ (1 << rng.below(8)));
      const std::string p = put("bad-" + name, bad);
      const std::string cmd =
          name == "ck.safetensors"
              ? "train --resume " + p + " --epochs 3 --out " + path("o.safetensors")
              : "info --model " + p;
      auto r = run_cli(cmd, dir_);
      EXPECT_EQ(r.code, 1) << "byte " << at << ": " << r.err;
      EXPECT_NE(r.err.find(p + ": tensor '"), std::string::npos) << r.err;
      EXPECT_NE(r.err.find("does not match its checksum"), std::string::npos) << r.err;
      EXPECT_FALSE(fs::exists(path("o.safetensors")));
    }
    const std::string longer = put("long-" + name, bytes + "more");
    for (const std::string& cmd :
         {"info --model " + longer, "eval --model " + longer + " --data " + path("good.csv"),
          "predict --model " + longer + " --data " + path("good.csv")}) {
      auto r = run_cli(cmd, dir_);
      EXPECT_EQ(r.code, 1) << cmd << ": " << r.err;
      EXPECT_NE(r.err.find(longer + ": 4 bytes follow the last tensor"), std::string::npos)
          << r.err;
    }
  }
  // The same model without its checksums, as an older fcnet wrote it.
  SafeTensors st = read_safetensors(path("a.safetensors"));
  EXPECT_TRUE(has_checksums(st));
  st.metadata.erase(kChecksumsKey);
  std::string plain = serialize_safetensors(st);
  {  // serialize adds them back: take them out of the header by hand
    uint64_t hlen = 0;
    std::memcpy(&hlen, plain.data(), 8);
    nlohmann::json h = nlohmann::json::parse(plain.substr(8, hlen));
    h["__metadata__"].erase(kChecksumsKey);
    std::string hs = h.dump();
    while (hs.size() % 8 != 0) hs.push_back(' ');
    const uint64_t n = hs.size();
    std::string out(8, '\0');
    std::memcpy(out.data(), &n, 8);
    plain = out + hs + plain.substr(8 + hlen);
  }
  const std::string old = put("old.safetensors", plain);
  auto info = run_cli("info --model " + old + " --json", dir_);
  ASSERT_EQ(info.code, 0) << info.err;
  EXPECT_FALSE(nlohmann::json::parse(info.out)["checksums"].get<bool>());
  auto text = run_cli("info --model " + old, dir_);
  EXPECT_NE(text.out.find("checksums    none (written before fcnet stored checksums"),
            std::string::npos)
      << text.out;
  auto ev = run_cli("eval --model " + old + " --data " + path("good.csv") + " --json", dir_);
  EXPECT_EQ(ev.code, 0) << ev.err;
}

TEST(AtomicWrite, KeepsPermissionsAndWritesDevicesAndFifosInPlace) {
  const fs::path dir = temp_dir("atomic-write");
  // A replaced file keeps its mode; a new one gets 0666 less the umask.
  const std::string p = (dir / "private.csv").string();
  write_file_atomic(p, "old");
  ::chmod(p.c_str(), 0600);
  write_file_atomic(p, "new");
  EXPECT_EQ(read_file(p), "new");
  EXPECT_EQ(fs::status(p).permissions(), fs::perms::owner_read | fs::perms::owner_write);
  for (const auto& [mask, want] :
       {std::pair{mode_t{077}, fs::perms{0600}}, std::pair{mode_t{022}, fs::perms{0644}}}) {
    const std::string q = (dir / ("new-" + std::to_string(mask))).string();
    const mode_t old = ::umask(mask);
    write_file_atomic(q, "x");
    ::umask(old);
    EXPECT_EQ(fs::status(q).permissions(), want) << "umask " << mask;
  }
  // A FIFO behind a link (as /dev/stdout is a link to a pipe) is written, not replaced.
  const std::string fifo = (dir / "fifo").string(), link = (dir / "out").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  fs::create_symlink(fifo, link);
  // The reader's end and a writer's are open before the write, so the reader never waits for a
  // writer and sees the end once both writers have closed (a replaced FIFO then reads as empty).
  const int rfd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(rfd, 0);
  const int keep = ::open(fifo.c_str(), O_WRONLY);
  ASSERT_GE(keep, 0);
  ::fcntl(rfd, F_SETFL, 0);
  std::string got;
  std::thread reader([&] {
    char buf[256];
    for (ssize_t r; (r = ::read(rfd, buf, sizeof buf)) > 0;)
      got.append(buf, static_cast<std::size_t>(r));
  });
  check_writable(link);
  write_file_atomic(link, "label,p\n1,0.5\n");
  ::close(keep);
  reader.join();
  ::close(rfd);
  EXPECT_EQ(got, "label,p\n1,0.5\n");
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(fifo)));
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(link)));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"fifo", "new-18", "new-63", "out", "private.csv"}));
}

TEST(AtomicWrite, ADescriptorPathWritesToTheDescriptor) {
  // --out /dev/stdout with `>> log`: the output is appended through the descriptor, and the log
  // is not replaced by a file holding the output only. A read-only descriptor is refused up front.
  const fs::path dir = temp_dir("descriptor-write");
  const std::string log = (dir / "log.txt").string();
  write_file_atomic(log, "old\n");
  const int fd = ::open(log.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  const std::string name = "/dev/fd/" + std::to_string(fd);
  check_writable(name);
  write_file_atomic(name, "label\n1\n");
  ::close(fd);
  EXPECT_EQ(read_file(log), "old\nlabel\n1\n");
  const int ro = ::open(log.c_str(), O_RDONLY);
  ASSERT_GE(ro, 0);
  EXPECT_THROW(check_writable("/proc/self/fd/" + std::to_string(ro)), Error);
  ::close(ro);
}

TEST(AtomicWrite, ALostStandardOutputIsAnError) {
  // Output that cannot reach stdout (a full disk) fails the command instead of exiting 0.
  const fs::path dir = temp_dir("stdout-full");
  const std::string err = (dir / "err.txt").string();
  const int status =
      std::system((cli_path() + " info --devices --json >/dev/full 2>" + err).c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(read_file(err).find("fcnet: error: standard output: cannot write: No space left"),
            std::string::npos)
      << read_file(err);
}
