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
#include "data/table_cells.hpp"
#include "fcnet/error.hpp"
#include "fcnet/text.hpp"

namespace fcnet::data_detail {

namespace {

class Tokenizer {
 public:
  Tokenizer(std::string_view text, const std::string& path, char delim)
      : s_(text), path_(path), delim_(delim) {}

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
          while (pos_ < s_.size() && s_[pos_] != delim_ && s_[pos_] != '\n' && s_[pos_] != '\r')
            ++pos_;
          field = s_.substr(start, pos_ - start);
        }
        fields.push_back(field);
        if (pos_ >= s_.size()) break;
        const char c = s_[pos_++];
        if (c == delim_) continue;
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
    while (pos_ < s_.size() && s_[pos_] != delim_ && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
    if (pos_ < s_.size() && s_[pos_] != delim_ && s_[pos_] != '\n' && s_[pos_] != '\r')
      fail(path_ + ":" + std::to_string(line_), "text after the closing quote of a field",
           std::string("'") + (delim_ == '\t' ? std::string("\\t") : std::string(1, delim_)) +
               "' or the end of the line");
    return buf != nullptr ? std::string_view(*buf) : field;
  }

  std::string_view s_;
  const std::string& path_;
  char delim_ = ',';
  std::size_t pos_ = 0;
  int64_t line_ = 1;
  std::deque<std::string> owned_;  // unescaped quoted fields; a deque keeps views stable
};

// The delimiter of a file when --delimiter is not given: of , ; tab |, the one found the same
// number of times (at least once) on each of the first lines, the most often; ',' when none is.
char detect_delimiter(std::string_view body) {
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  while (pos < body.size() && lines.size() < 6) {
    std::size_t e = body.find('\n', pos);
    if (e == std::string_view::npos) e = body.size();
    std::string_view l = body.substr(pos, e - pos);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (!trim(l).empty()) lines.push_back(l);
    pos = e + 1;
  }
  char best = ',';
  std::size_t best_count = 0;
  for (char c : {',', ';', '\t', '|'}) {
    std::size_t first = 0;
    bool same = true;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      bool quoted = false;
      std::size_t k = 0;
      for (char ch : lines[i]) {
        if (ch == '"') quoted = !quoted;
        if (ch == c && !quoted) ++k;
      }
      if (i == 0) first = k;
      // The last line sampled may be cut by the sample itself only when it is the file's end.
      else if (k != first)
        same = false;
    }
    if (same && first > best_count) {
      best = c;
      best_count = first;
    }
  }
  return best;
}

std::string delimiter_name(char c) {
  return c == '\t' ? "tab" : std::string("'") + c + "'";
}

// Column `spec` given as a name or a 0-based index (negative: from the end), among `names`.
int64_t find_column(const std::string& spec, const std::vector<std::string>& names, bool header,
                    const std::string& option, const std::string& where) {
  if (header)
    for (std::size_t j = 0; j < names.size(); ++j)
      if (names[j] == spec) return static_cast<int64_t>(j);
  int64_t k = 0;
  const char* b = spec.data();
  const char* e = b + spec.size();
  const int64_t n = static_cast<int64_t>(names.size());
  if (!spec.empty() && std::from_chars(b, e, k).ptr == e) {
    if (k < 0) k += n;
    if (k < 0 || k >= n)
      fail(where, option + " " + spec + " is outside the " + std::to_string(n) + " columns",
           "an index from " + std::to_string(-n) + " to " + std::to_string(n - 1) +
               " or a column name");
    return k;
  }
  fail(where,
       header
           ? "no column named " + quote(spec) + " for " + option + " in the header (" +
                 join_list(names) + ")"
           : "no column named " + quote(spec) + " for " + option + ": the file has no header row",
       "a column name from the header or a 0-based index");
}

// A label written as an integer that its number would not give back: leading zeros ("007", a
// code) or more digits than a double holds exactly. Kept as written, as "labels are class names":
// read as numbers, "007" and "07" (or 2^53 and 2^53 + 1) would be one class.
bool integer_code(std::string_view t) {
  const std::size_t from = !t.empty() && (t[0] == '-' || t[0] == '+') ? 1 : 0;
  const std::string_view digits = t.substr(from);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos)
    return false;
  return (digits.size() > 1 && digits[0] == '0') || digits.size() > 15;
}

