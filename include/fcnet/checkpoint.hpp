// Checkpoint files: the full state of a training run (TrainState) as one safetensors file, so an
// interrupted run continues bit-identically.
//
// Layout: the model's tensors exactly as in a model file (W1…WL, b1…bL, input_mean, input_std,
// with the model metadata), plus
//   state.opt_m, state.opt_v        optimizer moments over the parameter buffer (when kept)
//   state.best, state.epoch_start   saved weight copies over the parameter buffer (when kept)
// all 1-D in the model's dtype; state.input_mean, state.input_std: an f32 model's input
// transform in F64 (the model tensors hold it rounded to f32, training uses it in double); and
// the metadata entry "checkpoint": a JSON object with the config, the position (epoch, step),
// the generators' states, the partial epoch's sums, early stopping state, the epoch history, the
// data's shape and the caller's own JSON ("app").
// A checkpoint also loads as a model (load_model ignores the state.* tensors).
#pragma once

#include <functional>
#include <string>

#include "fcnet/model_io.hpp"
#include "fcnet/trainer.hpp"

namespace fcnet {

// The state as a safetensors structure, and back (validating everything with messages naming
// `where`: missing or mistyped fields, tensor shapes and dtypes, positions out of range).
// `app_json`, when not empty, is stored in place of st.app_json.
SafeTensors checkpoint_to_safetensors(const TrainState& st, const std::string& app_json = "");
TrainState checkpoint_from_safetensors(const SafeTensors& st, const std::string& where);

// Writes the state atomically (temporary file in the same folder, flushed, renamed).
void save_checkpoint(const std::string& path, const TrainState& st,
                     const std::string& app_json = "");
// Reads and validates a checkpoint; the state's `origin` is set to `path`.
TrainState load_checkpoint(const std::string& path);

// TrainConfig as JSON and back (names for the enumerations); from_json fails naming `where`.
std::string train_config_to_json(const TrainConfig& cfg);
TrainConfig train_config_from_json(const std::string& json, const std::string& where);

}  // namespace fcnet
