#include "protocol/request_parser.hpp"

#include <boost/beast/http/basic_parser.hpp>
#include <algorithm>
#include <string>
#include <optional>

#include "protocol/body_buffer.hpp"
#include "protocol/request_rules.hpp"

namespace iomodels::http {
namespace {

namespace bhttp = boost::beast::http;
using boost::beast::error_code;

// A buffer grown past this by one large request is freed when the next
// request starts, or when the parser is reset for a pool: a keep-alive
// connection, or a pooled parser, must not keep a body's worth of memory.
constexpr std::size_t kKeptCapacity = 16 * 1024;

void clear_and_trim(std::string& s) {
  if (s.capacity() > kKeptCapacity) {
    std::string().swap(s);
  } else {
    s.clear();
  }
}

}  // namespace

// Everything Beast needs lives here, so that its headers (seconds of compile
// time each) stay out of every other file of the project.
struct RequestParser::State {
  // Beast's parser, derived as Beast means it to be: the callbacks hand each
  // piece to State, which applies our rules and keeps what a route needs.
  class Message final : public bhttp::basic_parser<true> {
   public:
    Message(State& state, std::uint32_t header_limit) : s_(state) {
      this->header_limit(header_limit);
      body_limit(state.limits.max_body);
      eager(true);  // the body in the same put() as the header
    }

   private:
    void on_request_impl(bhttp::verb verb, boost::beast::string_view method,
                         boost::beast::string_view target, int version,
                         error_code& ec) override {
      s_.on_request(verb, {method.data(), method.size()}, {target.data(), target.size()},
                    version, ec);
      // Beast bounds the request line and the field lines each by the
      // header limit; the limit is on the whole section, so the field lines
      // get what the request line left. put() reads it right after this call.
      const std::size_t line = static_cast<std::size_t>(target.data() - s_.input_begin) +
                               target.size() + sizeof " HTTP/1.1\r\n" - 1;
      header_limit(static_cast<std::uint32_t>(s_.header_limit() - std::min(line, s_.header_limit() - 1)));
    }
    void on_response_impl(int, boost::beast::string_view, int, error_code&) override {}
    void on_field_impl(bhttp::field field, boost::beast::string_view name,
                       boost::beast::string_view value, error_code& ec) override {
      s_.on_field(field, name.data(), {value.data(), value.size()}, ec);
    }
    void on_header_impl(error_code& ec) override { s_.on_header(*this, ec); }
    // No reserve from Content-Length here: a 60-byte header must not commit
    // --max-body of memory. The body grows as its bytes arrive.
    void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
    std::size_t on_body_impl(boost::beast::string_view body, error_code&) override {
      s_.body.append({body.data(), body.size()});
      return body.size();
    }
    void on_chunk_header_impl(std::uint64_t size, boost::beast::string_view extensions,
                              error_code& ec) override {
      s_.on_chunk_header(size, {extensions.data(), extensions.size()}, ec);
    }
    std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                                   error_code&) override {
      s_.body.append({body.data(), body.size()});
      s_.chunk_left -= body.size();
      return body.size();
    }
    void on_finish_impl(error_code&) override { s_.message_done = true; }

    State& s_;
  };

  explicit State(Limits l) : limits(l) { start(); }

  Limits limits;
  std::optional<Message> message;  // Beast parses one message per object
  Request request;

  std::string method;
  std::string target;
  std::string expect;
  BodyBuffer body;
  // Bytes of this request Beast could not use yet, given again with what
  // follows: a header section that arrived in pieces (all of it, from the
  // request line), or the rest of a chunk line.
  std::string pending;
  std::size_t header_scanned = 0;  // how far header_decidable() looked
  std::size_t blank_bytes = 0;     // empty lines skipped before this request
  bool started = false;            // a byte of the request line has arrived
  bool headers_done = false;
  bool head_accepted = false;  // headers_done, and every check of the head passed
  bool message_done = false;
  int hosts = 0;
  int content_lengths = 0;
  rules::TransferCodings codings;
  std::uint64_t chunk_left = 0;  // bytes of the current chunk still due
  std::size_t extension_bytes = 0;
  const char* input_begin = nullptr;  // the bytes Beast is being given
  const char* input_end = nullptr;
  int error_status = 0;
  std::string_view error_reason;

