// The per-epoch training history as JSON: the "history" list of the model's training metadata, so
// a saved model can redraw its loss and accuracy curves (fcnet report).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fcnet/trainer.hpp"

namespace fcnet {

// One epoch's record as JSON: epoch, train_loss, train_accuracy, val_loss and val_accuracy (only
// when measured), lr, seconds, examples, steps, weight_norms and grad_norms; `compact` rounds the
// values to 7 significant digits. epochs_from_json reads it back.
nlohmann::json epoch_to_json(const EpochRecord& r, bool compact);

// One object per epoch (epoch_to_json, compact): epoch, train_loss, train_accuracy, val_loss and
// val_accuracy (only when measured), lr, seconds, examples, steps, weight_norms and grad_norms.
// Values are rounded to 7 significant digits, enough for charts and compact in the model file's
// header.
nlohmann::json epochs_to_json(const std::vector<EpochRecord>& epochs);

// The inverse of epochs_to_json (missing values come back as NaN). Throws fcnet::Error naming
// `where` when the list is malformed.
std::vector<EpochRecord> epochs_from_json(const nlohmann::json& history, const std::string& where);

// The training metadata a trained model carries (its "training" JSON): the configuration, the
// run's counts and final values, the history, and "ranks" for a data-parallel run (ranks > 0).
// The CUDA trainer adds its device and precision.
nlohmann::json training_metadata(const TrainConfig& cfg, const TrainResult& r, const Dataset& train,
                                 int ranks = 0);

}  // namespace fcnet
