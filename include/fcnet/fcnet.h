/* fcnet's C API: open a trained model file and predict with it, from C, C++ or anything that
 * calls C (libfcnet.so, `pkg-config fcnet`, CMake's `find_package(fcnet)` → fcnet::fcnet).
 *
 * Plain C (C99 and later, and C++). Every function is safe to call from any thread: a model
 * handle is read-only after fcnet_model_open, and each prediction allocates its own working
 * memory, so several threads may predict with one handle at the same time. No function aborts,
 * exits or prints; none lets a C++ exception out. A function that can fail returns an
 * fcnet_status and, when it is not FCNET_OK, leaves a message in fcnet_last_error().
 *
 * Shapes: N examples (rows), D input features (the model's input width), C classes. Arrays are
 * row-major: x is N×D, probs N×C.
 *
 *   fcnet_model* m;
 *   if (fcnet_model_open("model.safetensors", &m) != FCNET_OK) {
 *     fprintf(stderr, "%s\n", fcnet_last_error());
 *     return 1;
 *   }
 *   float probs[2 * 3];  // N = 2 rows, C = 3 classes
 *   int32_t labels[2];
 *   if (fcnet_predict(m, x, 2, fcnet_model_input_width(m), probs, labels) != FCNET_OK) ...
 *   printf("%s\n", fcnet_model_class_name(m, labels[0]));
 *   fcnet_model_close(m);
 *
 * docs/c-api.md describes the calls, the inputs a model expects and the versioning.
 */
#ifndef FCNET_FCNET_H
#define FCNET_FCNET_H

#include <stdint.h>

#include "fcnet/fcnet_version.h" /* FCNET_VERSION_MAJOR, _MINOR, _PATCH, FCNET_VERSION_STRING */

/* The functions libfcnet.so exports (its version script exports fcnet_* and nothing else). */
#if defined(__GNUC__)
#define FCNET_API __attribute__((visibility("default")))
#else
#define FCNET_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* What a call returned. From 1.0 on the values are kept within a major version. */
typedef enum fcnet_status {
  FCNET_OK = 0,
  FCNET_ERROR_INVALID_ARGUMENT = 1, /* a null pointer, a negative count, a width that does not
                                       match the model, a non-finite input value */
  FCNET_ERROR_IO = 2,               /* the file could not be opened or read */
  FCNET_ERROR_FORMAT = 3,           /* the file is not an fcnet model (docs/format.md) */
  FCNET_ERROR_OUT_OF_MEMORY = 4,    /* an allocation failed */
  FCNET_ERROR_INTERNAL = 5          /* anything else (a bug: please report the message) */
} fcnet_status;

/* An open model. Opaque; made by fcnet_model_open, released by fcnet_model_close. */
typedef struct fcnet_model fcnet_model;

/* The library's version, "MAJOR.MINOR.PATCH", at run time (FCNET_VERSION_STRING is the one the
 * caller was compiled against). The string is static. */
FCNET_API const char* fcnet_version(void);

/* The message of the most recent failed call on the calling thread ("" before any failure), in
 * the form "<where>: <what was wrong>, expected <what>". Calls that succeed leave it as it was.
 * The string stays valid until the next failing call on this thread. */
FCNET_API const char* fcnet_last_error(void);

/* A short name of a status ("ok", "invalid argument", "i/o error", ...); static. */
FCNET_API const char* fcnet_status_name(fcnet_status status);

/* Reads the model file at `path` (a model or a checkpoint that `fcnet train` wrote) and sets
 * *model to a new handle. On failure *model is set to NULL (when `model` is not NULL) and the
 * status says why: FCNET_ERROR_IO for a file that cannot be read, FCNET_ERROR_FORMAT for one that
 * is not a valid model. */
FCNET_API fcnet_status fcnet_model_open(const char* path, fcnet_model** model);