  // A new request: everything per request cleared, large buffers freed.
  void start() {
    body.clear(kKeptCapacity);
    clear_and_trim(pending);
    header_scanned = 0;
    blank_bytes = 0;
    started = message_done = false;
    begin_message();
  }

  // A fresh Beast parser, and what ours made of the header section so far
  // forgotten: Beast is also given a header section again from its start.
  void begin_message() {
    clear_and_trim(target);
    expect.clear();
    method.clear();
    headers_done = head_accepted = false;
    hosts = content_lengths = 0;
    codings = {};
    chunk_left = 0;
    extension_bytes = 0;
    request = Request{};
    message.emplace(*this, static_cast<std::uint32_t>(header_limit()));
  }

  std::size_t header_limit() const { return limits.max_header_bytes - blank_bytes; }

  // Records our own refusal; Beast stops at any error a callback sets.
  void fail(error_code& ec, int status, std::string_view reason) {
    if (error_status == 0) {
      error_status = status;
      error_reason = reason;
    }
    ec = bhttp::error::bad_value;
  }

  void on_request(bhttp::verb verb, std::string_view method_text, std::string_view target_text,
                  int version, error_code& ec) {
    if (!rules::valid_target(target_text)) return fail(ec, 400, "invalid byte in the request-target");
    method.assign(method_text);
    target.assign(target_text);
    request.method = verb == bhttp::verb::get    ? Method::Get
                     : verb == bhttp::verb::head ? Method::Head
                     : verb == bhttp::verb::post ? Method::Post
                                                 : Method::Other;
    request.version_major = version / 10;
    request.version_minor = version % 10;
  }

  void on_field(bhttp::field field, const char* name, std::string_view value, error_code& ec) {
    // Beast unfolds obs-fold; RFC 9112 §5.2 lets a server refuse it instead,
    // and we do: a folded Transfer-Encoding is a smuggling classic.
    if (rules::field_line_is_folded(name, input_end)) return fail(ec, 400, "obs-fold in a field line");
    // Trailer fields: Beast already refuses framing fields among them, and
    // nothing of ours reads them.
    if (headers_done) return;
    switch (field) {
      case bhttp::field::host:
        // RFC 9112 §3.2: more than one Host line, or an invalid value, is a 400.
        if (++hosts > 1) return fail(ec, 400, "more than one Host");
        if (!rules::valid_host(value)) return fail(ec, 400, "invalid Host");
        return;
      case bhttp::field::content_length:
        if (++content_lengths > 1) return fail(ec, 400, "more than one Content-Length");
        if (!rules::valid_content_length(value)) return fail(ec, 400, "invalid Content-Length");
        return;
      case bhttp::field::transfer_encoding:
        codings.add(value);
        return;
      case bhttp::field::expect:
        // Several lines are one list (RFC 9110 §5.3): one of them must not
        // hide an expectation another makes.
        if (request.has_expect) expect += ", ";
        request.has_expect = true;
        expect.append(value);
        return;
      default:
        return;
    }
  }

  void on_header(const Message& m, error_code& ec) {
    headers_done = true;
    if (request.version_minor == 1 && hosts == 0) return fail(ec, 400, "HTTP/1.1 without Host");
    const bool has_length = content_lengths > 0;
    if (int status = codings.status(request.version_minor, has_length); status != 0) {
      return fail(ec, status,
                  status == 501 ? "transfer coding not implemented" : "invalid Transfer-Encoding");
    }
    request.method_name = method;
    request.target = target;
    request.expect = expect;
    request.keep_alive = m.keep_alive();
    request.chunked = m.chunked();
    request.has_content_length = has_length;
    if (has_length) request.content_length = *m.content_length();
    // Beast checked its own limits on the head before this call.
    head_accepted = true;
  }

