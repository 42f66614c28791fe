// The table schema (data.hpp) and the cells of a table: how its columns become features, for the
// CSV loader and encode_table alike.
#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include "data/formats.hpp"
#include "data/table_cells.hpp"
#include "fcnet/data.hpp"
#include "fcnet/error.hpp"

namespace fcnet {

const std::vector<std::string>& default_na_values() {
  static const std::vector<std::string> v = {"NA", "", "NaN", "nan", "null", "NULL", "?"};
  return v;
}

namespace {

// The mean of finite values, the same whatever their order, so that a table's rows in another
// order fill their gaps alike (a sum in floating point rounds by the order it adds in). Each value
// is cut at the same binary places, set by the largest magnitude and the count, into two integers
// whose sums are exact; what is cut off lies about 2^-(124 - 2·log2 n) below the largest value, far
// under a double's rounding of the mean.
double order_free_mean(const std::vector<double>& v) {
  double top = 0;
  for (double x : v) top = std::max(top, std::abs(x));
  if (v.empty() || top == 0) return 0.0;
  const int room =
      std::bit_width(v.size()) + 1;  // n < 2^(room-1): n parts below 2^split sum < 2^62
  const int split = 63 - room;
  int e = 0;
  std::frexp(top, &e);              // top < 2^e
  const int shift = 2 * split - e;  // |v·2^shift| < 2^(2·split): both parts below 2^split
  int64_t hi_sum = 0, lo_sum = 0;
  for (double x0 : v) {
    const double x = std::ldexp(x0, shift);
    const double hi = std::trunc(std::ldexp(x, -split));
    hi_sum += static_cast<int64_t>(hi);
    lo_sum += static_cast<int64_t>(std::trunc(x - std::ldexp(hi, split)));  // exact difference
  }
  const long double total =
      std::ldexp(static_cast<long double>(hi_sum), split) + static_cast<long double>(lo_sum);
  return static_cast<double>(std::ldexp(total / static_cast<long double>(v.size()), -shift));
}

}  // namespace

int64_t ColumnSpec::width() const {
  if (kind == Kind::numeric) return indicator ? 2 : 1;
  return static_cast<int64_t>(categories.size()) + (missing_category ? 1 : 0);
}

std::string ColumnSpec::describe() const {
  if (kind == Kind::numeric) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", fill);
    return std::string("numeric, missing -> ") + buf + (indicator ? " (+ indicator)" : "");
  }
  std::string cats;
  for (std::size_t k = 0; k < categories.size() && k < 12; ++k)
    cats += (k ? ", " : "") + categories[k];
  if (categories.size() > 12) cats += ", ...";
  return "categorical, " + std::to_string(categories.size()) + " categories: " + cats +
         (missing_category ? " (+ missing)" : "");
}

int64_t TableSchema::width() const {
  int64_t d = 0;
  for (const auto& c : columns) d += c.width();
  return d;
}

std::vector<std::string> TableSchema::feature_names() const {
  std::vector<std::string> out;
  for (const auto& c : columns) {
    if (c.kind == ColumnSpec::Kind::numeric) {
      out.push_back(c.name);
      if (c.indicator) out.push_back(c.name + "=missing");
    } else {
      for (const auto& k : c.categories) out.push_back(c.name + "=" + k);
      if (c.missing_category) out.push_back(c.name + "=missing");
    }
  }
  return out;
}

uint64_t TableSchema::encoding_hash() const {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xFF) * 1099511628211ull;  // a separator no UTF-8 text holds
  };
  mix(header ? "h" : "-");
  for (const auto& c : columns) {
    mix(c.name);
    mix(c.kind == ColumnSpec::Kind::numeric ? (c.indicator ? "n+" : "n") : "c");
    for (const auto& k : c.categories) mix(k);
    mix(c.missing_category ? "m" : "-");
  }
  return h;
}

