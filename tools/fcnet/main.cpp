#include <cstdio>

int main() {
  std::fprintf(stderr, "fcnet: no commands yet\n");
  return 2;
}
