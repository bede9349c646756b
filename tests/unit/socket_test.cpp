// Socket helpers: listening on port 0, address text, IoStatus on a pair.
#include "net/socket.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <system_error>

namespace iomodels {
namespace {

TEST(Socket, ListenOnPortZeroGetsAPort) {
  Fd fd = listen_tcp({.host = "127.0.0.1", .port = 0});
  ASSERT_TRUE(fd);
  EXPECT_GT(local_port(fd.get()), 0);
  EXPECT_EQ(local_address(fd.get()), "127.0.0.1:" + std::to_string(local_port(fd.get())));
}

TEST(Socket, PortInUseThrowsAddressInUse) {
  Fd first = listen_tcp({.host = "127.0.0.1", .port = 0});
  std::uint16_t port = local_port(first.get());
  try {
    listen_tcp({.host = "127.0.0.1", .port = port});
    FAIL() << "second bind succeeded";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::address_in_use);
  }
}

TEST(Socket, BadHostThrows) {
  EXPECT_THROW(listen_tcp({.host = "no such host.invalid", .port = 0}), std::system_error);
}

TEST(Socket, IoStatusOnASocketPair) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  Fd a(pair[0]), b(pair[1]);
  set_nonblocking(a.get());
  char buf[8];
  EXPECT_EQ(read_some(a.get(), buf).status, IoStatus::Again);
  EXPECT_EQ(write_some(b.get(), std::string_view("hi")).bytes, 2u);
  IoResult r = read_some(a.get(), buf);
  EXPECT_EQ(r.status, IoStatus::Ok);
  EXPECT_EQ(r.bytes, 2u);
  b.reset();
  EXPECT_EQ(read_some(a.get(), buf).status, IoStatus::Closed);
}

TEST(Socket, FdLimitIsRaisedToHard) {
  FdLimit limit = raise_fd_limit();
  EXPECT_GT(limit.soft, 0u);
  EXPECT_LE(limit.soft, limit.hard);
}

}  // namespace
}  // namespace iomodels