/* Releases the handle; NULL is ignored. No prediction on it may be running. */
FCNET_API void fcnet_model_close(fcnet_model* model);

/* D, the number of values per example that fcnet_predict takes; -1 for a NULL model. */
FCNET_API int64_t fcnet_model_input_width(const fcnet_model* model);

/* C, the number of classes (the columns of probs); -1 for a NULL model. */
FCNET_API int64_t fcnet_model_num_classes(const fcnet_model* model);

/* 1 when the model computes in double precision (its file stores F64), 0 for float, -1 for a NULL
 * model. Both predict functions work with either; this says which loses nothing. */
FCNET_API int fcnet_model_is_double(const fcnet_model* model);

/* The name of class k in 0…C−1: the label `fcnet predict` writes for it (the training labels'
 * names, or "0", "1", … when the labels were indices). NULL for a NULL model or a k out of range
 * (with a message in fcnet_last_error()). Valid until the model is closed. */
FCNET_API const char* fcnet_model_class_name(const fcnet_model* model, int64_t k);

/* 1 when the model names its D input features (models trained on a CSV file), else 0; -1 for a
 * NULL model. */
FCNET_API int fcnet_model_has_feature_names(const fcnet_model* model);

/* The name of input feature j in 0…D−1 of a model trained on a CSV file: the encoded feature's
 * name, one per column of x — a numeric column's name ("bill"), its missing-value indicator
 * ("bill=missing"), or one category of a categorical column ("island=Dream"); see docs/c-api.md.
 * NULL for a model without names (IDX or NPY data), a NULL model or a j out of range. Valid until
 * the model is closed. */
FCNET_API const char* fcnet_model_feature_name(const fcnet_model* model, int64_t j);

/* Class probabilities and/or predicted labels for n examples.
 *   x:      n×d floats, row-major: the raw features, the values `fcnet predict` reads from a
 *           numeric file (for a CSV model: the encoded features, named by
 *           fcnet_model_feature_name). The model's input transform (scaling, standardization) is
 *           applied inside. Every value must be finite.
 *   d:      must equal fcnet_model_input_width(model).
 *   probs:  n×C floats to receive the probabilities (rows sum to 1), or NULL.
 *   labels: n class indices (the most probable class, the first one on a tie), or NULL.
 * At least one of probs and labels must be given. n = 0 writes nothing and succeeds (x may then
 * be NULL). A double-precision model computes in double and rounds the probabilities to float.
 * On failure nothing is written. Several threads may call this on one model at once. */
FCNET_API fcnet_status fcnet_predict(const fcnet_model* model, const float* x, int64_t n, int64_t d,
                                     float* probs, int32_t* labels);

/* As fcnet_predict, with double input and output: a float model converts x to float after
 * the input transform (which is computed in double), a double model computes in double
 * throughout, and the probabilities are the model's own values, not rounded. */
FCNET_API fcnet_status fcnet_predict_double(const fcnet_model* model, const double* x, int64_t n,
                                            int64_t d, double* probs, int32_t* labels);

/* The arithmetic of the model's later predictions: "f32" (the default), or "bf16": the inputs of
 * its products rounded to bfloat16 with float accumulation, faster on CPUs with AVX512_BF16
 * (docs/PERFORMANCE.md). FCNET_ERROR_INVALID_ARGUMENT for another name, for "bf16" on a double
 * model or on a CPU without AVX512_BF16 (the message says which); the setting is then unchanged.
 * No prediction on the model may be running. */
FCNET_API fcnet_status fcnet_model_set_precision(fcnet_model* model, const char* precision);

/* Threads that later predictions made from the calling thread use: 1…256, or 0 for one per core
 * (the default). Other threads keep their own setting. FCNET_ERROR_INVALID_ARGUMENT otherwise. */
FCNET_API fcnet_status fcnet_set_num_threads(int n);

#ifdef __cplusplus
}
#endif

#endif /* FCNET_FCNET_H */
