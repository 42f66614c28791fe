// CSV: comma-separated, header optional, RFC 4180 quoting ("a,b" and "" for a quote inside a
// quoted field; quoted fields may span lines), LF, CRLF or CR line ends, optional UTF-8 BOM.
// Blank lines are skipped. Every error names the file and the line where the record starts.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <unordered_map>

#include "data/formats.hpp"
#include "fcnet/error.hpp"
#include "fcnet/text.hpp"

namespace fcnet::data_detail {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

enum class Num { ok, not_number, not_finite };

// Parses a whole cell as a number (surrounding blanks and a leading '+' allowed).
Num parse_number(std::string_view cell, double& v) {
  std::string_view s = trim(cell);
  if (s.empty()) return Num::not_number;
  // Fast path for short integers (pixel values, class indices): exact, and most cells of
  // image-like CSVs.
  {
    const bool neg = s[0] == '-';
    const std::size_t start = neg ? 1 : 0;
    const std::size_t len = s.size() - start;
    if (len >= 1 && len <= 9) {
      int64_t k = 0;
      std::size_t i = start;
      for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) k = k * 10 + (s[i] - '0');
      if (i == s.size()) {
        v = static_cast<double>(neg ? -k : k);
        return Num::ok;
      }
    }
  }
  if (s[0] == '+') {
    s.remove_prefix(1);
    if (s.empty() || s[0] == '-' || s[0] == '+') return Num::not_number;
  }
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v, std::chars_format::general);
  if (p != end || (ec != std::errc() && ec != std::errc::result_out_of_range))
    return Num::not_number;
  if (ec == std::errc::result_out_of_range) {
    // from_chars leaves v alone on overflow and underflow; strtod tells them apart.
    v = std::strtod(std::string(s).c_str(), nullptr);
  }
  return std::isfinite(v) ? Num::ok : Num::not_finite;
}

bool is_number(std::string_view cell) {
  double v;
  return parse_number(cell, v) != Num::not_number;
}

class Tokenizer {
 public:
  Tokenizer(std::string_view text, const std::string& path) : s_(text), path_(path) {}

  // Next non-blank record into `fields` (views valid until the next call); false at the end.
  bool next(std::vector<std::string_view>& fields, int64_t& line) {
    for (;;) {
      if (pos_ >= s_.size()) return false;
      fields.clear();
      owned_.clear();
      line = line_;
      bool quoted_any = false;
      for (;;) {
        std::string_view field;
        if (pos_ < s_.size() && s_[pos_] == '"') {
          quoted_any = true;
          field = quoted_field();
        } else {
          const std::size_t start = pos_;
          while (pos_ < s_.size() && s_[pos_] != ',' && s_[pos_] != '\n' && s_[pos_] != '\r')
            ++pos_;
          field = s_.substr(start, pos_ - start);
        }
        fields.push_back(field);
        if (pos_ >= s_.size()) break;
        const char c = s_[pos_++];
        if (c == ',') continue;
        if (c == '\r' && pos_ < s_.size() && s_[pos_] == '\n') ++pos_;
        ++line_;
        break;
      }
      if (fields.size() == 1 && !quoted_any && trim(fields[0]).empty()) continue;
      return true;
    }
  }

 private:
  std::string_view quoted_field() {
    const int64_t open_line = line_;
    ++pos_;
    std::string* buf = nullptr;
    std::string_view field;
    for (;;) {
      const std::size_t q = s_.find('"', pos_);
      if (q == std::string_view::npos)
        fail(path_ + ":" + std::to_string(open_line), "quoted field is never closed",
             "a closing '\"'");
      const std::string_view seg = s_.substr(pos_, q - pos_);
      line_ += std::count(seg.begin(), seg.end(), '\n');
      const bool escaped_quote = q + 1 < s_.size() && s_[q + 1] == '"';
      if (escaped_quote || buf != nullptr) {
        if (buf == nullptr) buf = &owned_.emplace_back();
        buf->append(seg);
        if (escaped_quote) buf->push_back('"');
      } else {
        field = seg;
      }
      pos_ = q + 1;
      if (!escaped_quote) break;
      ++pos_;
    }
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
    if (pos_ < s_.size() && s_[pos_] != ',' && s_[pos_] != '\n' && s_[pos_] != '\r')
      fail(path_ + ":" + std::to_string(line_), "text after the closing quote of a field",
           "',' or the end of the line");
    return buf != nullptr ? std::string_view(*buf) : field;
  }