  void on_chunk_header(std::uint64_t size, std::string_view extensions, error_code& ec) {
    if (rules::hex_digits_before(input_begin, extensions.data()) > rules::kMaxChunkSizeDigits) {
      return fail(ec, 400, "chunk size with too many digits");
    }
    extension_bytes += extensions.size();
    if (extension_bytes > rules::kMaxChunkExtensionBytes) {
      return fail(ec, 400, "chunk extensions too long");
    }
    chunk_left = size;
    if (size == 0) {
      // The last chunk: Beast has its trailer section whole, up to the empty
      // line, and bounds it no more than it bounds a chunk line.
      const char* line_end = extensions.data() + extensions.size();
      std::string_view rest(line_end, static_cast<std::size_t>(input_end - line_end));
      const std::size_t section = rest.find("\r\n\r\n") + 4 - 2;
      if (rules::trailer_section_status(section, limits.max_header_bytes) != 0) {
        return fail(ec, 431, "trailer section too large");
      }
    }
  }

  // Which status a refusal of Beast's own deserves (SPEC §3).
  int status_for(const error_code& ec) const {
    if (ec == bhttp::error::header_limit) return 431;
    if (ec == bhttp::error::body_limit) return 413;
    if (ec == bhttp::error::bad_version) {
      return rules::version_error_status(
          {input_begin, static_cast<std::size_t>(input_end - input_begin)});
    }
    return 400;
  }

  // Keeps the bytes Beast left for later, bounded: Beast itself would wait
  // for the end of a chunk line or a trailer section for ever.
  int keep_for_later(std::string_view rest, bool rest_is_in_pending) {
    if (request.chunked && chunk_left == 0) {
      if (int status = rules::unfinished_chunk_line_status(rest, limits.max_header_bytes)) {
        return status;
      }
    }
    if (rest_is_in_pending) {
      pending.erase(0, pending.size() - rest.size());
    } else {
      pending.assign(rest);
    }
    return 0;
  }
};

RequestParser::RequestParser(Limits limits) : state_(std::make_unique<State>(limits)) {}

RequestParser::RequestParser(None) noexcept {}

RequestParser::~RequestParser() = default;
RequestParser::RequestParser(RequestParser&& other) noexcept = default;
RequestParser& RequestParser::operator=(RequestParser&& other) noexcept = default;

