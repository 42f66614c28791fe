// Predicts with a trained fcnet model from C++ through the C API of the installed package
// (find_package(fcnet), target fcnet::fcnet): reads whitespace- or comma-separated numbers from
// standard input, the model's input width per example, and prints the label and the class
// probabilities of each as CSV (`fcnet predict --output labels,probs`'s columns). The model's
// inputs are listed on stderr.
#include <fcnet/fcnet.h>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// The handle, closed when it goes out of scope.
using Model = std::unique_ptr<fcnet_model, decltype(&fcnet_model_close)>;

Model open_model(const char* path) {
  fcnet_model* m = nullptr;
  if (fcnet_model_open(path, &m) != FCNET_OK) throw std::runtime_error(fcnet_last_error());
  return Model(m, &fcnet_model_close);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " MODEL < ROWS   (compiled against fcnet "
              << FCNET_VERSION_STRING << ", running " << fcnet_version() << ")\n";
    return 2;
  }
  try {
    const Model model = open_model(argv[1]);
    const int64_t d = fcnet_model_input_width(model.get());
    const int64_t c = fcnet_model_num_classes(model.get());
    std::cerr << "inputs:";
    for (int64_t j = 0; j < d; ++j)
      std::cerr << ' '
                << (fcnet_model_has_feature_names(model.get()) == 1
                        ? fcnet_model_feature_name(model.get(), j)
                        : std::to_string(j).c_str());
    std::cerr << '\n';

    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    for (char& ch : text)
      if (ch == ',') ch = ' ';
    std::istringstream in(text);
    std::vector<float> x;
    for (float v; in >> v;) x.push_back(v);
    if (!in.eof()) throw std::runtime_error("standard input holds something that is not a number");
    if (x.size() % static_cast<std::size_t>(d) != 0)
      throw std::runtime_error(std::to_string(x.size()) + " numbers are not rows of " +
                               std::to_string(d));
    const auto n = static_cast<int64_t>(x.size()) / d;

    std::vector<float> probs(static_cast<std::size_t>(n * c));
    std::vector<int32_t> labels(static_cast<std::size_t>(n));
    if (fcnet_predict(model.get(), x.data(), n, d, probs.data(), labels.data()) != FCNET_OK)
      throw std::runtime_error(fcnet_last_error());
    std::printf("label");
    for (int64_t k = 0; k < c; ++k) std::printf(",prob_%s", fcnet_model_class_name(model.get(), k));
    std::printf("\n");
    for (int64_t i = 0; i < n; ++i) {
      std::printf("%s", fcnet_model_class_name(model.get(), labels[static_cast<std::size_t>(i)]));
      for (int64_t k = 0; k < c; ++k)
        std::printf(",%.9g", static_cast<double>(probs[static_cast<std::size_t>(i * c + k)]));
      std::printf("\n");
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "fcnet_predict_cpp: " << e.what() << '\n';
    return 1;
  }
}
