// Measurements: what one worker measured, and (added up) what a run or a
// merge of runs measured. Every part adds exactly, so threads, processes and
// hosts combine without loss (docs/loadgen.md, "Merging runs").
#pragma once

#include <cstdint>

#include "loadgen/censored_histogram.hpp"
#include "loadgen/latency_histogram.hpp"
#include "loadgen/stats.hpp"

namespace iomodels::loadgen {

// Per connection: time from the window opening (or its first send, if
// later) to its first 2xx answer; never-answered connections enter with the
// time to the window's close, as lower bounds.
struct Fairness {
  std::uint64_t connections = 0;
  std::uint64_t answered = 0;  // connections answered (2xx) at least once
  CensoredHistogram first_answer;

  void add(const Fairness& o) {
    connections += o.connections;
    answered += o.answered;
    first_answer.merge(o.first_answer);
  }
};

struct Measurements {
  RunTotals totals;
  CensoredHistogram latency;      // corrected (from the scheduled send), all measured requests
  LatencyHistogram answered;      // corrected, the requests that got a response
  CensoredHistogram uncorrected;  // open loop: from the actual send, requests sent
  LatencyHistogram send_lag;      // open loop: actual minus scheduled send
  Fairness fairness;

  void add(const Measurements& o) {
    totals.add(o.totals);
    latency.merge(o.latency);
    answered.merge(o.answered);
    uncorrected.merge(o.uncorrected);
    send_lag.merge(o.send_lag);
    fairness.add(o.fairness);
  }
};

}  // namespace iomodels::loadgen
