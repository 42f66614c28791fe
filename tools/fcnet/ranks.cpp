#include "ranks.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <numeric>
#include <thread>

#if FCNET_HAVE_MPI
#include <mpi.h>
#endif

namespace fcnet::cli {

namespace {

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

// "a,b,c" as a list unless the whole text names an existing file (a path with a comma).
std::vector<std::string> split_list(const std::string& text, const std::string& option) {
  std::error_code ec;
  if (text.find(',') == std::string::npos || std::filesystem::exists(text, ec)) return {text};
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t comma = text.find(',', pos);
    out.push_back(text.substr(pos, comma - pos));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  for (const auto& s : out)
    if (s.empty())
      throw CLI::ValidationError(option, "'" + text + "' has an empty entry; expected a comma-" +
                                             "separated list of shard files");
  return out;
}

// Class names of the parts merged: unchanged when every part has the same list; else the sorted
// union (what the CSV loader gives one file holding every part). Sets `remap` to whether labels
// must be translated through the names.
std::vector<std::string> merge_names(const std::vector<std::vector<std::string>>& parts,
                                     const std::vector<std::string>& who, bool& remap) {
  remap = false;
  bool same = true;
  for (const auto& p : parts) same = same && p == parts.front();
  if (same) return parts.front();
  for (std::size_t i = 0; i < parts.size(); ++i)
    for (std::size_t j = 0; j < parts.size(); ++j)
      if (parts[i].empty() && !parts[j].empty())
        throw AgreedError(who[j] + " has labels given as class names but " + who[i] +
                          " has integer labels, expected the same kind of labels in every shard");
  std::map<std::string, int> all;
  for (const auto& p : parts)
    for (const auto& n : p) all.emplace(n, 0);
  std::vector<std::string> out;
  for (const auto& [name, unused] : all) out.push_back(name);
  remap = true;
  return out;
}

void remap_labels(Dataset& d, const std::vector<std::string>& merged) {
  std::vector<int32_t> to(d.class_names.size());
  for (std::size_t c = 0; c < to.size(); ++c)
    to[c] = static_cast<int32_t>(std::lower_bound(merged.begin(), merged.end(), d.class_names[c]) -
                                 merged.begin());
  for (auto& y : d.labels) y = to[static_cast<std::size_t>(y)];
  d.class_names = merged;
}

template <class S, class D>
void widen(const Dataset& from, std::vector<uint8_t>& out) {
  const S* s = reinterpret_cast<const S*>(from.bytes.data());
  const std::size_t count = static_cast<std::size_t>(from.n * from.d);
  out.resize(count * sizeof(D));
  D* d = reinterpret_cast<D*>(out.data());
  for (std::size_t i = 0; i < count; ++i) d[i] = static_cast<D>(s[i]);
}

}  // namespace

ShareSpec share_spec(const DataOptions& o, int rank, int size) {
  ShareSpec s;
  std::vector<std::string> data = split_list(o.data, "--data");
  std::vector<std::string> labels =
      o.labels.empty() ? std::vector<std::string>{} : split_list(o.labels, "--labels");
  if (data.size() > 1 || labels.size() > 1) {
    if (!labels.empty() && labels.size() != data.size())
      throw CLI::ValidationError("--labels", "lists " + std::to_string(labels.size()) +
                                                 " files for " + std::to_string(data.size()) +
                                                 " data files; expected one label file per shard");
    const auto m = static_cast<int64_t>(data.size());
    if (m < size)
      throw CLI::ValidationError("--data", "lists " + std::to_string(m) + " shard files for " +
                                               std::to_string(size) +
                                               " ranks; expected at least one file per rank");
    const int64_t lo = rank * m / size, hi = (rank + 1) * m / size;
    s.data.assign(data.begin() + lo, data.begin() + hi);
    if (!labels.empty()) s.labels.assign(labels.begin() + lo, labels.begin() + hi);
  } else {
    s.data = data;
    s.labels = labels;
    s.slice = size > 1 && o.data.find("{rank}") == std::string::npos;
  }
  for (auto* v : {&s.data, &s.labels})
    for (auto& name : *v)
      name = replace_all(replace_all(name, "{rank}", std::to_string(rank)), "{size}",
                         std::to_string(size));
  return s;
}

Dataset concat_datasets(std::vector<Dataset> parts, const std::string& source) {
  if (parts.empty()) fail(source, "names no data", "at least one data source");
  std::vector<std::vector<std::string>> names;
  std::vector<std::string> who;
  DType type = parts.front().dtype;
  for (const auto& p : parts) {
    if (p.d != parts.front().d)
      fail(p.source, "has " + std::to_string(p.d) + " features per example",
           std::to_string(parts.front().d) + " like " + parts.front().source);
    if ((p.dtype == DType::u8) != (type == DType::u8))
      fail(p.source, "holds " + std::string(dtype_name(p.dtype)) + " values",
           std::string(dtype_name(type)) + " values like " + parts.front().source);
    if (p.has_labels() != parts.front().has_labels())
      fail(p.source, p.has_labels() ? "has labels" : "has no labels",
           "labels in every shard or in none");
    if (p.dtype == DType::f64) type = DType::f64;
    names.push_back(p.class_names);
    who.push_back(p.source);
  }
  bool remap = false;
  const std::vector<std::string> merged = merge_names(names, who, remap);
  Dataset out;
  out.d = parts.front().d;
  out.dtype = type;
  out.image_shape = parts.front().image_shape;
  out.class_names = merged;
  out.source = source;
  out.schema = parts.front().schema;
  std::size_t rows = 0;
  for (const auto& p : parts) rows += static_cast<std::size_t>(p.n);
  out.bytes.reserve(rows * static_cast<std::size_t>(out.d) * dtype_size(type));
  out.labels.reserve(rows);
  std::vector<uint8_t> wide;
  for (auto& p : parts) {
    if (remap) remap_labels(p, merged);
    const std::vector<uint8_t>* bytes = &p.bytes;
    if (p.dtype != type) {  // f32 beside f64: widen, as one file holding both would be read
      widen<float, double>(p, wide);
      bytes = &wide;
    }
    out.bytes.insert(out.bytes.end(), bytes->begin(), bytes->end());
    out.labels.insert(out.labels.end(), p.labels.begin(), p.labels.end());
    out.ids.insert(out.ids.end(), p.ids.begin(), p.ids.end());
    if (p.weights.empty() != parts.front().weights.empty())
      fail(p.source, p.weights.empty() ? "has no example weights" : "has example weights",
           "a --weight-col in every file or in none");
    out.weights.insert(out.weights.end(), p.weights.begin(), p.weights.end());
    out.unseen.insert(out.unseen.end(), p.unseen.begin(), p.unseen.end());
    if (p.image_shape != out.image_shape) out.image_shape.clear();
    out.n += p.n;
    std::vector<uint8_t>().swap(p.bytes);
  }
  return out;
}

#if FCNET_HAVE_MPI

namespace {

std::string rank_name(int rank, int size) {
  return "rank " + std::to_string(rank) + " of " + std::to_string(size);
}

// An error raised by every rank alike (a diverged loss, computed from summed values) is best
// reported once: rank 0 reports at once and its MPI_Abort ends the others. Another rank waits a
// moment first, so that its message appears when the error is its own.
[[noreturn]] void abort_all(int rank, const std::string& what) {
  if (rank != 0) std::this_thread::sleep_for(std::chrono::seconds(1));
  mpi_abort_all(what);
}

// Every rank's list of names, in rank order, and the ranks' names.
std::vector<std::string> gather_names(const std::vector<std::string>& mine, int size,
                                      std::vector<std::vector<std::string>>& all) {
  std::string packed;
  for (const auto& s : mine) {
    const uint32_t len = static_cast<uint32_t>(s.size());
    packed.append(reinterpret_cast<const char*>(&len), 4);
    packed += s;
  }
  const std::vector<std::string> texts = mpi_all_gather(packed);
  all.assign(static_cast<std::size_t>(size), {});
  std::vector<std::string> who;
  for (int r = 0; r < size; ++r) {
    const std::string& t = texts[static_cast<std::size_t>(r)];
    for (std::size_t p = 0; p + 4 <= t.size();) {
      uint32_t l = 0;
      std::memcpy(&l, t.data() + p, 4);
      all[static_cast<std::size_t>(r)].push_back(t.substr(p + 4, l));
      p += 4 + l;
    }
    who.push_back(rank_name(r, size));
  }
  return who;
}

}  // namespace

#endif

Ranks::Ranks() {
  if (mpi_launcher_size() == 0) return;
  Collective* world = mpi_world();  // throws for several ranks of a build without MPI
  if (!world) return;
  mpi_ = true;
  rank_ = world->rank();
  size_ = world->size();
}

Ranks::~Ranks() {
  if (mpi_) mpi_finalize();
}

DataParallel Ranks::parallel() {
  if (!mpi_) return {};
  return {mpi_world(), total_, first_};
}

double Ranks::sum_seconds() const {
  return mpi_seconds();
}

Dataset Ranks::load_share(const DataOptions& o, const std::string& split) {
  const ShareSpec spec = share_spec(o, rank_, size_);
  auto load = [&] {
    std::vector<Dataset> parts;
    for (std::size_t i = 0; i < spec.data.size(); ++i) {
      DataOptions one = o;
      one.data = spec.data[i];
      one.labels = spec.labels.empty() ? o.labels : spec.labels[i];
      // Later shards are encoded as the first one's columns were, so every row means the same.
      if (!one.schema && !parts.empty() && !parts.front().schema.empty())
        one.schema = &parts.front().schema;
      parts.push_back(load_data(one, split, true));
    }
    Dataset d = parts.size() == 1 ? std::move(parts.front()) : concat_datasets(parts, o.data);
    if (spec.slice) {  // the one source: keep this rank's slice only
      const int64_t lo = d.n * rank_ / size_, hi = d.n * (rank_ + 1) / size_;
      std::vector<int64_t> idx(static_cast<std::size_t>(hi - lo));
      std::iota(idx.begin(), idx.end(), lo);
      d = d.subset(idx);
    } else if (spec.data.size() > 1 || o.data.find("{rank}") != std::string::npos) {
      d.source = o.data;
    }
    return d;
  };
  if (!mpi_) {
    Dataset d = load();
    total_ = d.n;
    return d;
  }
#if FCNET_HAVE_MPI
  Dataset d;
  int64_t ok = 1;
  try {
    d = load();
  } catch (const std::exception& e) {
    // Printed here, by the rank that saw it; the others learn of it from the exchange below.
    std::fprintf(stderr, "fcnet: error: %s: %s\n", rank_name(rank_, size_).c_str(), e.what());
    std::fflush(stderr);
    ok = 0;
  }
  const auto k = static_cast<std::size_t>(size_);
  int64_t mine[5] = {ok, d.n, d.d, d.dtype == DType::u8,
                     static_cast<int64_t>(d.schema.encoding_hash())};
  std::vector<int64_t> all(5 * k);
  MPI_Allgather(mine, 5, MPI_INT64_T, all.data(), 5, MPI_INT64_T, MPI_COMM_WORLD);
  auto at = [&](std::size_t r, int f) { return all[5 * r + static_cast<std::size_t>(f)]; };
  std::string failed;
  int nfailed = 0;
  for (std::size_t r = 0; r < k; ++r)
    if (!at(r, 0)) {
      failed += (failed.empty() ? "" : ", ") + std::to_string(r);
      ++nfailed;
    }
  if (nfailed > 0)
    throw AgreedError((nfailed == 1 ? "rank " : "ranks ") + failed + " of " +
                      std::to_string(size_) + " could not load " +
                      (nfailed == 1 ? "its" : "their") +
                      " share of the training data (see the error above); no rank trained");
  for (std::size_t r = 0; r < k; ++r) {
    const std::string who = rank_name(static_cast<int>(r), size_);
    if (at(r, 1) == 0)
      throw AgreedError(who + " holds no training examples of " + o.data +
                        ", expected at least one per rank (fewer ranks, or more data)");
    if (at(r, 2) != at(0, 2))
      throw AgreedError(who + " holds " + std::to_string(at(r, 2)) +
                        " features per example and rank 0 " + std::to_string(at(0, 2)) +
                        ", expected the same width in every shard");
    if (at(r, 4) != at(0, 4))
      throw AgreedError(who +
                        " encodes the columns of its shard differently from rank 0 (other "
                        "columns, categories or gaps), expected shards with the same columns and "
                        "categories (or one file, which every rank slices)");
    if (at(r, 3) != at(0, 3))
      throw AgreedError(who + (at(r, 3) ? " holds uint8" : " holds floating-point") +
                        " data and rank 0 does not, expected the same kind in every shard");
  }
  std::vector<std::vector<std::string>> names;
  const std::vector<std::string> who = gather_names(d.class_names, size_, names);
  bool remap = false;
  const std::vector<std::string> merged = merge_names(names, who, remap);
  if (remap) remap_labels(d, merged);
  total_ = 0;
  for (std::size_t r = 0; r < k; ++r) {
    if (static_cast<int>(r) == rank_) first_ = total_;
    total_ += at(r, 1);
  }
  return d;
#else
  return {};
#endif
}

namespace {

// An error every rank raised alike: rank 0 prints it, as main() would, while all ranks are still
// in MPI. Leaving MPI (MPI_Finalize, when `ranks` goes) waits for every rank, so the message is
// out before any rank exits with `code`: mpirun ends the job at the first non-zero exit, which
// would otherwise race rank 0's message when it is printed after MPI_Finalize.
int report_once(const Ranks& ranks, const char* what, int code) {
  if (ranks.leader()) {
    std::fprintf(stderr, "fcnet: error: %s\n", what);
    std::fflush(stderr);
  }
  return code;
}

}  // namespace

Runner with_ranks(std::function<int(Ranks&)> body) {
  return [body] {
    Ranks ranks;
    if (ranks.size() == 1) return body(ranks);
    try {
      return body(ranks);
    } catch (const CLI::ValidationError& e) {
      return report_once(ranks, e.what(), 2);
    } catch (const AgreedError& e) {
      return report_once(ranks, e.what(), 1);
    } catch (const std::exception& e) {
#if FCNET_HAVE_MPI
      abort_all(ranks.rank(), e.what());
#else
      throw;
#endif
    }
  };
}

}  // namespace fcnet::cli
