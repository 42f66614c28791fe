// Data sets: loaders for Fashion-MNIST, IDX (raw or gzip), CSV and NPY, format detected from the
// content; the per-column input transform; and the fused batch gather that converts the stored type
// to the compute type. Data stays in its stored type (uint8 stays uint8) until a batch is gathered.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fcnet/tensor.hpp"

namespace fcnet {

class Collective;

// Element type of stored features.
enum class DType { u8, f32, f64 };
const char* dtype_name(DType t);
std::size_t dtype_size(DType t);

// How the columns of a table (a CSV file) become the D features, fitted on the training file and
// stored in the model, so that every later file is encoded the same way, its columns matched by
// name (or by position when the training file had no header).
struct ColumnSpec {
  enum class Kind { numeric, categorical };
  std::string name;  // the header's, or the 0-based position as text without a header
  Kind kind = Kind::numeric;
  // numeric: the value of a missing cell (the training mean or median) and whether a 0/1 feature
  // "<name>=missing" follows (when training had gaps).
  double fill = 0.0;
  bool indicator = false;
  // categorical: one 0/1 feature per category, in this order; a missing cell is its own category
  // "<name>=missing" when training had gaps (else all zeros). A category unseen in training
  // encodes as all zeros and is counted.
  std::vector<std::string> categories;
  bool missing_category = false;

  int64_t width() const;  // features this column becomes
  // For people (fcnet info, the HTML report): "numeric, missing -> 42.5 (+ indicator)" or
  // "categorical, 3 categories: a, b, c (+ missing)", at most 12 categories named.
  std::string describe() const;
};

struct TableSchema {
  std::vector<ColumnSpec> columns;     // the feature columns, in the training file's order
  std::string label;                   // the label column's name ("" when there was none)
  std::string id;                      // the id column's name ("" when none)
  bool header = true;                  // false: columns are matched by position
  int64_t file_columns = 0;            // columns of the training file (for headerless matching)
  std::vector<std::string> na_values;  // cells that mean "missing"
  char decimal = '.';

  bool empty() const { return columns.empty(); }
  int64_t width() const;                           // D, the encoded features
  std::vector<std::string> feature_names() const;  // D names: "x", "x=missing", "color=red", …
  // A hash of the columns' names, kinds, categories and indicators (not their fill values): two
  // schemas with the same hash encode a row alike. Ranks compare it across their shards.
  uint64_t encoding_hash() const;
};

// The default missing-value markers: NA, empty, NaN, nan, null, NULL, ?.
const std::vector<std::string>& default_na_values();

// N examples of D features each, row-major in their stored type, with optional labels.
struct Dataset {
  int64_t n = 0;                         // examples
  int64_t d = 0;                         // features per example
  DType dtype = DType::f32;              // stored element type of `bytes`
  std::vector<uint8_t> bytes;            // n*d elements of dtype, row-major
  std::vector<int32_t> labels;           // n class indices in 0..C-1, or empty when unlabelled
  std::vector<std::string> class_names;  // names of classes 0..C-1 when labels were names
  std::vector<int64_t> image_shape;      // {H, W} for image data (IDX), else empty
  std::string source;  // what was loaded, for messages ("train.csv", "fashion-mnist:test")
  TableSchema schema;  // for tables (CSV): how the columns became the features
  std::vector<std::string> ids;  // the id column's values, one per example, when there is one
  // Per-example weights of the training loss (--weight-col, fit's sample_weight), or empty (1).
  std::vector<double> weights;
  // Cells whose category was not seen in training, per column name (encoded as all zeros).
  std::vector<std::pair<std::string, int64_t>> unseen;
  // What the loader decided that its user should hear of, one sentence each: a first line read
  // as data because no header was detected, a column left out because it holds no value.
  std::vector<std::string> notes;