namespace data_detail {

namespace {

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

// Stored cell of a feature column: the number itself, or a NaN whose payload says "missing" (0)
// or which text (1 + its index in the column's dictionary).
constexpr uint64_t kNanBits = 0x7FF8000000000000ull;
double boxed(uint64_t payload) {
  const uint64_t bits = kNanBits | payload;
  double v;
  std::memcpy(&v, &bits, 8);
  return v;
}
uint64_t payload_of(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  return bits & 0x0007FFFFFFFFFFFFull;
}

}  // namespace

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

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

Num parse_cell(std::string_view cell, char decimal, double& v) {
  if (decimal == '.' || cell.find(',') == std::string_view::npos) return parse_number(cell, v);
  std::string t(cell);
  std::replace(t.begin(), t.end(), ',', '.');
  return parse_number(t, v);
}

bool is_missing(std::string_view cell, const std::vector<std::string>& na) {
  const std::string_view t = trim(cell);
  return std::find(na.begin(), na.end(), t) != na.end();
}

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

void RawColumn::add_missing() {
  cells.push_back(boxed(0));
  ++missing;
}

void RawColumn::add(std::string_view cell, int64_t row, char decimal,
                    const std::vector<std::string>& na, const RowName& where) {
  if (is_missing(cell, na)) return add_missing();
  double v = 0;
  switch (parse_cell(cell, decimal, v)) {
    case Num::ok:
      cells.push_back(v);
      return;
    case Num::not_finite:
      fail(where(row),
           "column " + quote(name) + " holds " + quote(trim(cell)) +
               (std::isnan(v) ? " (NaN, not a number)" : " (infinite)"),
           std::string("a finite number, or a missing-value marker (--na-values") +
               (std::isnan(v) ? ": list it there to read it as a gap" : "") + ")");
    case Num::not_number: {
      const std::string t(trim(cell));
      auto [it, fresh] = text_ids.emplace(t, texts.size());
      if (fresh) texts.push_back(t);
      if (first_text_row < 0) first_text_row = row;
      cells.push_back(boxed(1 + it->second));
      return;
    }
  }
}

void RawColumn::add_number(double v, int64_t row, const RowName& where) {
  if (std::isnan(v)) return add_missing();
  if (!std::isfinite(v))
    fail(where(row), "column " + quote(name) + " holds " + number_text(v),
         "a finite number, or a missing value (NaN)");
  cells.push_back(v);
}

void fail_missing_columns(const std::string& source, const std::vector<std::string>& missing) {
  fail(source,
       "lacks the column" + std::string(missing.size() > 1 ? "s " : " ") + join_list(missing) +
           " that the model was trained on",
       "every feature column of the training file (found by name, in any order)");
}

void leave_out_empty_columns(std::vector<RawColumn>& cols, int64_t n, const std::string& source,
                             std::vector<std::string>& notes) {
  if (n == 0 || cols.empty()) return;
  auto empty = [n](const RawColumn& c) { return c.missing == n; };
  for (const RawColumn& c : cols)
    if (empty(c))
      notes.push_back((c.name.empty() ? "column " + std::to_string(c.index) + " (unnamed)"
                                      : "column " + quote(c.name)) +
                      " is left out: every one of its " + std::to_string(n) + " cells is missing");
  if (std::all_of(cols.begin(), cols.end(), empty))
    fail(source, "has no feature column holding a value: every cell of every one is missing",
         "at least one feature column with values");
  cols.erase(std::remove_if(cols.begin(), cols.end(), empty), cols.end());
}

// Whether t is a number with thousands separators: 1,999 or -12,345.5 under a decimal point,
// 1.999 or 12.345,5 under a decimal comma (groups of three digits after the first one to three).
bool grouped_number(const std::string& t, char decimal, bool strong) {
  const char sep = decimal == ',' ? '.' : ',';
  int groups = 0;
  std::size_t i = !t.empty() && (t[0] == '-' || t[0] == '+') ? 1 : 0;
  std::size_t lead = 0;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i, ++lead;
  if (lead < 1 || lead > 3 || i == t.size() || t[i] != sep) return false;
  while (i < t.size() && t[i] == sep) {
    std::size_t k = 0;
    for (++i; i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])); ++i) ++k;
    if (k != 3) return false;
    ++groups;
  }
  if (i == t.size()) return !strong || groups >= 2;
  if (t[i] != decimal || i + 1 == t.size()) return false;
  for (++i; i < t.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(t[i]))) return false;
  return true;
}

