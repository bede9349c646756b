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

void Outcomes::add(const Outcomes& o) {
  answered_2xx += o.answered_2xx;
  answered_other += o.answered_other;
  failed_read += o.failed_read;
  failed_reset += o.failed_reset;
  failed_write += o.failed_write;
  failed_parse += o.failed_parse;
  failed_body += o.failed_body;
  timed_out += o.timed_out;
  open_at_end += o.open_at_end;
  never_sent += o.never_sent;
}

void RunTotals::add(const RunTotals& o) {
  outcomes.add(o.outcomes);
  bytes_read += o.bytes_read;
  bytes_written += o.bytes_written;
  for (std::size_t i = 0; i < status.size(); ++i) status[i] += o.status[i];
  errors.add(o.errors);
  slots_opened += o.slots_opened;
  slots += o.slots;
  if (!o.last_connect_error.empty()) last_connect_error = o.last_connect_error;
}

}  // namespace iomodels::loadgen
