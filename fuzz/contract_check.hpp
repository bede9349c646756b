// CHECK for the fuzz targets: a broken contract aborts, which libFuzzer
// reports as a crash and saves the input that broke it.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace iomodels::fuzz {

[[noreturn]] inline void contract_broken(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: contract broken: %s\n", file, line, what);
  std::abort();
}

}  // namespace iomodels::fuzz

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) ::iomodels::fuzz::contract_broken(__FILE__, __LINE__, #cond); \
  } while (0)
