// --idle N: hold N idle keep-alive connections (the bench's `idle` scenario).
#pragma once

#include "loadgen/config.hpp"

namespace iomodels::loadgen {

// Opens the connections (at most 256 connecting at once, so the server's
// listen backlog never overflows), sends one request on each and reads its
// answer, so the server sees real keep-alive clients resting between
// requests (not half-open requests its header timeout would rightly close).
// Then prints one line on stdout,
//   holding HELD answered ANSWERED[ of ASKED: REASON]
// (the tail when some failed or were never answered), and holds them silent
// until SIGTERM/SIGINT or, with -d, the duration's end. A connection left
// unanswered is still held: a server that serves one connection at a time is
// stuck on the first idle one, and that is the finding.
// Returns the exit status: 0 all held and answered, 3 otherwise, 1 could not
// run (fd limit, results not writable).
int run_idle(const Config& config);

}  // namespace iomodels::loadgen
