// Feeding a RequestParser as a server does, for the unit tests: requests
// answered one by one, the rest fed again, and the input cut anywhere.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/request_parser.hpp"

namespace iomodels::http {

struct Parsed {
  std::vector<std::string> methods;
  std::vector<std::string> targets;
  std::vector<std::string> bodies;
  std::vector<bool> keep_alive;
  int error = 0;
  // The input ended between two requests. False when the last request was
  // left incomplete: no error, but nothing a server could answer either.
  bool ended_between_requests = true;
  bool operator==(const Parsed&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const Parsed& p) {
  os << "{" << p.targets.size() << " requests, error " << p.error
     << (p.ended_between_requests ? "" : ", last one incomplete") << "}";
  return os;
}

// Feeds `input` in the given pieces (their sizes; the last piece takes the
// rest), answering every complete request before feeding the rest.
inline Parsed feed_pieces(const std::string& input, const std::vector<std::size_t>& pieces,
                          Limits limits = {}) {
  RequestParser parser(limits);
  Parsed out;
  std::size_t pos = 0;
  std::size_t piece = 0;
  while (pos < input.size()) {
    std::size_t len = piece < pieces.size() ? std::min(pieces[piece], input.size() - pos)
                                            : input.size() - pos;
    ++piece;
    std::span<const char> data(input.data() + pos, len);
    pos += len;
    while (!data.empty()) {
      ParseResult r = parser.parse(data);
      // A server re-feeds the rest; NeedMore must have taken everything.
      EXPECT_LE(r.consumed, data.size());
      if (r.status == ParseStatus::NeedMore) {
        EXPECT_EQ(r.consumed, data.size());
      }
      data = data.subspan(r.consumed);
      if (r.status == ParseStatus::Error) {
        out.error = parser.error_status();
        out.ended_between_requests = false;
        return out;
      }
      if (r.status == ParseStatus::NeedMore) break;
      const Request& req = parser.request();
      out.methods.emplace_back(req.method_name);
      out.targets.emplace_back(req.target);
      out.bodies.emplace_back(req.body);
      out.keep_alive.push_back(req.keep_alive);
    }
  }
  out.ended_between_requests = !parser.in_progress();
  return out;
}

// `piece` bytes at a time (0: all at once).
inline Parsed feed(const std::string& input, std::size_t piece = 0, Limits limits = {}) {
  if (piece == 0) return feed_pieces(input, {}, limits);
  return feed_pieces(input, std::vector<std::size_t>(input.size() / piece + 1, piece), limits);
}

// Fed whole, byte by byte and cut in two at every byte: the kernel may split
// a stream anywhere, and the outcome must not depend on where. Returns the
// outcome of the whole input.
inline Parsed feed_every_way(const std::string& input, Limits limits = {}) {
  Parsed whole = feed(input, 0, limits);
  EXPECT_EQ(feed(input, 1, limits), whole) << "byte by byte";
  for (std::size_t cut = 1; cut < input.size(); ++cut) {
    EXPECT_EQ(feed_pieces(input, {cut}, limits), whole) << "cut at byte " << cut;
  }
  return whole;
}

// The status `input` gets, fed every way (0: every request accepted, and the
// input ended between requests).
inline int status_of(const std::string& input, Limits limits = {}) {
  Parsed p = feed_every_way(input, limits);
  if (p.error == 0 && !p.ended_between_requests) return -1;  // never completed
  return p.error;
}

}  // namespace iomodels::http
