// The answer to a connection the server will not serve: "503 Service
// Unavailable" and Connection: close, written at once and never blocking.
// Overload made visible instead of silent waiting: server-threaded sends it
// when no worker can take a client, server-select when a descriptor is
// beyond what select() can watch.
#pragma once

#include <string_view>

namespace iomodels {

// `why` is the body, one line for the client. A new socket's send buffer is
// empty, so the ~250 bytes always fit; a client already gone changes nothing.
void send_busy(int fd, std::string_view server_name, std::string_view why);

}  // namespace iomodels
