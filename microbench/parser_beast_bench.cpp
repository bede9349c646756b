// Parser choice, part 2: Boost.Beast's basic_parser<true>, derived into a
// parser that allocates nothing and keeps what BM_Parser/http_parser keeps
// (method, target, keep-alive). The only file of the project that includes
// Beast: it costs seconds and hundreds of MB to compile.
#include <benchmark/benchmark.h>

#include <boost/beast/http/basic_parser.hpp>
#include <string>
#include <string_view>

#include "microbench/hello_requests.hpp"

namespace iomodels::microbench {
namespace {

namespace http = boost::beast::http;
using boost::beast::error_code;
using boost::beast::string_view;

class HelloParser final : public http::basic_parser<true> {
 public:
  HelloParser() {
    header_limit(8 * 1024);
    body_limit(8 * 1024 * 1024);
    eager(true);  // parse the body in the same put()
  }

  http::verb method = http::verb::unknown;
  std::string_view target;

 private:
  void on_request_impl(http::verb verb, string_view, string_view request_target, int,
                       error_code&) override {
    method = verb;
    // Beast parses the header in place when it arrives in one buffer.
    target = {request_target.data(), request_target.size()};
  }
  void on_response_impl(int, string_view, int, error_code&) override {}
  void on_field_impl(http::field, string_view, string_view, error_code&) override {}
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code&) override { return body.size(); }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override {
    return body.size();
  }
  void on_finish_impl(error_code&) override {}
};

void BM_ParserBeast(benchmark::State& state) {
  const int batch_size = static_cast<int>(state.range(0));
  const std::string batch = pipelined_hello(batch_size);
  for (auto _ : state) {
    std::string_view input = batch;
    int requests = 0;
    while (!input.empty()) {
      // A Beast parser parses one message; the next request gets a new one,
      // as Beast's own read loops do. It lives on the stack: no allocation.
      HelloParser parser;
      error_code ec;
      const std::size_t used =
          parser.put(boost::asio::const_buffer(input.data(), input.size()), ec);
      if (ec || !parser.is_done()) {
        state.SkipWithError(ec ? ec.message().c_str() : "Beast needs more input");
        return;
      }
      benchmark::DoNotOptimize(parser.method);
      benchmark::DoNotOptimize(parser.target);
      const bool keep_alive = parser.keep_alive();
      benchmark::DoNotOptimize(keep_alive);
      input.remove_prefix(used);
      ++requests;
    }
    if (requests != batch_size) state.SkipWithError("wrong parse");
  }
  state.counters["requests"] = benchmark::Counter(static_cast<double>(batch_size),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ParserBeast)->Name("BM_Parser/beast_basic_parser")->ArgName("batch")->Arg(1)->Arg(16);

}  // namespace
}  // namespace iomodels::microbench
