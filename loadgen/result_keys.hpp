// The error kinds and failed outcomes in report order, with their JSON keys:
// one table for the JSON, its reader and the summary.
#pragma once

#include <cstdint>

#include "loadgen/stats.hpp"

namespace iomodels::loadgen {

struct ErrorKind {
  const char* key;
  std::uint64_t ErrorCounts::*field;
  const char* meaning;
};
inline constexpr ErrorKind kErrorKinds[] = {
    {"connect_refused", &ErrorCounts::connect_refused, "connect refused"},
    {"connect_timeout", &ErrorCounts::connect_timeout, "connect timed out"},
    {"connect_reset", &ErrorCounts::connect_reset, "connect reset"},
    {"connect_other", &ErrorCounts::connect_other, "connect failed otherwise"},
    {"read", &ErrorCounts::read, "read error / closed with requests unanswered"},
    {"reset", &ErrorCounts::reset, "connection reset"},
    {"write", &ErrorCounts::write, "write error"},
    {"timeout", &ErrorCounts::timeout, "request timed out"},
    {"status", &ErrorCounts::status, "status >= 400"},
    {"parse", &ErrorCounts::parse, "not an HTTP response"},
    {"body", &ErrorCounts::body, "body check failed"},
};

struct FailedOutcome {
  const char* key;
  std::uint64_t Outcomes::*field;
};
inline constexpr FailedOutcome kFailedOutcomes[] = {
    {"read", &Outcomes::failed_read},   {"reset", &Outcomes::failed_reset},
    {"write", &Outcomes::failed_write}, {"parse", &Outcomes::failed_parse},
    {"body", &Outcomes::failed_body},
};

}  // namespace iomodels::loadgen
