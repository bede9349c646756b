#include "protocol/http_date.hpp"

#include <ctime>

namespace iomodels::http {

std::string_view http_date_now() {
  // Per thread, so that reactors and workers never share (or lock) it.
  thread_local char text[64];
  thread_local std::size_t length = 0;
  thread_local std::time_t formatted_for = -1;

  // CLOCK_REALTIME_COARSE is read from the vDSO without a system call and is
  // precise to a few milliseconds: plenty for a header with 1 s resolution.
  timespec now{};
  clock_gettime(CLOCK_REALTIME_COARSE, &now);
  if (now.tv_sec != formatted_for) {
    std::tm utc{};
    gmtime_r(&now.tv_sec, &utc);
    length = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &utc);
    formatted_for = now.tv_sec;
  }
  return {text, length};
}

}  // namespace iomodels::http
