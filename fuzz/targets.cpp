#include "targets.hpp"

#include <functional>

#include "data/formats.hpp"
#include "fcnet/checkpoint.hpp"
#include "fcnet/data.hpp"
#include "fcnet/error.hpp"
#include "fcnet/model_io.hpp"

namespace fcnet::fuzz {

namespace {

using data_detail::InputFile;

// Runs fn; a fcnet::Error is a rejection (message into *error), anything else propagates.
bool accepts(const std::function<void()>& fn, std::string* error) {
  try {
    fn();
    return true;
  } catch (const Error& e) {
    if (error) *error = e.what();
    return false;
  }
}

void also(const std::function<void()>& fn) {
  accepts(fn, nullptr);
}

LoadOptions unlabeled() {
  LoadOptions o;
  o.require_labels = false;
  return o;
}

// Reads every value of a loaded data set, so a size that disagrees with its buffer shows up
// under the sanitizers.
void touch(const Dataset& ds) {
  volatile uint8_t sink = 0;
  for (uint8_t b : ds.bytes) sink = sink ^ b;
  const std::size_t want = static_cast<std::size_t>(ds.n * ds.d) * dtype_size(ds.dtype);
  if (ds.bytes.size() != want) throw std::logic_error("data set size disagrees with its shape");
  if (ds.has_labels() && static_cast<int64_t>(ds.labels.size()) != ds.n)
    throw std::logic_error("label count disagrees with the examples");
  for (int32_t y : ds.labels)
    if (y < 0) throw std::logic_error("negative label accepted");
}

bool run_safetensors(const std::string& path, std::string* error) {
  std::string bytes;
  if (!accepts([&] { bytes = read_file(path); }, error)) return false;
  SafeTensors st;
  if (!accepts([&] { st = parse_safetensors(bytes, path); }, error)) return false;
  for (const auto& kv : st.tensors)
    also([&] {
      const auto v = kv.second.to_double(kv.first);
      if (static_cast<int64_t>(v.size()) != kv.second.numel())
        throw std::logic_error("tensor size disagrees with its shape");
    });
  if (st.metadata.count("checkpoint"))
    return accepts([&] { checkpoint_from_safetensors(st, path); }, error);
  return accepts(
      [&] {
        const Model m = model_from_safetensors(st, path);
        also([&] { serialize_safetensors(model_to_safetensors(m)); });
      },
      error);
}

}  // namespace

bool parse_target(const std::string& name, Target& t) {
  for (Target c : {Target::idx, Target::gzip, Target::csv, Target::npy, Target::safetensors})
    if (name == target_name(c)) {
      t = c;
      return true;
    }
  return false;
}

const char* target_name(Target t) {
  switch (t) {
    case Target::idx:
      return "idx";
    case Target::gzip:
      return "gzip";
    case Target::csv:
      return "csv";
    case Target::npy:
      return "npy";
    case Target::safetensors:
      return "safetensors";
  }
  return "?";
}

const char* target_extension(Target t) {
  switch (t) {
    case Target::idx:
      return ".idx";
    case Target::gzip:
      return ".gz";
    case Target::csv:
      return ".csv";
    case Target::npy:
      return ".npy";
    case Target::safetensors:
      return ".safetensors";
  }
  return "";
}

bool run_file(Target t, const std::string& path, std::string* error) {
  switch (t) {
    case Target::idx:
      also([&] {
        InputFile in(path);
        data_detail::load_idx_labels(in);
      });
      return accepts([&] { touch(load_dataset(path, unlabeled())); }, error);
    case Target::npy:
      also([&] {
        InputFile in(path);
        data_detail::load_npy_labels(in);
      });
      return accepts([&] { touch(load_dataset(path, unlabeled())); }, error);
    case Target::csv: {
      also([&] { touch(load_dataset(path, unlabeled())); });
      also([&] {
        LoadOptions o;
        o.label_col = "1";
        touch(load_dataset(path, o));
      });
      also([&] {
        LoadOptions o;
        o.known_classes = {"a", "b", "c"};
        touch(load_dataset(path, o));
      });
      also([&] {
        InputFile in(path);
        data_detail::load_csv_labels(in, LoadOptions{});
      });
      return accepts([&] { touch(load_dataset(path)); }, error);
    }
    case Target::gzip: {
      // Whatever the stream holds, through the sniffer, as data and as labels.
      also([&] { data_detail::load_label_file(path, LoadOptions{}); });
      return accepts([&] { touch(load_dataset(path, unlabeled())); }, error);
    }
    case Target::safetensors:
      return run_safetensors(path, error);
  }
  return false;
}

}  // namespace fcnet::fuzz