// A column of numbers with a few texts among them ("N/A", "-", "#N/A") is a column of numbers with
// gaps the file marks its own way, not categories: read as text, each of its numbers would become
// a category of its own and the column would train, silently, as dozens of 0/1 features. Refused
// when numbers outnumber the texts and take more distinct values than category codes would; the
// same for a column whose texts are all numbers with thousands separators.
void refuse_stray_texts(const RawColumn& c, const LoadOptions& opt, const RowName& where) {
  // Every text a number with thousands separators ("1,999.00" beside 799.00): numbers, which
  // as texts would each become a category. Outside a ',' file and under the decimal point a
  // single group ("1,500") may be a decimal comma, which the decimal-comma rule below takes;
  // there only two groups or a decimal part ("1,234,567", "1,999.00") say thousands.
  const bool strong = opt.decimal == '.' && opt.delimiter != ',';
  if (std::all_of(c.texts.begin(), c.texts.end(),
                  [&](const std::string& t) { return grouped_number(t, opt.decimal, strong); }))
    fail(where(c.first_text_row),
         "column " + quote(c.name) + " holds numbers written with thousands separators, such as " +
             quote(c.texts.front()) + " (fcnet reads numbers without them)",
         opt.delimiter == 0
             ? "numbers (pandas: read_csv(..., thousands=',')), or a 'category' column to keep "
               "them as categories"
             : "the numbers without separators (as a spreadsheet's General format writes them), "
               "or --categorical " +
                   c.name + " to keep them as categories");
  constexpr std::size_t kCodes = 20;
  int64_t numbers = 0, texts = 0;
  // Markers are few and hold no digit ("N/A", "-", "#N/A", "?"): codes such as "V57" or
  // "PC 17599" beside numbers are categories, as before.
  constexpr std::size_t kMarkers = 3;
  if (c.texts.size() > kMarkers ||
      std::any_of(c.texts.begin(), c.texts.end(), [](const std::string& t) {
        return std::any_of(t.begin(), t.end(),
                           [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); });
      }))
    return;
  std::unordered_set<double> distinct;
  for (double v : c.cells) {
    if (!std::isnan(v)) {
      ++numbers;
      if (distinct.size() <= kCodes) distinct.insert(v);
    } else if (payload_of(v) != 0) {
      ++texts;
    }
  }
  if (numbers <= texts || distinct.size() <= kCodes) return;
  std::string markers;
  for (const std::string& m : opt.na_values) markers += (markers.empty() ? "" : ",") + m;
  for (const std::string& t : c.texts) markers += "," + t;
  fail(where(c.first_text_row),
       "column " + quote(c.name) + " holds " + std::to_string(numbers) + " numbers and " +
           std::to_string(texts) + " cells of text (" + join_list(c.texts, 5) +
           "): a marker of missing numbers?",
       opt.delimiter == 0
           ? "NaN (or None) in the gaps, e.g. replace([...], np.nan), or a 'category' column to "
             "keep it as categories"
           : "--na-values '" + markers + "' to read them as gaps (or --categorical " + c.name +
                 " to keep the column as categories)");
}

