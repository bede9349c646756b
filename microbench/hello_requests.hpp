// The request every protocol benchmark parses: a GET /hello with the headers
// a load generator such as wrk or our loadgen sends.
#pragma once

#include <string>
#include <string_view>

namespace iomodels::microbench {

inline constexpr std::string_view kHelloRequest =
    "GET /hello HTTP/1.1\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "User-Agent: iomodels-loadgen\r\n"
    "Accept: */*\r\n"
    "\r\n";

// `count` requests back to back, as one read of a pipelining client returns.
inline std::string pipelined_hello(int count) {
  std::string batch;
  for (int i = 0; i < count; ++i) batch += kHelloRequest;
  return batch;
}

// Batch sizes: a lone request, and the pipelined batch of 16 the parser
// choice was made on.
inline constexpr int kBatchSizes[] = {1, 16};

}  // namespace iomodels::microbench