  std::string_view s_;
  const std::string& path_;
  std::size_t pos_ = 0;
  int64_t line_ = 1;
  std::deque<std::string> owned_;  // unescaped quoted fields; a deque keeps views stable
};

// A cell for messages: at most 40 bytes, control bytes shown as \xNN so they are visible.
std::string quote(std::string_view s) {
  constexpr std::size_t kMax = 40;
  static const char* digits = "0123456789abcdef";
  std::string t;
  for (char c : s.substr(0, kMax)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      t += "\\x";
      t += digits[u >> 4];
      t += digits[u & 15];
    } else {
      t += c;
    }
  }
  if (s.size() > kMax) t += "...";
  return "'" + t + "'";
}

// Features collected as float while every value is exactly a float, then as double.
class FeatureStore {
 public:
  void reserve(std::size_t n) { f32_.reserve(n); }
  void push(double v) {
    if (!wide_) {
      const auto f = static_cast<float>(v);
      if (static_cast<double>(f) == v) {
        f32_.push_back(f);
        return;
      }
      f64_.reserve(std::max(f32_.capacity(), f32_.size() + 1));
      f64_.assign(f32_.begin(), f32_.end());
      f32_ = {};
      wide_ = true;
    }
    f64_.push_back(v);
  }
  void move_to(Dataset& ds) {
    ds.dtype = wide_ ? DType::f64 : DType::f32;
    const std::size_t bytes = wide_ ? f64_.size() * 8 : f32_.size() * 4;
    ds.bytes.resize(bytes);
    if (bytes > 0)
      std::memcpy(ds.bytes.data(), wide_ ? static_cast<const void*>(f64_.data()) : f32_.data(),
                  bytes);
  }

 private:
  bool wide_ = false;
  std::vector<float> f32_;
  std::vector<double> f64_;
};