void fit_columns(const std::vector<RawColumn>& cols, int64_t n, const LoadOptions& opt,
                 const std::string& source, const RowName& where, TableSchema& out) {
  auto listed = [&](const std::vector<std::string>& list, const std::string& name, int64_t index) {
    for (const auto& s : list)
      if (s == name || s == std::to_string(index)) return true;
    return false;
  };
  for (const auto& c : cols) {
    ColumnSpec spec;
    spec.name = c.name;
    const bool forced_cat = listed(opt.categorical, c.name, c.index);
    const bool forced_num = listed(opt.numeric, c.name, c.index);
    if (forced_num && c.first_text_row >= 0)
      fail(where(c.first_text_row),
           "column " + quote(c.name) + " (--numeric) holds " + quote(c.texts.front()),
           "a number, or a missing-value marker (--na-values)");
    if (!forced_cat && !forced_num && c.first_text_row >= 0) refuse_stray_texts(c, opt, where);
    if (forced_cat || (c.first_text_row >= 0 && !forced_num)) {
      spec.kind = ColumnSpec::Kind::categorical;
      std::vector<std::string> cats = c.texts;
      bool all_numbers = c.texts.empty();
      for (double v : c.cells)
        if (!std::isnan(v)) cats.push_back(number_text(v));
      std::sort(cats.begin(), cats.end());
      cats.erase(std::unique(cats.begin(), cats.end()), cats.end());
      if (all_numbers)
        std::sort(cats.begin(), cats.end(), [](const std::string& a, const std::string& b) {
          return std::stod(a) < std::stod(b);
        });
      const int64_t distinct = static_cast<int64_t>(cats.size());
      // Every text a number once read with a decimal comma ("5,1" beside "5" in a ';' file): the
      // numbers of a file written with decimal commas, however few distinct values they take.
      // Their one-hot columns would train, silently, on the wrong features. In a ',' file such
      // texts were quoted on purpose (codes, thousands), so they stay categories there. A table
      // from Python (no delimiter) is told what pandas offers instead of the CLI's options.
      if (!forced_cat && opt.decimal != ',' && opt.delimiter != ',' && !c.texts.empty() &&
          std::all_of(c.texts.begin(), c.texts.end(), [](const std::string& t) {
            double v = 0;
            return parse_cell(t, ',', v) == Num::ok;
          }))
        fail(source,
             "column " + quote(c.name) + " holds " + std::to_string(c.texts.size()) +
                 " distinct texts in " + std::to_string(n) + " rows, such as " +
                 quote(c.texts.front()) + ": numbers with a decimal comma?",
             opt.delimiter == 0
                 ? "numbers (pandas: read_csv(..., decimal=',')), or a 'category' column to keep "
                   "them as categories"
                 : "--decimal , for numbers such as " + quote(c.texts.front()) +
                       " (or --categorical " + c.name + " to keep them as categories)");
      if (distinct > 1000 || (n >= 40 && distinct > n / 2)) {
        // Texts such as "17,99" under the decimal point: numbers with a decimal comma.
        const bool comma_numbers = opt.decimal != ',' && !c.texts.empty() && [&] {
          const std::string& t = c.texts.front();
          const std::size_t comma = t.find(',');
          const std::size_t from = !t.empty() && t[0] == '-' ? 1 : 0;
          if (comma == std::string::npos || comma == from || comma + 1 == t.size()) return false;
          for (std::size_t i = from; i < t.size(); ++i)
            if (i != comma && !std::isdigit(static_cast<unsigned char>(t[i]))) return false;
          return true;
        }();
        fail(source,
             "column " + quote(c.name) + " holds " + std::to_string(distinct) +
                 " distinct texts in " + std::to_string(n) +
                 (comma_numbers ? " rows, such as " + quote(c.texts.front()) +
                                      ": numbers with a decimal comma?"
                                : " rows: too many to be categories (an identifier or free text?)"),
             comma_numbers ? "--decimal , for numbers such as " + quote(c.texts.front())
                           : "--ignore-cols " + c.name + " or --id-col " + c.name +
                                 " (or --numeric, if it holds numbers)");
      }
      spec.categories = std::move(cats);
      spec.missing_category = c.missing > 0;
    } else {
      std::vector<double> present;
      present.reserve(c.cells.size());
      for (double v : c.cells)
        if (!std::isnan(v)) present.push_back(v);
      if (!present.empty()) {
        if (opt.impute_median) {
          std::sort(present.begin(), present.end());
          const std::size_t m = present.size() / 2;
          spec.fill = present.size() % 2 ? present[m] : 0.5 * (present[m - 1] + present[m]);
        } else {
          spec.fill = order_free_mean(present);
        }
      }
      spec.indicator = opt.missing_indicator && c.missing > 0;
    }
    out.columns.push_back(std::move(spec));
  }
}

void encode_columns(std::vector<RawColumn>& cols, const TableSchema& use, int64_t n,
                    const RowName& where, Dataset& ds) {
  ds.d = use.width();
  FeatureStore feats;
  feats.reserve(static_cast<std::size_t>(n * ds.d));
  std::vector<std::unordered_map<std::string, int64_t>> cat_index(cols.size());
  std::vector<int64_t> unseen(cols.size(), 0);
  for (std::size_t k = 0; k < cols.size(); ++k) {
    const ColumnSpec& spec = use.columns[k];
    for (std::size_t c = 0; c < spec.categories.size(); ++c)
      cat_index[k].emplace(spec.categories[c], static_cast<int64_t>(c));
    if (spec.kind == ColumnSpec::Kind::numeric && cols[k].first_text_row >= 0)
      fail(where(cols[k].first_text_row),
           "column " + quote(cols[k].name) + " holds " + quote(cols[k].texts.front()) +
               ", but the model reads it as numeric",
           "a number, or a missing-value marker");
  }
  std::vector<double> onehot;
  for (int64_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < cols.size(); ++k) {
      const ColumnSpec& spec = use.columns[k];
      const double v = cols[k].cells[static_cast<std::size_t>(i)];
      const bool missing = std::isnan(v) && payload_of(v) == 0;
      if (spec.kind == ColumnSpec::Kind::numeric) {
        feats.push(missing ? spec.fill : v);
        if (spec.indicator) feats.push(missing ? 1.0 : 0.0);
        continue;
      }
      onehot.assign(static_cast<std::size_t>(spec.width()), 0.0);
      if (missing) {
        if (spec.missing_category) onehot.back() = 1.0;
      } else {
        const std::string t = std::isnan(v) ? cols[k].texts[payload_of(v) - 1] : number_text(v);
        auto it = cat_index[k].find(t);
        if (it != cat_index[k].end())
          onehot[static_cast<std::size_t>(it->second)] = 1.0;
        else
          ++unseen[k];
      }
      for (double x : onehot) feats.push(x);
    }
  }
  for (auto& c : cols) std::vector<double>().swap(c.cells);
  feats.move_to(ds);
  for (std::size_t k = 0; k < cols.size(); ++k)
    if (unseen[k] > 0) ds.unseen.emplace_back(cols[k].name, unseen[k]);
  ds.schema = use;
}

}  // namespace data_detail

