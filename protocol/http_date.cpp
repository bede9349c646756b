#include "protocol/http_date.hpp"

#include <cstdio>
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
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm utc{};
    gmtime_r(&now.tv_sec, &utc);
    // Formatted by hand: strftime() may consult the time zone (and reopen
    // /etc/localtime) on every call, and the names must be English anyway.
    int n = std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                          kDays[utc.tm_wday], utc.tm_mday, kMonths[utc.tm_mon], utc.tm_year + 1900,
                          utc.tm_hour, utc.tm_min, utc.tm_sec);
    length = n > 0 ? static_cast<std::size_t>(n) : 0;
    formatted_for = now.tv_sec;
  }
  return {text, length};
}

}  // namespace iomodels::http