ParseResult RequestParser::parse(std::span<const char> data) {
  State& s = *state_;
  if (s.error_status != 0) return {ParseStatus::Error, 0};
  if (s.message_done) s.start();  // the previous request was answered
  if (data.empty()) return {ParseStatus::NeedMore, 0};

  // Beast wants what it could not use last time followed by the new bytes,
  // in one buffer. When nothing waits (the common case: a whole request in
  // one read) it parses the caller's bytes in place.
  const std::size_t already_pending = s.pending.size();
  std::string_view in(data.data(), data.size());
  if (already_pending != 0) {
    s.pending.append(data.data(), data.size());
    in = s.pending;
  }
  auto fail = [&](int status, std::string_view reason) {
    s.error_status = status;
    s.error_reason = reason;
    return ParseResult{ParseStatus::Error, data.size()};
  };
  auto need_more = [&] { return ParseResult{ParseStatus::NeedMore, data.size()}; };

  std::size_t skipped = 0;
  if (!s.started) {
    // RFC 9112 §2.2: empty lines before a request line are skipped, but
    // counted against the header limit, so that an endless stream of them
    // ends in a 431 rather than holding the connection.
    while (in.size() - skipped >= 2 && in[skipped] == '\r' && in[skipped + 1] == '\n') {
      skipped += 2;
    }
    s.blank_bytes += skipped;
    if (s.blank_bytes >= s.limits.max_header_bytes) return fail(431, "header section too large");
    std::string_view rest = in.substr(skipped);
    if (rest.empty() || rest == "\r") {
      s.pending.assign(rest);
      return need_more();
    }
    s.started = true;
    s.begin_message();  // with the header limit less the empty lines
    in.remove_prefix(skipped);
    if (already_pending != 0) {
      s.pending.erase(0, skipped);
      in = s.pending;
    }
  } else if (!s.headers_done) {
    // The rest of a header section that arrived in pieces: parsed again from
    // its start by a fresh Beast parser, once there is something to decide.
    if (!rules::header_decidable(in, s.header_scanned, s.header_limit())) return need_more();
    s.begin_message();
  }

  s.input_begin = in.data();
  s.input_end = in.data() + in.size();
  error_code ec;
  const std::size_t used = s.message->put(boost::asio::const_buffer(in.data(), in.size()), ec);

  if (s.message_done) {
    // The request ended inside the new bytes: Beast never stops short of a
    // complete message it was given whole, so all pending bytes were used.
    const std::size_t from_data = skipped + used - already_pending;
    s.request.body = s.body.view();
    clear_and_trim(s.pending);
    return {ParseStatus::Complete, from_data};
  }
  if (ec && ec != bhttp::error::need_more && !s.headers_done) {
    // Beast refuses some header bytes (a bad version, a CTL) before their
    // line has ended. A section is judged only once decidable, whole or in
    // pieces, so that the verdict does not depend on where it was cut.
    std::size_t scanned = 0;
    if (!rules::header_decidable(in, scanned, s.header_limit())) {
      s.error_status = 0;
      s.error_reason = {};
      ec = bhttp::error::need_more;
    }
  }
  if (ec && ec != bhttp::error::need_more) {
    if (s.error_status != 0) return fail(s.error_status, s.error_reason);
    if (ec == bhttp::error::body_limit && s.request.chunked) {
      // Beast weighs a chunk's size against the body limit before the
      // line's other bounds (digits, length), which a stream cut inside the
      // line meets first (keep_for_later()). They win here too, so that the
      // status does not depend on where the stream was cut; Beast stopped
      // at the start of that line. (Found by fuzz_session: 413 whole, 400
      // cut.)
      const std::string_view line = in.substr(used);
      if (int status = rules::unfinished_chunk_line_status(line, s.limits.max_header_bytes)) {
        return fail(status, "chunk line too long");
      }
    }
    const int status = s.status_for(ec);
    return fail(status, status == 431   ? "header section too large"
                        : status == 413 ? "body larger than --max-body"
                                        : "malformed request");
  }
  if (!s.headers_done) {
    // Beast stops inside a header section at a different place for each way
    // the stream is cut, and then waits for its end before it looks again.
    // We keep the whole section instead, and give it again from its start.
    if (in.data() != s.pending.data()) s.pending.assign(in);
    s.header_scanned = 0;
    return need_more();
  }
  if (int status = s.keep_for_later(in.substr(used), in.data() == s.pending.data())) {
    return fail(status, status == 431 ? "trailer section too large" : "chunk line too long");
  }
  return need_more();
}

const Request& RequestParser::request() const {
  return state_->request;
}
int RequestParser::error_status() const {
  return state_->error_status;
}
std::string_view RequestParser::error_reason() const {
  return state_->error_reason;
}
bool RequestParser::in_progress() const {
  return state_->started && !state_->message_done;
}
bool RequestParser::headers_complete() const {
  return state_->headers_done;
}
bool RequestParser::head_accepted() const {
  return state_->head_accepted;
}
bool RequestParser::awaiting_body() const {
  const State& s = *state_;
  return s.headers_done && !s.message_done && s.error_status == 0 &&
         (s.request.chunked || s.request.content_length > 0);
}

std::size_t RequestParser::memory_held() const {
  const State& s = *state_;
  // A string's capacity within its own object (SSO) is not heap.
  auto heap = [](const std::string& b) { return b.capacity() > 15 ? b.capacity() : 0; };
  return heap(s.method) + heap(s.target) + heap(s.expect) + s.body.capacity_bytes() + heap(s.pending);
}

void RequestParser::reset() {
  state_->error_status = 0;
  state_->error_reason = {};
  state_->start();
}

}  // namespace iomodels::http
