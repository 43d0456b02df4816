#pragma once
// Broken invariants are bugs, not user errors: they abort loudly with file:line.
// Never use AG_CHECK on anything a user controls (files, requests, flags) — return ag::Error.
#include <cstdio>
#include <cstdlib>

#define AG_CHECK(cond, ...)                                                        \
  do {                                                                             \
    if (!(cond)) [[unlikely]] {                                                    \
      std::fprintf(stderr, "%s:%d: check failed: %s ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, "" __VA_ARGS__);                                        \
      std::fprintf(stderr, "\n");                                                  \
      std::abort();                                                                \
    }                                                                              \
  } while (0)
