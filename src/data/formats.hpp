// Loaders of the individual file formats, shared by load_dataset and the tests' expectations.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/input_file.hpp"
#include "fcnet/data.hpp"

namespace fcnet::data_detail {

enum class Format { idx, npy, csv, unknown };

// Guesses the format from the first bytes of content; `path`'s extension only breaks ties for
// content that matches nothing (so the matching parser reports what is wrong with it).
Format sniff_format(InputFile& in, const std::string& path);

// Features (and, for CSV, labels) of one file. Labels of IDX/NPY come from a separate file.
Dataset load_idx(InputFile& in);
Dataset load_npy(InputFile& in);
Dataset load_csv(InputFile& in, const LoadOptions& opt);

// Labels only, from a 1-D IDX, a 1-D (or N×1) NPY, or a one-column CSV.
struct LabelFile {
  std::vector<int32_t> labels;
  std::vector<std::string> class_names;  // when the CSV held names
};
LabelFile load_label_file(const std::string& path, const LoadOptions& opt);
LabelFile load_idx_labels(InputFile& in);
LabelFile load_npy_labels(InputFile& in);
LabelFile load_csv_labels(InputFile& in, const LoadOptions& opt);

// Shortest text that reads back as v ("3", "0.1", "-1e+300"), for messages.
std::string number_text(double v);

// "a, b, c" for messages, at most `limit` items then "...".
std::string join_list(const std::vector<std::string>& items, std::size_t limit = 12);

}  // namespace fcnet::data_detail
