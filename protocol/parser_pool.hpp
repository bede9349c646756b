// ParserPool: request parsers lent to the connections of one thread.
//
// A parser holds a few hundred bytes of state (http-parser's, the target,
// the body, the header name being read), but a connection needs it only
// while a request is arriving. An idle keep-alive connection needs none; at
// 10 000 idle connections that is the difference between a few MiB and
// nothing. So a session borrows a parser when bytes arrive and returns it
// as soon as it stands between two requests: on a busy keep-alive connection
// that is once per request, at the cost of moving one pointer each way.
#pragma once

#include <cstddef>
#include <vector>

#include "protocol/request_parser.hpp"

namespace iomodels::http {

class ParserPool {
 public:
  explicit ParserPool(Limits limits) : limits_(limits) {}

  RequestParser take() {
    if (free_.empty()) return RequestParser(limits_);
    RequestParser parser = std::move(free_.back());
    free_.pop_back();
    return parser;
  }

  void give_back(RequestParser parser) {
    // Past a burst (10 000 slow clients at once) the extra parsers are freed
    // rather than kept for ever.
    if (free_.size() >= kMaxFree) return;
    parser.reset();
    free_.push_back(std::move(parser));
  }

 private:
  static constexpr std::size_t kMaxFree = 256;
  Limits limits_;
  std::vector<RequestParser> free_;
};

}  // namespace iomodels::http