  bool has_labels() const { return !labels.empty(); }
  // Number of classes: max label + 1, or class_names.size() when names are known.
  int64_t num_classes() const;
  // Raw pointer to the first element of example i.
  const uint8_t* row_bytes(int64_t i) const {
    return bytes.data() + static_cast<std::size_t>(i * d) * dtype_size(dtype);
  }
  // Copy of the examples listed in idx (labels and ids too, and the schema), in that order.
  Dataset subset(const std::vector<int64_t>& idx) const;
};

// Sorts `idx`, indices of rows of a table (row i: d values of type dtype at rows + i·d·size,
// label labels[i], weight weights[i]; labels and weights may be null), into an order that depends
// only on the multiset of the rows it lists: by a 64-bit hash of each row's values, then by label,
// weight and the values themselves, each value taken as a double (so that the same numbers stored
// as uint8, float32 or float64 sort alike). Rows that compare equal are identical, so which of them
// comes first does not matter: any permutation of the same rows sorts to the same sequence of
// rows. Training on rows in this order makes a fit independent of the order they were given in
// (the shuffle, batches, validation split and input transform see the same sequence), as
// fcnet.MLPClassifier's is.
void sort_rows_canonically(std::vector<int64_t>& idx, const uint8_t* rows, DType dtype, int64_t d,
                           const int32_t* labels, const double* weights);

struct LoadOptions {
  std::string labels_path;  // --labels: separate label file (IDX, NPY or one-column CSV)
  std::string label_col;  // --label-col NAME|INDEX for CSV; empty = column "label", else the first
  bool require_labels = true;  // false for predict: CSV then may have no label column
  bool read_labels = true;     // false: a CSV's label column is skipped, whatever it holds
  // Which split the bare name "fashion-mnist" means: "train" or "test". "fashion-mnist:train" and
  // "fashion-mnist:test" name one explicitly.
  std::string default_split = "train";
  // Class names already known (from a model): CSV names map to these indices, unknown names fail.
  std::vector<std::string> known_classes;
  // The labels are a model's class indices (a model trained on labels 0…C−1): CSV labels must be
  // whole numbers, read as indices, whichever of the classes the file holds.
  bool index_labels = false;
  // Tables (CSV). With `schema` (a model's), its columns are found by name and encoded as it says;
  // without, the schema is fitted on this file with the options below.
  const TableSchema* schema = nullptr;
  // --header: whether a CSV's first line names the columns. `detect` decides from the content
  // (README, Formats), or, with a schema, as the model's training file had it.
  enum class Header { detect, present, absent };
  Header header = Header::detect;
  char delimiter = 0;  // --delimiter: 0 detects one of , ; tab | from the first lines
  char decimal = '.';  // --decimal: ',' for decimal commas
  std::vector<std::string> na_values = default_na_values();  // --na-values
  std::vector<std::string> ignore_cols;                      // --ignore-cols: never features
  std::string id_col;      // --id-col: never a feature; kept in Dataset::ids
  std::string weight_col;  // --weight-col: never a feature; example weights in Dataset::weights
  std::vector<std::string> categorical;  // --categorical: treated as categories
  std::vector<std::string> numeric;      // --numeric: treated as numbers
  bool impute_median = false;            // --impute median (else the mean)
  bool missing_indicator = true;         // --missing-indicator auto|off
};

// Directory of Debian's dataset-fashion-mnist (FCNET_FASHION_MNIST_DIR overrides it).
std::string fashion_mnist_dir();
// Fashion-MNIST's ten class names, in label order.
const std::vector<std::string>& fashion_mnist_classes();

// Loads `src`: "fashion-mnist[:train|:test]", or a path whose format (IDX raw/gzip, CSV, NPY) is
// detected from its content (any of them may also be gzip-compressed). Throws fcnet::Error naming
// the file (and line) on malformed input.
//  - IDX: N×rows×cols (image_shape {rows, cols}) or N×D, elements u8, f32 or f64; labels from
//    opt.labels_path (1-D IDX or NPY, or a one-column CSV).
//  - NPY: X 2-D float32/float64/uint8, little-endian, C order; labels from opt.labels_path, 1-D
//    (or N×1) of any integer type, or floats holding whole numbers.
//  - CSV: features stored as f32 when every value is exactly a float (integers up to 2^24, pixel
//    values), else as f64, so no precision of the text is lost.
Dataset load_dataset(const std::string& src, const LoadOptions& opt = {});

// One column of a table held in memory (a data frame's), for encode_table: numbers, or text cells
// read as a CSV's cells are (a missing-value marker, a number, or a category).
struct TableColumn {
  std::string name;
  bool text = false;
  std::vector<double> numbers;     // !text: NaN is a missing cell
  std::vector<std::string> texts;  // text: one cell each
  std::vector<uint8_t> missing;    // text: 1 marks a missing cell (empty: none beyond the markers)
};

// A table given column by column, encoded exactly as load_dataset encodes a CSV with the same
// cells: with opt.schema, by that schema (its columns found by name, in any order; others
// ignored; a missing one is an error); else a schema fitted with opt's column options
// (categorical, numeric, ignore_cols, id_col, na_values, decimal, impute_median,
// missing_indicator). No labels are read. `source` names the table in messages.
Dataset encode_table(const std::vector<TableColumn>& columns, const LoadOptions& opt,
                     const std::string& source);

// Input transform x' = (x * scale - mean) / std applied per column, as stored in the model file.
// Kept as a per-column affine map x' = x * mul + add, computed once.
struct InputTransform {
  double scale = 1.0;
  std::vector<double> mean;  // D values, or empty (no centering)
  std::vector<double> std;   // D values, or empty (no scaling)