Dataset encode_table(const std::vector<TableColumn>& columns, const LoadOptions& opt,
                     const std::string& source) {
  using namespace data_detail;
  const TableSchema* schema = opt.schema != nullptr && !opt.schema->empty() ? opt.schema : nullptr;
  const char decimal = schema ? schema->decimal : opt.decimal;
  const std::vector<std::string>& na = schema ? schema->na_values : opt.na_values;
  const int64_t ncols = static_cast<int64_t>(columns.size());
  int64_t n = -1;
  for (const auto& c : columns) {
    const int64_t rows = static_cast<int64_t>(c.text ? c.texts.size() : c.numbers.size());
    if (c.text && !c.missing.empty() && static_cast<int64_t>(c.missing.size()) != rows)
      fail(source,
           "column " + quote(c.name) + " has " + std::to_string(c.missing.size()) +
               " missing-cell flags for " + std::to_string(rows) + " cells",
           "one flag per cell");
    if (n >= 0 && rows != n)
      fail(source, "column " + quote(c.name) + " has " + std::to_string(rows) + " rows",
           std::to_string(n) + " like column " + quote(columns.front().name));
    n = rows;
  }
  if (n < 0) fail(source, "has no columns", "at least one feature column");
  std::vector<std::string> names;
  for (const auto& c : columns) names.push_back(c.name);
  auto find = [&](const std::string& name) -> int64_t {
    for (int64_t j = 0; j < ncols; ++j)
      if (names[static_cast<std::size_t>(j)] == name) return j;
    return -1;
  };
  for (int64_t j = 0; j < ncols; ++j)
    for (int64_t k = 0; k < j; ++k)
      if (names[static_cast<std::size_t>(j)] == names[static_cast<std::size_t>(k)])
        fail(source, "names column " + quote(names[static_cast<std::size_t>(j)]) + " twice",
             "distinct column names");

  // The feature columns: the schema's, found by name; else all but the id and ignored ones.
  std::vector<int64_t> feature_cols;
  if (schema) {
    std::vector<std::string> missing;
    for (const auto& spec : schema->columns) {
      const int64_t j = find(spec.name);
      if (j < 0) missing.push_back(spec.name);
      feature_cols.push_back(j);
    }
    if (!missing.empty()) fail_missing_columns(source, missing);
  } else {
    std::vector<char> taken(static_cast<std::size_t>(ncols), 0);
    auto role = [&](const std::string& name, const std::string& option) {
      const int64_t j = find(name);
      if (j < 0)
        fail(source,
             "no column named " + quote(name) + " for " + option + " (" + join_list(names) + ")",
             "a column name of the table");
      taken[static_cast<std::size_t>(j)] = 1;
    };
    if (!opt.id_col.empty()) role(opt.id_col, "id_col");
    for (const auto& c : opt.ignore_cols) role(c, "ignore_cols");
    for (int64_t j = 0; j < ncols; ++j)
      if (!taken[static_cast<std::size_t>(j)]) feature_cols.push_back(j);
    if (feature_cols.empty()) fail(source, "has no feature columns", "at least one");
  }

  const RowName where = [&](int64_t row) { return source + ": row " + std::to_string(row); };
  std::vector<RawColumn> cols(feature_cols.size());
  for (std::size_t k = 0; k < cols.size(); ++k) {
    const TableColumn& src = columns[static_cast<std::size_t>(feature_cols[k])];
    RawColumn& c = cols[k];
    c.index = feature_cols[k];
    c.name = src.name;
    c.cells.reserve(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const auto r = static_cast<std::size_t>(i);
      if (!src.text)
        c.add_number(src.numbers[r], i, where);
      else if (!src.missing.empty() && src.missing[r] != 0)
        c.add_missing();
      else
        c.add(src.texts[r], i, decimal, na, where);
    }
  }
  TableSchema fitted;
  Dataset ds;
  if (!schema) {
    leave_out_empty_columns(cols, n, source, ds.notes);
    fitted.header = true;
    fitted.file_columns = ncols;
    fitted.id = opt.id_col;
    fitted.na_values = na;
    fitted.decimal = decimal;
    fit_columns(cols, n, opt, source, where, fitted);
  }
  ds.n = n;
  ds.source = source;
  encode_columns(cols, schema ? *schema : fitted, n, where, ds);
  return ds;
}

}  // namespace fcnet
