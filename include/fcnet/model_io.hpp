// Files: atomic writes, generic safetensors reading/writing, and the model file of DESIGN.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fcnet/data.hpp"
#include "fcnet/model.hpp"
#include "fcnet/network.hpp"

namespace fcnet {

// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed and fsynced,
// then renamed over `path`. On any failure the temporary is removed and `path` is untouched.
// A symbolic link is followed: its target is replaced and the link stays. The temporary file is
// "<path>.tmp-<pid>-XXXXXX"; ones left by a writer that is gone are removed first. The new file
// keeps the old one's permissions (a new path gets 0666 less the umask). A path that exists and
// is neither a plain file nor a folder (a device, a FIFO, /dev/stdout) is written in place.
void write_file_atomic(const std::string& path, const std::string& bytes);
// Throws fcnet::Error when a file could not be created in path's folder (checked before long work).
void check_writable(const std::string& path);
// Whole file into memory; throws naming the path.
std::string read_file(const std::string& path);

// One tensor of a safetensors file: dtype "F32", "F64", "I64", "I32", "U8", shape, raw LE bytes.
struct StTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::string data;

  int64_t numel() const;
  // Values converted to double (F32/F64/I32/I64/U8); throws on other dtypes.
  std::vector<double> to_double(const std::string& where) const;
};

struct SafeTensors {
  std::map<std::string, StTensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Metadata key of the per-tensor checksums: a JSON object {"<tensor>": "<CRC-32C, 8 hex digits>"}.
inline constexpr const char* kChecksumsKey = "checksums";

// Parses a safetensors file, validating header length vs file size, JSON, dtypes, shapes vs byte
// ranges, offsets in range, not overlapping and nothing after the last tensor, and, when the
// metadata holds checksums, every tensor against its own (the message names a damaged tensor).
// `where` names the file in messages.
SafeTensors parse_safetensors(const std::string& bytes, const std::string& where);
SafeTensors read_safetensors(const std::string& path);
// Whether the file carried checksums (files written before fcnet stored them do not).
bool has_checksums(const SafeTensors& st);
// The file bytes of `st`, with metadata "checksums" (re)computed for every tensor.
std::string serialize_safetensors(const SafeTensors& st);

template <class T>
StTensor make_tensor(ConstView<T> m, bool as_vector = false);

// Name of class k, as predict writes labels: the model's class name, else the index ("0", "1", …).
std::string class_name(const std::vector<std::string>& names, int64_t k);

// The metadata "columns" JSON of a table schema (docs/format.md), both ways; the reader throws
// fcnet::Error naming `where`.
std::string schema_to_json(const TableSchema& t);
TableSchema schema_from_json(const std::string& text, const std::string& where);

// Reads a model file: W1…WL, b1…bL (all F32 or all F64, shapes that chain), optional
// input_mean/input_std, metadata. A file with only W/b tensors is a relu model with no transform.
Model load_model(const std::string& path);
Model model_from_safetensors(const SafeTensors& st, const std::string& where);
// Writes the model atomically.
void save_model(const std::string& path, const Model& m);
SafeTensors model_to_safetensors(const Model& m);

// Gradients of a network under the parameters' own names (W1…WL, b1…bL).
template <class T>
SafeTensors gradients_to_safetensors(const Network<T>& net);

}  // namespace fcnet
