#include "loadgen/stats.hpp"

namespace iomodels::loadgen {

void ErrorCounts::add(const ErrorCounts& o) {
  connect_refused += o.connect_refused;
  connect_timeout += o.connect_timeout;
  connect_reset += o.connect_reset;
  connect_other += o.connect_other;
  read += o.read;
  reset += o.reset;
  write += o.write;
  timeout += o.timeout;
  status += o.status;
  parse += o.parse;
  body += o.body;
}

void RunTotals::add(const RunTotals& o) {
  sent += o.sent;
  requests += o.requests;
  failed += o.failed;
  unfinished += o.unfinished;
  scheduled += o.scheduled;
  bytes_read += o.bytes_read;
  bytes_written += o.bytes_written;
  for (std::size_t i = 0; i < status.size(); ++i) status[i] += o.status[i];
  errors.add(o.errors);
  slots_opened += o.slots_opened;
  slots += o.slots;
  if (!o.last_connect_error.empty()) last_connect_error = o.last_connect_error;
}

}  // namespace iomodels::loadgen
