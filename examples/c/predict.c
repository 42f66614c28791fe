/* Predicts with a trained fcnet model through the C API: reads rows of numbers (comma-, semicolon-
 * or whitespace-separated; a first line that is not numbers is taken as a header and skipped) from
 * a file or standard input and prints, per row, the predicted label and the class probabilities as
 * CSV, in the columns `fcnet predict --output labels,probs` writes.
 *
 *   cc -std=c99 predict.c $(pkg-config --cflags --libs fcnet) -o predict
 *   ./predict model.safetensors rows.csv
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcnet/fcnet.h>

/* The whole stream in a NUL-terminated buffer (NULL when out of memory). */
static char* read_all(FILE* f) {
  size_t size = 0, cap = 1 << 16;
  char* buf = malloc(cap);
  size_t got;
  if (buf == NULL) return NULL;
  while ((got = fread(buf + size, 1, cap - size - 1, f)) > 0) {
    size += got;
    if (cap - size - 1 == 0) {
      char* bigger = realloc(buf, cap * 2);
      if (bigger == NULL) {
        free(buf);
        return NULL;
      }
      buf = bigger;
      cap *= 2;
    }
  }
  buf[size] = '\0';
  return buf;
}

static int is_separator(char c) {
  return c == ',' || c == ';' || c == ' ' || c == '\t' || c == '\r';
}

/* Parses the numbers of one line into out (room for `width`); returns how many there were, or -1
 * when a field is not a number. */
static long parse_line(const char* line, double* out, long width) {
  long count = 0;
  const char* p = line;
  for (;;) {
    char* end;
    double v;
    while (is_separator(*p)) ++p;
    if (*p == '\0') return count;
    errno = 0;
    v = strtod(p, &end);
    if (end == p || errno == ERANGE || !(*end == '\0' || is_separator(*end))) return -1;
    if (count < width) out[count] = v;
    ++count;
    p = end;
  }
}

int main(int argc, char** argv) {
  fcnet_model* model = NULL;
  FILE* in = stdin;
  char* text;
  char* line;
  char* next;
  double* x = NULL;
  double* probs = NULL;
  int32_t* labels = NULL;
  long width, classes, rows = 0, cap = 0, line_no = 0, i, j;
  int status = 1, seen_header = 0;

  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s MODEL [ROWS]  (fcnet %s)\n", argv[0], fcnet_version());
    return 2;
  }
  if (fcnet_model_open(argv[1], &model) != FCNET_OK) {
    fprintf(stderr, "predict: %s\n", fcnet_last_error());
    return 1;
  }
  width = (long)fcnet_model_input_width(model);
  classes = (long)fcnet_model_num_classes(model);
  if (argc == 3 && (in = fopen(argv[2], "rb")) == NULL) {
    fprintf(stderr, "predict: %s: %s\n", argv[2], strerror(errno));
    goto done;
  }
  text = read_all(in);
  if (in != stdin) fclose(in);
  if (text == NULL) {
    fprintf(stderr, "predict: out of memory\n");
    goto done;
  }
  for (line = text; line != NULL; line = next) {
    long got;
    next = strchr(line, '\n');
    if (next != NULL) *next++ = '\0';
    ++line_no;
    if (rows == cap) {
      double* bigger;
      cap = cap ? 2 * cap : 64;
      bigger = realloc(x, (size_t)(cap * width) * sizeof *x);
      if (bigger == NULL) {
        fprintf(stderr, "predict: out of memory\n");
        free(text);
        goto done;
      }
      x = bigger;
    }
    got = parse_line(line, x + rows * width, width);
    if (got == 0 || (got < 0 && rows == 0 && !seen_header)) { /* a blank line or the header */
      seen_header = seen_header || got < 0;
      continue;
    }
    if (got != width) {
      fprintf(stderr, "predict: line %ld has %s%ld values, expected %ld\n", line_no,
              got < 0 ? "non-numeric " : "", got < 0 ? 0 : got, width);
      free(text);
      goto done;
    }
    ++rows;
  }
  free(text);

  probs = malloc((size_t)(rows * classes + 1) * sizeof *probs);
  labels = malloc((size_t)(rows + 1) * sizeof *labels);
  if (probs == NULL || labels == NULL) {
    fprintf(stderr, "predict: out of memory\n");
    goto done;
  }
  if (fcnet_predict_double(model, x, rows, width, probs, labels) != FCNET_OK) {
    fprintf(stderr, "predict: %s\n", fcnet_last_error());
    goto done;
  }
  printf("label");
  for (j = 0; j < classes; ++j) printf(",prob_%s", fcnet_model_class_name(model, j));
  printf("\n");
  for (i = 0; i < rows; ++i) {
    printf("%s", fcnet_model_class_name(model, labels[i]));
    for (j = 0; j < classes; ++j) printf(",%.9g", probs[i * classes + j]);
    printf("\n");
  }
  status = 0;
done:
  free(x);
  free(probs);
  free(labels);
  fcnet_model_close(model);
  return status;
}