// The CSV loader behind load_csv and load_csv_labels; `labels_only` reads a one-column file of
// labels (no features).
Dataset load_csv_impl(InputFile& in, const LoadOptions& opt, bool labels_only) {
  const std::string& path = in.path();
  auto at = [&](int64_t line) { return path + ":" + std::to_string(line); };
  std::string text = in.read_all();
  std::string_view body(text);
  if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);
  // Excel's first line "sep=;" names the delimiter; the line is blanked (so that every later
  // line keeps its number) and read as the blank line it then is.
  char declared = 0;
  if (body.size() >= 5 && body.substr(0, 4) == "sep=" &&
      (body.size() == 5 || body[5] == '\n' || body[5] == '\r') &&
      std::string_view(" \"\r\n").find(body[4]) == std::string_view::npos) {
    declared = body[4];
    std::fill_n(text.begin() + (body.data() - text.data()), 5, ' ');
  }
  const TableSchema* schema = opt.schema != nullptr && !opt.schema->empty() ? opt.schema : nullptr;
  const char decimal = schema ? schema->decimal : opt.decimal;
  const std::vector<std::string>& na = schema ? schema->na_values : opt.na_values;
  const char delim = opt.delimiter != 0 ? opt.delimiter
                     : declared != 0    ? declared
                                        : detect_delimiter(body);
  if (decimal == ',' && delim == ',')
    fail(path, "--decimal ',' with ',' as the delimiter",
         "another delimiter (--delimiter ';') for decimal commas");
  // Text is UTF-8: a class name or column name in another encoding would be stored in the model
  // as it came, and no JSON (model metadata, --json output) could hold it.
  if (const std::size_t bad = first_invalid_utf8(body); bad != std::string_view::npos) {
    const std::size_t line_start = body.rfind('\n', bad == 0 ? 0 : bad - 1);
    const std::size_t from = line_start == std::string_view::npos ? 0 : line_start + 1;
    const int64_t line =
        1 + std::count(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(bad), '\n');
    const int64_t field = 1 + std::count(body.begin() + static_cast<std::ptrdiff_t>(from),
                                         body.begin() + static_cast<std::ptrdiff_t>(bad), delim);
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02X", static_cast<unsigned char>(body[bad]));
    fail(at(line),
         "field " + std::to_string(field) + " holds the byte " + hex + ", which is not UTF-8 text",
         "a UTF-8 file (re-save it as UTF-8, e.g. iconv -f latin1 -t utf-8)");
  }
  auto is_na = [&](std::string_view cell) { return is_missing(cell, na); };
  auto numeric_cell = [&](std::string_view cell) {
    double v;
    return parse_cell(cell, decimal, v) != Num::not_number;
  };

  Tokenizer tok(body, path, delim);
  std::vector<std::string_view> row;
  int64_t line0 = 0;
  if (!tok.next(row, line0)) fail(path, "empty file", "a CSV header and/or rows of data");
  const std::vector<std::string> first(row.begin(), row.end());
  const int64_t ncols = static_cast<int64_t>(first.size());
  std::vector<std::string_view> second;
  int64_t line1 = 0;
  const bool have_second = tok.next(second, line1);

  // Whether the first record is a header.
  bool header = false;
  const bool header_given = opt.header != LoadOptions::Header::detect && !labels_only;
  if (header_given) {
    header = opt.header == LoadOptions::Header::present;
    if (schema && schema->header && !header)
      fail(path,
           "is read without a header (--header no), but the model finds its columns by name "
           "(its training file had a header)",
           "a file whose first line names the columns, as the training file's did");
  } else if (schema) {
    header = schema->header;
  } else if (labels_only) {
    // One column of labels: a name above numbers is a header; names alone are labels.
    header = ncols == 1 && !numeric_cell(first[0]) && have_second && !second.empty() &&
             numeric_cell(second[0]);
  } else {
    // A header is a line of names: text above a number in some column, a line of text only, or
    // exactly 0, 1, …, k−1 with k ≥ 3 (the names pandas writes for unnamed columns, as from a
    // NumPy array; "0,1" is too likely a row of two-column data), after an empty cell where
    // pandas also wrote its index. A missing cell below says nothing either way, so only the
    // columns holding values decide.
    const int64_t index_cell = ncols >= 3 && trim(first[0]).empty() ? 1 : 0;
    bool any_text = false, all_text = true, positions = ncols >= 3;
    for (int64_t j = 0; j < ncols; ++j) {
      const std::string_view c = trim(first[j]);
      const bool text_cell = !c.empty() && !numeric_cell(c);
      all_text = all_text && text_cell;
      positions = positions && (j < index_cell || c == std::to_string(j - index_cell));
      const bool below_missing = have_second && static_cast<int64_t>(second.size()) > j &&
                                 is_na(second[static_cast<std::size_t>(j)]);
      if (text_cell && !is_na(c) && !below_missing &&
          (!have_second || static_cast<int64_t>(second.size()) <= j ||
           numeric_cell(second[static_cast<std::size_t>(j)])))
        any_text = true;
      if (!opt.label_col.empty() && c == opt.label_col && text_cell) any_text = true;
    }
    header = any_text || all_text || positions;
  }
  if (header && !have_second)
    fail(path, "header only, no data rows", "at least one row of data after the header");
  std::vector<std::string> names;
  for (int64_t j = 0; j < ncols; ++j)
    names.push_back(header ? std::string(trim(first[j])) : std::to_string(j));
  if (header)
    for (int64_t j = 0; j < ncols; ++j)
      for (int64_t k = 0; k < j; ++k)
        if (names[j] == names[k] && !names[j].empty())
          fail(at(line0), "the header names column " + quote(names[j]) + " twice",
               "distinct column names");
  if (ncols == 1 && !labels_only)
    for (char c : {',', ';', '\t', '|'})
      if (first[0].find(c) != std::string_view::npos)
        fail(at(line0),
             "the rows hold a single column, and " + delimiter_name(c) +
                 " appears in them: it looks like a file separated by " + delimiter_name(c),
             "fields separated by " + delimiter_name(delim) + ", or --delimiter '" +
                 (c == '\t' ? std::string("\\t") : std::string(1, c)) + "'");

  // Roles: the label column, the id column, ignored ones, features.
  const bool labels_from_file = !opt.labels_path.empty() && !labels_only;
  int64_t label = -1, id = -1, weight = -1;
  std::vector<std::string> categorical = opt.categorical, numeric = opt.numeric;
  bool label_by_default = false;  // the first column, as no column is named "label"
  std::vector<int64_t> feature_cols;
  std::vector<char> taken(static_cast<std::size_t>(ncols), 0);
  if (schema) {
    // Headerless files: the training file's positions, with or without its label column.
    // An empty name is no role's (a model without an id column has the id ""), and a file's
    // unnamed column (the index pandas writes) matches none.
    auto position = [&](const std::string& name, bool required) -> int64_t {
      if (name.empty() && (!required || !header)) return -1;
      if (schema->header) {
        for (int64_t j = 0; j < ncols; ++j)
          if (names[j] == name) return j;
        return -1;
      }
      int64_t k = std::stoll(name);
      const int64_t lab = schema->label.empty() ? -1 : std::stoll(schema->label);
      if (ncols == schema->file_columns) return k;
      if (lab >= 0 && ncols == schema->file_columns - 1) {
        if (k == lab) return -1;
        return k > lab ? k - 1 : k;
      }
      if (required)
        fail(at(line0),
             "has " + std::to_string(ncols) +
                 " columns and no header, while the model's "
                 "training file had " +
                 std::to_string(schema->file_columns),
             "the training file's columns, in its order (with or without the label column)");
      return -1;
    };
    std::vector<std::string> missing;
    for (const auto& c : schema->columns) {
      const int64_t j = position(c.name, true);
      if (j < 0)
        missing.push_back(c.name);
      else
        feature_cols.push_back(j);
    }
    if (!missing.empty()) fail_missing_columns(path, missing);
    if (!labels_from_file) {
      label = !opt.label_col.empty()
                  ? find_column(opt.label_col, names, header, "--label-col", at(line0))
                  : position(schema->label, false);
      if (label < 0 && opt.require_labels)
        fail(path, "has no label column " + quote(schema->label.empty() ? "label" : schema->label),
             "the label column the model was trained with (or --label-col NAME)");
    }
    id = opt.id_col.empty() ? position(schema->id, false)
                            : find_column(opt.id_col, names, header, "--id-col", at(line0));
    if (!opt.weight_col.empty())
      weight = find_column(opt.weight_col, names, header, "--weight-col", at(line0));
  } else {
    if (!opt.label_col.empty() && !labels_only) {
      if (labels_from_file)
        fail(path, "both --label-col and --labels name the labels", "one source of labels");
      label = find_column(opt.label_col, names, header, "--label-col", at(line0));
    } else if (labels_only) {
      label = 0;
    } else {
      for (int64_t j = 0; header && j < ncols; ++j)
        if (names[j] == "label") label = j;
      if (label >= 0 && labels_from_file)
        fail(path, "the CSV has a 'label' column and --labels gives labels too",
             "one source of labels");
      if (label < 0 && opt.require_labels && !labels_from_file) {
        label = 0;
        label_by_default = true;
      }
    }
    if (!opt.id_col.empty()) id = find_column(opt.id_col, names, header, "--id-col", at(line0));
    if (label >= 0) taken[static_cast<std::size_t>(label)] = 1;
    if (id >= 0) {
      if (id == label) fail(path, "--id-col names the label column", "another column");
      taken[static_cast<std::size_t>(id)] = 1;
    }
    if (!opt.weight_col.empty()) {
      weight = find_column(opt.weight_col, names, header, "--weight-col", at(line0));
      if (weight == label || weight == id)
        fail(path,
             "--weight-col names the " + std::string(weight == label ? "label" : "id") + " column",
             "another column");
      taken[static_cast<std::size_t>(weight)] = 1;
    }
    // Column lists name columns of the file: a misspelt one is an error, not a silent no-op.
    // Each is taken as the name of the column it finds (an index from the end included).
    for (auto* list : {&categorical, &numeric})
      for (auto& c : *list)
        if (!c.empty())
          c = names[static_cast<std::size_t>(find_column(
              c, names, header, list == &numeric ? "--numeric" : "--categorical", at(line0)))];
    std::vector<char> ignored(static_cast<std::size_t>(ncols), 0);
    for (const auto& c : opt.ignore_cols)
      ignored[static_cast<std::size_t>(find_column(c, names, header, "--ignore-cols", at(line0)))] =
          1;
    for (int64_t j = 0; j < ncols; ++j)
      if (ignored[static_cast<std::size_t>(j)]) taken[static_cast<std::size_t>(j)] = 1;
    for (int64_t j = 0; j < ncols; ++j)
      if (!taken[static_cast<std::size_t>(j)]) feature_cols.push_back(j);
    if (feature_cols.empty() && !labels_only)
      fail(at(line0),
           "no feature columns besides the label" + std::string(id >= 0 ? " and id" : "") +
               " column" + (ncols == 1 ? " (the rows parse to one column)" : ""),
           "at least one feature column");
  }
  if (labels_only && ncols != 1)
    fail(at(line0), "label file has " + std::to_string(ncols) + " columns", "one column of labels");

  std::vector<RawColumn> cols(feature_cols.size());
  for (std::size_t k = 0; k < cols.size(); ++k) {
    cols[k].index = feature_cols[k];
    cols[k].name = names[static_cast<std::size_t>(feature_cols[k])];
    cols[k].cells.reserve(body.size() /
                          (2 * static_cast<std::size_t>(std::max<int64_t>(1, ncols))));
  }
  std::vector<std::string> label_cells, ids;
  std::vector<double> weights;
  std::vector<int64_t> lines;
  const RowName where = [&](int64_t r) { return at(lines[static_cast<std::size_t>(r)]); };
  auto take = [&](const std::vector<std::string_view>& r, int64_t line) {
    if (static_cast<int64_t>(r.size()) != ncols)
      fail(at(line), "row has " + std::to_string(r.size()) + " fields",
           std::to_string(ncols) + " like line " + std::to_string(line0) +
               " (fields separated by " + delimiter_name(delim) + ")");
    const int64_t row_index = static_cast<int64_t>(lines.size());
    lines.push_back(line);
    if (label >= 0) {
      const std::string_view t = trim(r[static_cast<std::size_t>(label)]);
      if (t.empty() || is_na(t)) fail(at(line), "empty label " + quote(t), "a class label");
      double v = 0;
      const Num k = parse_cell(t, decimal, v);
      if (k == Num::not_finite)
        fail(at(line), "label " + quote(t) + " is not finite", "a class label");
      label_cells.push_back(k == Num::ok && !integer_code(t) ? number_text(v) : std::string(t));
    }
    if (id >= 0) ids.emplace_back(trim(r[static_cast<std::size_t>(id)]));
    if (weight >= 0) {
      const std::string_view t = trim(r[static_cast<std::size_t>(weight)]);
      double v = 0;
      if (parse_cell(t, decimal, v) != Num::ok || v < 0)
        fail(at(line), "weight " + quote(t) + " in column " + quote(names[weight]),
             "a finite number >= 0 (--weight-col)");
      weights.push_back(v);
    }
    for (auto& c : cols) c.add(r[static_cast<std::size_t>(c.index)], row_index, decimal, na, where);
  };
  if (!header) take(std::vector<std::string_view>(first.begin(), first.end()), line0);
  if (have_second) {
    take(second, line1);
    int64_t line = 0;
    while (tok.next(row, line)) take(row, line);
  }
  const int64_t n = static_cast<int64_t>(lines.size());

  // The schema: the model's, or fitted here.
  TableSchema fitted;
  Dataset ds;
  if (!schema) {
    if (!header && !header_given && !labels_only)
      ds.notes.push_back(
          "the first line is read as data, not as column names (no header detected; "
          "--header yes reads it as the names)");
    leave_out_empty_columns(cols, n, path, ds.notes);
    // A column without a name cannot be found again by a model (columns are matched by name),
    // and it is most often a row index (pandas' to_csv() writes one): never a silent feature.
    // (One without any value, as a trailing delimiter leaves, is left out above.) A column a
    // role takes (an unnamed --id-col 0) is no feature. --ignore-cols finds a name before a
    // position, so where another column is named j the suggestion counts from the end.
    for (const RawColumn& c : cols) {
      if (!header || !c.name.empty()) continue;
      const int64_t j = c.index;
      const bool named_j = std::find(names.begin(), names.end(), std::to_string(j)) != names.end();
      fail(at(line0),
           "the header gives column " + std::to_string(j) +
               " (0-based) no name: an unnamed column, such as the row index pandas writes "
               "with to_csv()",
           "a name for every column, or " +
               (named_j ? "--ignore-cols=" + std::to_string(j - ncols)
                        : "--ignore-cols " + std::to_string(j)) +
               " to leave it out (pandas: to_csv(index=False))");
    }
    fitted.header = header;
    fitted.file_columns = ncols;
    fitted.label = label >= 0 ? names[static_cast<std::size_t>(label)] : "";
    fitted.id = id >= 0 ? names[static_cast<std::size_t>(id)] : "";
    fitted.na_values = na;
    fitted.decimal = decimal;
    LoadOptions read = opt;  // with the delimiter the file turned out to have
    read.delimiter = delim;
    read.categorical = categorical;
    read.numeric = numeric;
    fit_columns(cols, n, read, path, where, fitted);
  }
  ds.n = n;
  if (!labels_only) encode_columns(cols, schema ? *schema : fitted, n, where, ds);
  ds.ids = std::move(ids);
  ds.weights = std::move(weights);

  // Labels: whatever the column holds is a set of class names; numbers in numeric order, text in
  // byte order. Labels that are exactly the indices 0…C−1 stay indices (no names stored).
  if (label >= 0 && opt.read_labels) {
    ds.labels.resize(static_cast<std::size_t>(n));
    std::vector<double> values(static_cast<std::size_t>(n), 0.0);
    bool all_numeric = true, all_integers = true;
    for (int64_t i = 0; i < n; ++i) {
      double v = 0;
      if (parse_number(label_cells[static_cast<std::size_t>(i)], v) == Num::ok) {
        values[static_cast<std::size_t>(i)] = v;
        if (v != std::floor(v)) all_integers = false;
      } else {
        all_numeric = false;
      }
    }
    if (!opt.known_classes.empty()) {
      std::unordered_map<std::string, int32_t> index;
      for (std::size_t c = 0; c < opt.known_classes.size(); ++c)
        index.emplace(opt.known_classes[c], static_cast<int32_t>(c));
      for (int64_t i = 0; i < n; ++i) {
        auto it = index.find(label_cells[static_cast<std::size_t>(i)]);
        if (it == index.end())
          fail(at(lines[static_cast<std::size_t>(i)]),
               "unknown class " + quote(label_cells[static_cast<std::size_t>(i)]),
               "one of the model's classes: " + join_list(opt.known_classes));
        ds.labels[static_cast<std::size_t>(i)] = it->second;
      }
      ds.class_names = opt.known_classes;
      return ds;
    }
    if (opt.index_labels && !all_numeric)
      for (int64_t i = 0; i < n; ++i)
        if (double v; parse_number(label_cells[static_cast<std::size_t>(i)], v) != Num::ok)
          fail(at(lines[static_cast<std::size_t>(i)]),
               "label " + quote(label_cells[static_cast<std::size_t>(i)]) +
                   " but the model's classes are the indices 0…C−1",
               "a class index");
    std::vector<std::string> classes = label_cells;
    std::sort(classes.begin(), classes.end());
    classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
    // The first column taken for the label when none is named: one that gives most rows a class
    // of their own is an identifier or a feature, and the real label is elsewhere. (A column
    // named as the label is taken as it is.)
    if (label_by_default && !opt.index_labels && n >= 20 &&
        static_cast<int64_t>(classes.size()) > n / 2)
      fail(path,
           "no column is named 'label', so the first, " +
               quote(names[static_cast<std::size_t>(label)]) +
               ", was taken for the labels, and it holds " + std::to_string(classes.size()) +
               " distinct values in " + std::to_string(n) +
               " rows: an identifier or a feature, not labels",
           "--label-col NAME for the label column" +
               std::string(header ? " (one of " + join_list(names, 8) + ")" : ""));
    if (all_numeric) {
      // Codes of one value ("007", "07") in text order after it, so the order is the same
      // whatever the order of the rows.
      std::sort(classes.begin(), classes.end(), [](const std::string& a, const std::string& b) {
        const double x = std::stod(a), y = std::stod(b);
        return x < y || (x == y && a < b);
      });
      // As scikit-learn's type_of_target: numbers that are not all whole are a continuous
      // target, however few distinct values they take.
      if (!all_integers) {
        int64_t i = 0;
        while (values[static_cast<std::size_t>(i)] ==
               std::floor(values[static_cast<std::size_t>(i)]))
          ++i;
        fail(at(lines[static_cast<std::size_t>(i)]),
             "label column " + quote(names[static_cast<std::size_t>(label)]) + " holds " +
                 quote(label_cells[static_cast<std::size_t>(i)]) + ", one of " +
                 std::to_string(classes.size()) +
                 " distinct numbers that are not all whole: it looks continuous (a regression "
                 "target)",
             "class labels (fcnet trains classifiers; --label-col names the label column)");
      }
      bool indices = all_integers;
      for (std::size_t c = 0; c < classes.size() && indices; ++c)
        indices = classes[c] == std::to_string(c);
      if (indices || opt.index_labels) {
        for (int64_t i = 0; i < n; ++i) {
          const double v = values[static_cast<std::size_t>(i)];
          if (!all_integers || v < 0 || v > INT32_MAX)
            fail(at(lines[static_cast<std::size_t>(i)]),
                 "label " + quote(label_cells[static_cast<std::size_t>(i)]) +
                     " but the model's classes are the indices 0…C−1",
                 "a class index");
          ds.labels[static_cast<std::size_t>(i)] = static_cast<int32_t>(v);
        }
        return ds;
      }
    }
    std::unordered_map<std::string, int32_t> index;
    for (std::size_t c = 0; c < classes.size(); ++c)
      index.emplace(classes[c], static_cast<int32_t>(c));
    for (int64_t i = 0; i < n; ++i)
      ds.labels[static_cast<std::size_t>(i)] = index.at(label_cells[static_cast<std::size_t>(i)]);
    ds.class_names = std::move(classes);
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
  o.index_labels = opt.index_labels;
  Dataset ds = load_csv_impl(in, o, true);
  return LabelFile{std::move(ds.labels), std::move(ds.class_names)};
}

}  // namespace fcnet::data_detail
