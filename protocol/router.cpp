#include "protocol/router.hpp"

#include <charconv>
#include <cstring>
#include <optional>
#include <string>

#include "protocol/http_date.hpp"
#include "protocol/request_rules.hpp"

namespace iomodels::http {
namespace {

constexpr std::string_view kHello = "Hello, World!";

// A path number: decimal digits only (no sign, no spaces), at most `max`.
// std::nullopt for anything else, which the caller answers with 400.
std::optional<std::uint64_t> parse_number(std::string_view digits, std::uint64_t max) {
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || end != digits.data() + digits.size() || value > max) return std::nullopt;
  return value;
}

Response text(int status, std::string_view body) {
  Response r;
  r.status = status;
  r.body = body;
  return r;
}

Response error_with_body(int status, std::string_view body) {
  Response r = text(status, body);
  r.close = true;
  return r;
}

Response method_not_allowed(std::string_view allow) {
  Response r = error_with_body(405, "method not allowed\n");
  r.allow = allow;
  return r;
}

}  // namespace

Plan route(const Request& request, const Limits& limits) {
  Plan plan;
  std::string_view path = request.target;
  if (auto query = path.find('?'); query != std::string_view::npos) path = path.substr(0, query);

  // RFC 9110 §9.1: HEAD wherever GET; serialize() leaves the body out.
  auto require_get = [&](Plan ok) {
    if (request.method != Method::Get && request.method != Method::Head) {
      Plan refused;
      refused.response = method_not_allowed("GET, HEAD");
      return refused;
    }
    return ok;
  };
  auto numbered = [&](std::string_view prefix) -> std::optional<std::string_view> {
    if (path.size() > prefix.size() && path.substr(0, prefix.size()) == prefix) {
      return path.substr(prefix.size());
    }
    return std::nullopt;
  };

  if (path == "/" || path == "/hello" || path == "/plaintext") {
    plan.response = text(200, kHello);
    plan = require_get(plan);
  } else if (auto n = numbered("/bytes/")) {
    auto count = parse_number(*n, limits.max_body);
    if (!count) {
      plan.response = error_with_body(400, "bad byte count: 0 <= n <= --max-body\n");
    } else {
      plan.response.content_type = "application/octet-stream";
      plan.response.pattern = true;
      plan.response.pattern_bytes = *count;
      plan = require_get(plan);
    }
  } else if (auto us = numbered("/cpu/")) {
    auto value = parse_number(*us, kMaxCpuUs);
    if (!value) {
      plan.response = error_with_body(400, "bad cpu time: 0 <= us <= 1000000\n");
    } else {
      plan.action = Action::BurnCpuThenRespond;
      plan.cpu_us = static_cast<std::uint32_t>(*value);
      plan.response = text(200, "cpu done\n");
      plan = require_get(plan);
    }
  } else if (auto ms = numbered("/sleep/")) {
    auto value = parse_number(*ms, kMaxSleepMs);
    if (!value) {
      plan.response = error_with_body(400, "bad sleep time: 0 <= ms <= 60000\n");
    } else {
      plan.action = Action::SleepThenRespond;
      plan.sleep_ms = static_cast<std::uint32_t>(*value);
      plan.response = text(200, "sleep done\n");
      plan = require_get(plan);
    }
  } else if (path == "/echo") {
    if (request.method != Method::Post) {
      plan.response = method_not_allowed("POST");
    } else if (!request.has_content_length && !request.chunked) {
      plan.response = error_with_body(411, "POST /echo needs Content-Length or chunked\n");
    } else {
      plan.response.content_type = "application/octet-stream";
      plan.response.body = request.body;
    }
  } else {
    plan.response = error_with_body(404, "not found\n");
  }

  Response& r = plan.response;
  // Every answer to a HEAD, errors included, is a head without content.
  r.head_only = request.method == Method::Head;
  if (!request.keep_alive) r.close = true;
  // An HTTP/1.0 client keeps the connection only if we say so explicitly.
  if (request.version_minor == 0 && !r.close) r.keep_alive_header = true;
  return plan;
}

ExpectAnswer answer_expectation(const Request& request, const Limits& limits) {
  ExpectAnswer answer;
  if (!request.has_expect || request.version_minor == 0) return answer;
  switch (rules::expectation(request.expect)) {
    case rules::Expectation::None:
      return answer;
    case rules::Expectation::Unknown:
      answer.final = true;
      answer.response = error_response(417);
      answer.response.head_only = request.method == Method::Head;
      return answer;
    case rules::Expectation::Continue:
      break;
  }
  // No content to wait for: nothing to continue (§10.1.1 lets us omit it).
  if (!request.chunked && request.content_length == 0) return answer;
  // route() decides from the head alone; the body only fills an /echo answer.
  Plan plan = route(request, limits);
  if (plan.response.status >= 400) {
    answer.final = true;
    answer.response = plan.response;
    answer.response.close = true;  // the body stays unread: the connection cannot go on
  } else {
    answer.send_continue = true;
  }
  return answer;
}

Response error_response(int status) {
  switch (status) {
    case 400:
      return error_with_body(400, "malformed request\n");
    case 408:
      return error_with_body(408,
                             "request timeout: the header section or the body came too slowly\n");
    case 413:
      return error_with_body(413, "request body too large\n");
    case 417:
      return error_with_body(417, "expectation not supported: only 100-continue\n");
    case 431:
      return error_with_body(431, "request header section too large\n");
    case 501:
      return error_with_body(501, "transfer coding not implemented: only chunked\n");
    case 505:
      return error_with_body(505, "only HTTP/1.0 and HTTP/1.1\n");
    default:
      return error_with_body(status, "error\n");
  }
}

std::string_view status_reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

void serialize(const Response& response, std::string_view server_name, OutputQueue& out) {
  const std::uint64_t length = response.pattern ? response.pattern_bytes : response.body.size();
  // One buffer for the whole head, filled by hand and appended once. Not
  // snprintf: its format parsing was a third of server-epoll's user-space
  // CPU time per /hello (perf), more than http-parser's.
  char head[512];
  std::size_t used = 0;
  auto put = [&](std::string_view text) {
    // Only our own short strings go here (status, names, date, type): the
    // clamp can never bite, it only makes overflow impossible.
    text = text.substr(0, sizeof head - used);
    std::memcpy(head + used, text.data(), text.size());
    used += text.size();
  };
  auto put_number = [&](std::uint64_t value) {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    put({digits, static_cast<std::size_t>(end - digits)});
  };
  put("HTTP/1.1 ");
  put_number(static_cast<std::uint64_t>(response.status));
  put(" ");
  put(status_reason(response.status));
  put("\r\nServer: ");
  put(server_name);
  put("\r\nDate: ");
  put(http_date_now());
  put("\r\nContent-Type: ");
  put(response.content_type);
  put("\r\nContent-Length: ");
  put_number(length);
  put("\r\n");
  if (response.close) {
    put("Connection: close\r\n");
  } else if (response.keep_alive_header) {
    put("Connection: keep-alive\r\n");
  }
  if (!response.allow.empty()) {
    put("Allow: ");
    put(response.allow);
    put("\r\n");
  }
  put("\r\n");
  // Head and body land in the same chunk of the queue: one buffer, one write.
  out.append({head, used});
  if (response.head_only) return;
  if (response.pattern) {
    out.append_pattern(response.pattern_bytes);
  } else {
    out.append(response.body);
  }
}

}  // namespace iomodels::http
