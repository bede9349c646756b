// The Date header value (RFC 9110 IMF-fixdate), formatted at most once a
// second per thread: formatting a date costs more than the rest of a /hello
// response, and the header only has a resolution of one second.
#pragma once

#include <string_view>

namespace iomodels::http {

// "Thu, 26 Nov 2026 09:38:29 GMT"; valid until the calling thread's next call.
std::string_view http_date_now();

}  // namespace iomodels::http
