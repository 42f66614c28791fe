// The cells of a table and how its columns become features: shared by the CSV loader and
// encode_table (columns handed over in memory, such as a data frame's), so a table is read and
// encoded one way whichever way it arrives.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fcnet/data.hpp"

namespace fcnet::data_detail {

std::string_view trim(std::string_view s);

enum class Num { ok, not_number, not_finite };
// A whole cell as a number (surrounding blanks and a leading '+' allowed).
Num parse_number(std::string_view cell, double& v);
// The same with decimal commas when `decimal` is ','.
Num parse_cell(std::string_view cell, char decimal, double& v);
// Whether a cell is one of the missing-value markers (blanks around it ignored).
bool is_missing(std::string_view cell, const std::vector<std::string>& na);
// A cell for messages: at most 40 bytes, in quotes, control bytes shown as \xNN.
std::string quote(std::string_view s);

// Where row `row` (0-based, in data order) is, for messages: "file.csv:12".
using RowName = std::function<std::string(int64_t row)>;

// One feature column while it is read: each cell a number, or a NaN whose payload says "missing"
// (0) or which text (1 + its index in `texts`).
struct RawColumn {
  int64_t index = 0;  // position in the table
  std::string name;
  std::vector<double> cells;
  std::vector<std::string> texts;
  std::unordered_map<std::string, uint64_t> text_ids;
  int64_t first_text_row = -1, missing = 0;

  // Appends a cell given as text (missing marker, number or text).
  void add(std::string_view cell, int64_t row, char decimal, const std::vector<std::string>& na,
           const RowName& where);
  // Appends a cell given as a number; NaN is a missing cell, an infinity an error.
  void add_number(double v, int64_t row, const RowName& where);
  void add_missing();
};

// Fits the columns of `out` (kinds, categories, fill values, indicators) on n rows of `cols`,
// as opt's column options say; `source` names the table in messages.
void fit_columns(const std::vector<RawColumn>& cols, int64_t n, const LoadOptions& opt,
                 const std::string& source, const RowName& where, TableSchema& out);
// Training: leaves out the columns of `cols` that hold no value in any of their n rows (they
// carry nothing to learn from, and the column a trailing delimiter leaves is one), each named in
// a sentence added to `notes`. Fails when no column is left.
void leave_out_empty_columns(std::vector<RawColumn>& cols, int64_t n, const std::string& source,
                             std::vector<std::string>& notes);
// Encodes n rows of `cols` (the schema's columns, in its order) into ds's features, counting
// unseen categories; sets ds.d, the features and ds.schema, and frees the cells.
void encode_columns(std::vector<RawColumn>& cols, const TableSchema& schema, int64_t n,
                    const RowName& where, Dataset& ds);
// Fails naming the feature columns a table lacks.
[[noreturn]] void fail_missing_columns(const std::string& source,
                                       const std::vector<std::string>& missing);

}  // namespace fcnet::data_detail
