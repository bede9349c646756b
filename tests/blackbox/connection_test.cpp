// Connection handling: keep-alive, pipelining, requests in single bytes,
// Connection: close, HTTP/1.0, and clients that misbehave.
#include <string>
#include <vector>

#include "protocol/body_pattern.hpp"
#include "tests/blackbox/suite.hpp"

namespace iomodels::testing {
namespace {

class Connections : public BlackBox {
 protected:
  void SetUp() override { start(); }
};

TEST_F(Connections, KeepAliveServesManyRequestsOnOneConnection) {
  HttpConnection c = server().connect();
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(c.send(get_request("/hello")));
    READ_OK(r, c);
    ASSERT_EQ(r.status, 200);
  }
}

TEST_F(Connections, PipelinedBatchOf16IsAnsweredInOrder) {
  // A mix of routes, so that a response that overtook another would show.
  std::vector<std::string> requests;
  std::vector<std::string> expected;
  for (int i = 0; i < 16; ++i) {
    switch (i % 4) {
      case 0:
        requests.push_back(get_request("/hello"));
        expected.push_back("Hello, World!");
        break;
      case 1:
        requests.push_back(get_request("/bytes/" + std::to_string(1000 * i)));
        expected.push_back(std::string(1000 * i, '?'));  // length only; pattern checked below
        break;
      case 2:
        requests.push_back(post_request("/echo", "echo number " + std::to_string(i)));
        expected.push_back("echo number " + std::to_string(i));
        break;
      case 3:
        requests.push_back(get_request(i == 3 ? "/sleep/20" : "/cpu/1000"));
        expected.push_back(i == 3 ? "sleep" : "cpu");
        break;
    }
  }
  std::string batch;
  for (const std::string& r : requests) batch += r;

  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send(batch));  // one write: the server reads them together
  for (int i = 0; i < 16; ++i) {
    SCOPED_TRACE("response " + std::to_string(i));
    READ_OK(r, c);
    ASSERT_EQ(r.status, 200);
    if (i % 4 == 1) {
      EXPECT_EQ(r.body.size(), expected[i].size());
      EXPECT_TRUE(http::check_pattern(r.body, 0));
    } else if (i % 4 == 3) {
      EXPECT_NE(r.body.find(expected[i]), std::string::npos) << r.body;
    } else {
      EXPECT_EQ(r.body, expected[i]);
    }
  }
  // The connection is still usable afterwards.
  ASSERT_TRUE(c.send(get_request("/hello")));
  READ_OK(after, c);
  EXPECT_EQ(after.status, 200);
}

TEST_F(Connections, RequestsSplitIntoSingleBytes) {
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send_bytewise(get_request("/bytes/1000", "X-Whatever: yes\r\n")));
  READ_OK(bytes, c);
  EXPECT_EQ(bytes.status, 200);
  EXPECT_EQ(bytes.body.size(), 1000u);
  EXPECT_TRUE(http::check_pattern(bytes.body, 0));
  ASSERT_TRUE(c.send_bytewise(post_request("/echo", "split body")));
  READ_OK(echo, c);
  EXPECT_EQ(echo.status, 200);
  EXPECT_EQ(echo.body, "split body");
}

TEST_F(Connections, ConnectionCloseIsHonoured) {
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send(get_request("/hello", "Connection: close\r\n")));
  READ_OK(r, c);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Hello, World!");
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_TRUE(c.wait_closed(3s));
}

TEST_F(Connections, Http10ClosesByDefault) {
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send("GET /hello HTTP/1.0\r\n\r\n"));
  READ_OK(r, c);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Hello, World!");
  EXPECT_NE(r.header("Connection"), "keep-alive");
  EXPECT_TRUE(c.wait_closed(3s));
}

TEST_F(Connections, Http10KeepAliveIsKept) {
  HttpConnection c = server().connect();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    READ_OK(r, c);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Connection"), "keep-alive");
  }
  EXPECT_FALSE(c.wait_closed(200ms));
}

TEST_F(Connections, ClientResettingMidResponseLeavesServerServing) {
  for (int i = 0; i < 3; ++i) {
    HttpConnection c = server().connect();
    ASSERT_TRUE(c.send(get_request("/bytes/8388608")));
    std::string start = c.read_raw(64 * 1024, 5s);
    ASSERT_FALSE(start.empty());
    c.reset();
  }
  // A client that resets with requests still unanswered.
  {
    HttpConnection c = server().connect();
    std::string batch;
    for (int i = 0; i < 16; ++i) batch += get_request("/bytes/1000000");
    ASSERT_TRUE(c.send(batch));
    c.reset();
  }
  ASSERT_TRUE(server().alive());
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send(get_request("/hello")));
  READ_OK(r, c);
  EXPECT_EQ(r.status, 200);
}

TEST_F(Connections, ClientLeavingMidRequestLeavesServerServing) {
  {
    HttpConnection c = server().connect();
    ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nHost: te"));
  }  // closed half-way through the header
  {
    HttpConnection c = server().connect();
    ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\nonly part"));
    c.reset();
  }
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send(get_request("/hello")));
  READ_OK(r, c);
  EXPECT_EQ(r.status, 200);
}

TEST_F(Connections, GarbageFloodLeavesServerServing) {
  std::string garbage;
  std::uint32_t x = 12345;
  for (int i = 0; i < 4096; ++i) {
    x = x * 1103515245 + 12345;  // a fixed pseudo-random sequence: reproducible
    garbage.push_back(static_cast<char>(x >> 24));
  }
  for (int i = 0; i < 20; ++i) {
    HttpConnection c = server().connect();
    c.send(garbage.substr(static_cast<std::size_t>(i) * 97));
    // The server answers 400 (or closes) and moves on.
    EXPECT_TRUE(c.wait_closed(3s));
  }
  HttpConnection c = server().connect();
  ASSERT_TRUE(c.send(get_request("/hello")));
  READ_OK(r, c);
  EXPECT_EQ(r.status, 200);
}

}  // namespace
}  // namespace iomodels::testing