  bool identity() const { return scale == 1.0 && mean.empty() && std.empty(); }
};

// An InputTransform for D columns folded into x' = x * mul[j] + add[j], in both precisions, so the
// batch gather does one multiply-add per element. Prepare once per data set, not per batch.
// The gather computes in double, rounding only the result to the compute type, for every stored
// type but uint8: float and double data give the same x' for the same values (a float column of
// epoch seconds, ~1.7e9 with a spread of ~1000, would lose everything to cancellation in float).
// uint8 data into a float network takes the float factors when u8_float says they are exact
// enough.
struct PreparedTransform {
  enum class Kind { identity, scale, affine };
  int64_t d = 0;
  Kind kind = Kind::identity;        // identity: x' = x; scale: x' = x * scale; affine: per column
  double scale = 1.0;                // for Kind::scale
  std::vector<float> mul_f, add_f;   // D values each for Kind::affine
  std::vector<double> mul_d, add_d;  // the same in double
  // Measured for Kind::affine over every uint8 value of every column: x * mul_f + add_f in float
  // (fused or not) is within 4·FLT_EPSILON·max(1, |x'|) of the double form rounded to float.
  // Always true for the other kinds.
  bool u8_float = true;
};
// Checks that mean/std have 0 or D values and every std is finite and positive (throws
// fcnet::Error naming "input transform" otherwise).
PreparedTransform prepare_transform(const InputTransform& tf, int64_t d);

// How the training data's transform is chosen (--normalize).
enum class Normalize { automatic, none, scale, standardize };
Normalize parse_normalize(const std::string& s);  // "auto" | "none" | "scale" | "standardize"
const char* normalize_name(Normalize n);          // the name parse_normalize reads

// Fits the transform on `train`: auto → uint8 scaled by 1/255, other types standardized; scale →
// 1/255 for uint8 and 1 otherwise; standardize → column mean/std of x*scale with scale as in
// `scale` mode (population std, accumulated in double; the std of a constant column is taken as 1,
// so it maps to 0 rather than dividing by zero). With `ranks`, `train` is this rank's share of a
// data set of `total` examples and the statistics are combined over the ranks (every rank calls
// it).
InputTransform fit_transform(const Dataset& train, Normalize mode, Collective* ranks = nullptr,
                             int64_t total = -1);

// Gathers examples idx[0..count) of `data` into rows of `out` (count×D, any ld ≥ D), converting
// the stored type to T and applying the transform in the same pass. Throws fcnet::Error on a
// shape mismatch or an index outside 0..N-1. Rows are split over OpenMP threads when the batch is
// large enough to pay for it. The PreparedTransform form is the one for the training loop.
template <class T>
void gather_batch(MatrixView<T> out, const Dataset& data, const int64_t* idx, int64_t count,
                  const PreparedTransform& tf);
template <class T>
void gather_batch(MatrixView<T> out, const Dataset& data, const int64_t* idx, int64_t count,
                  const InputTransform& tf);

// Whole data set converted and transformed, N×D (for evaluation and prediction).
template <class T>
Matrix<T> to_matrix(const Dataset& data, const InputTransform& tf);

}  // namespace fcnet