// The CSV loader behind load_csv and load_csv_labels; `labels_only` reads a one-column file of
// labels (no features).
Dataset load_csv_impl(InputFile& in, const LoadOptions& opt, bool labels_only) {
  const std::string& path = in.path();
  auto at = [&](int64_t line) { return path + ":" + std::to_string(line); };
  std::string text = in.read_all();
  std::string_view body(text);
  if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);
  // Text is UTF-8: a class name or column name in another encoding would be stored in the model
  // as it came, and no JSON (model metadata, --json output) could hold it.
  if (const std::size_t bad = first_invalid_utf8(body); bad != std::string_view::npos) {
    const std::size_t line_start = body.rfind('\n', bad == 0 ? 0 : bad - 1);
    const std::size_t from = line_start == std::string_view::npos ? 0 : line_start + 1;
    const int64_t line =
        1 + std::count(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(bad), '\n');
    const int64_t field = 1 + std::count(body.begin() + static_cast<std::ptrdiff_t>(from),
                                         body.begin() + static_cast<std::ptrdiff_t>(bad), ',');
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02X", static_cast<unsigned char>(body[bad]));
    fail(at(line),
         "field " + std::to_string(field) + " holds the byte " + hex + ", which is not UTF-8 text",
         "a UTF-8 file (re-save it as UTF-8, e.g. iconv -f latin1 -t utf-8)");
  }

  Tokenizer tok(body, path);
  std::vector<std::string_view> row;
  int64_t line0 = 0;
  if (!tok.next(row, line0)) fail(path, "empty file", "a CSV header and/or rows of numbers");
  const std::vector<std::string> first(row.begin(), row.end());
  const int64_t ncols = static_cast<int64_t>(first.size());
  std::vector<std::string_view> second;
  int64_t line1 = 0;
  const bool have_second = tok.next(second, line1);

  // Which column holds the labels (-1: none) and whether the first record is a header.
  const bool labels_from_file = !opt.labels_path.empty() && !labels_only;
  auto column_named = [&](std::string_view name) -> int64_t {
    for (int64_t j = 0; j < ncols; ++j)
      if (trim(first[j]) == name && !is_number(first[j])) return j;
    return -1;
  };
  auto looks_like_header = [&](int64_t skip) {
    for (int64_t j = 0; j < ncols; ++j)
      if (j != skip && !trim(first[j]).empty() && !is_number(first[j])) return true;
    return false;
  };
  int64_t label = -1;
  bool header = false;
  if (!opt.label_col.empty() && !labels_only) {
    if (labels_from_file)
      fail(path, "both --label-col and --labels name the labels", "one source of labels");
    const int64_t j = column_named(opt.label_col);
    int64_t k = -1;
    const char* b = opt.label_col.data();
    const char* e = b + opt.label_col.size();
    const bool is_index = std::from_chars(b, e, k).ptr == e && k >= 0;
    if (j >= 0) {
      label = j;
      header = true;
    } else if (is_index) {
      if (k >= ncols)
        fail(at(line0),
             "label column " + opt.label_col + " is past the last column (rows have " +
                 std::to_string(ncols) + ")",
             "a 0-based index below " + std::to_string(ncols) + " or a column name");
      label = k;
    } else if (looks_like_header(-1)) {
      std::vector<std::string> names(first.begin(), first.end());
      fail(at(line0),
           "no column named " + quote(opt.label_col) + " in the header (" + join_list(names) + ")",
           "a column name from the header or a 0-based index");
    } else {
      fail(at(line0),
           "no column named " + quote(opt.label_col) + ": the first row is data, not a header",
           "a 0-based column index, or a header row");
    }
  } else {
    const int64_t j = column_named("label");
    if (j >= 0) {
      if (labels_from_file)
        fail(path, "the CSV has a 'label' column and --labels gives labels too",
             "one source of labels");
      label = j;
      header = true;
    } else if (labels_only || (opt.require_labels && !labels_from_file)) {
      label = 0;
    }
  }
  if (!header)
    header = looks_like_header(label) ||
             (label >= 0 && !is_number(first[label]) && have_second &&
              static_cast<int64_t>(second.size()) > label && is_number(second[label]));
  if (header && !have_second)
    fail(path, "header only, no data rows", "at least one row of data after the header");
  const int64_t d = ncols - (label >= 0 ? 1 : 0);
  if (labels_only && ncols != 1)
    fail(at(line0), "label file has " + std::to_string(ncols) + " columns", "one column of labels");
  if (d == 0 && !labels_only)
    fail(at(line0), "no feature columns besides the label column", "at least one feature column");

  auto column = [&](int64_t j) {
    if (header) return "column " + quote(trim(first[j]));
    return "column " + std::to_string(j) + " (0-based)";
  };

  FeatureStore feats;
  if (ncols > 0) feats.reserve(body.size() / (2 * static_cast<std::size_t>(ncols)) + 16);
  std::vector<int32_t> labels;
  std::vector<std::string> names;   // label cells, when the labels are class names
  std::vector<int64_t> name_lines;  // their lines, for errors found after the pass
  int64_t first_label_line = 0;
  bool labels_are_names = false;
  int64_t n = 0;

  auto take = [&](const std::vector<std::string_view>& r, int64_t line) {
    if (static_cast<int64_t>(r.size()) != ncols)
      fail(at(line), "row has " + std::to_string(r.size()) + " fields",
           std::to_string(ncols) + " like line " + std::to_string(line0));
    for (int64_t j = 0; j < ncols; ++j) {
      const std::string_view cell = r[j];
      if (j == label) {
        const std::string_view t = trim(cell);
        if (t.empty()) fail(at(line), "empty label", "a class index or name");
        double v = 0;
        const bool numeric = parse_number(t, v) != Num::not_number;
        if (first_label_line == 0) {
          first_label_line = line;
          labels_are_names = !numeric;
        } else if (numeric == labels_are_names) {
          fail(at(line),
               "label " + quote(t) + " is " + (numeric ? "a number" : "a name") +
                   " but the label on line " + std::to_string(first_label_line) + " is " +
                   (numeric ? "a name" : "a number"),
               "all labels class indices or all class names");
        }
        if (labels_are_names) {
          names.emplace_back(t);
          name_lines.push_back(line);
        } else {
          if (!std::isfinite(v))
            fail(at(line), "label " + quote(t) + " is not finite", "a class index 0, 1, 2, ...");
          if (v < 0) fail(at(line), "negative label " + quote(t), "a class index 0, 1, 2, ...");
          if (v != std::floor(v))
            fail(at(line), "fractional label " + quote(t), "a whole-number class index");
          if (v > INT32_MAX)
            fail(at(line), "label " + quote(t) + " is too large", "a class index below 2^31");
          if (!opt.known_classes.empty() && v >= static_cast<double>(opt.known_classes.size()))
            fail(at(line),
                 "label " + quote(t) + " but the model has " +
                     std::to_string(opt.known_classes.size()) + " classes",
                 "a class index below " + std::to_string(opt.known_classes.size()));
          labels.push_back(static_cast<int32_t>(v));
        }
        continue;
      }
      double v = 0;
      switch (parse_number(cell, v)) {
        case Num::ok:
          break;
        case Num::not_number:
          fail(at(line),
               column(j) + " holds " +
                   (trim(cell).empty() ? std::string("an empty cell") : quote(trim(cell))),
               "a number");
        case Num::not_finite:
          fail(at(line), column(j) + " holds " + quote(trim(cell)) + " (NaN or infinite)",
               "a finite number");
      }
      feats.push(v);
    }
    ++n;
  };

  if (!header) take(std::vector<std::string_view>(first.begin(), first.end()), line0);
  if (have_second) {
    take(second, line1);
    int64_t line = 0;
    while (tok.next(row, line)) take(row, line);
  }

  Dataset ds;
  ds.n = n;
  ds.d = d;
  feats.move_to(ds);
  if (labels_are_names) {
    ds.labels.resize(names.size());
    if (!opt.known_classes.empty()) {
      std::unordered_map<std::string, int32_t> index;
      for (std::size_t c = 0; c < opt.known_classes.size(); ++c)
        index.emplace(opt.known_classes[c], static_cast<int32_t>(c));
      for (std::size_t i = 0; i < names.size(); ++i) {
        auto it = index.find(names[i]);
        if (it == index.end())
          fail(at(name_lines[i]), "unknown class " + quote(names[i]),
               "one of the model's classes: " + join_list(opt.known_classes));
        ds.labels[i] = it->second;
      }
      ds.class_names = opt.known_classes;
    } else {
      std::map<std::string, int32_t> index;
      for (const auto& s : names) index.emplace(s, 0);
      int32_t c = 0;
      for (auto& [name, id] : index) {
        id = c++;
        ds.class_names.push_back(name);
      }
      for (std::size_t i = 0; i < names.size(); ++i) ds.labels[i] = index.find(names[i])->second;
    }
  } else {
    ds.labels = std::move(labels);
  }
  return ds;
}

}  // namespace

Dataset load_csv(InputFile& in, const LoadOptions& opt) {
  return load_csv_impl(in, opt, false);
}

LabelFile load_csv_labels(InputFile& in, const LoadOptions& opt) {
  LoadOptions o;
  o.known_classes = opt.known_classes;
  Dataset ds = load_csv_impl(in, o, true);
  return LabelFile{std::move(ds.labels), std::move(ds.class_names)};
}

}  // namespace fcnet::data_detail
