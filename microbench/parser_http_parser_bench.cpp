// Parser choice, part 1: Debian's http-parser (Node.js's parser before
// llhttp) used bare, and wrapped as the project's RequestParser, parsing the
// /hello request alone and as a pipelined batch of 16. Part 2, Boost.Beast,
// is in parser_beast_bench.cpp; docs/parser-choice.md compares them.
//
// Both bare parsers do the same work: they stop after each request, as a
// server answering pipelined requests in order must, and keep the method,
// the target and whether the connection stays open.
#include <benchmark/benchmark.h>
#include <http_parser.h>

#include <span>
#include <string>
#include <string_view>

#include "microbench/hello_requests.hpp"
#include "protocol/request_parser.hpp"

namespace iomodels::microbench {
namespace {

struct Parsed {
  std::string_view target;
  unsigned method = 0;
  bool keep_alive = false;
  bool complete = false;
};

int on_url(http_parser* p, const char* at, std::size_t length) {
  // The whole request is in one buffer, so the target arrives in one piece.
  static_cast<Parsed*>(p->data)->target = {at, length};
  return 0;
}

int on_message_complete(http_parser* p) {
  auto* parsed = static_cast<Parsed*>(p->data);
  parsed->method = p->method;
  parsed->keep_alive = http_should_keep_alive(p) != 0;
  parsed->complete = true;
  http_parser_pause(p, 1);  // return after this request
  return 0;
}

const http_parser_settings& settings() {
  static const http_parser_settings table = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_url = &on_url;
    s.on_message_complete = &on_message_complete;
    return s;
  }();
  return table;
}

void BM_ParserHttpParser(benchmark::State& state) {
  const int batch_size = static_cast<int>(state.range(0));
  const std::string batch = pipelined_hello(batch_size);
  http_parser parser;
  http_parser_init(&parser, HTTP_REQUEST);
  Parsed parsed;
  parser.data = &parsed;
  for (auto _ : state) {
    std::string_view input = batch;
    int requests = 0;
    while (!input.empty()) {
      parsed.complete = false;
      const std::size_t used =
          http_parser_execute(&parser, &settings(), input.data(), input.size());
      if (!parsed.complete) {
        state.SkipWithError(http_errno_description(HTTP_PARSER_ERRNO(&parser)));
        return;
      }
      http_parser_pause(&parser, 0);
      benchmark::DoNotOptimize(parsed);
      input.remove_prefix(used);
      ++requests;
    }
    if (requests != batch_size || parsed.target != "/hello") state.SkipWithError("wrong parse");
  }
  state.counters["requests"] = benchmark::Counter(static_cast<double>(batch_size),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ParserHttpParser)->Name("BM_Parser/http_parser")->ArgName("batch")->Arg(1)->Arg(16);

// The same through the project's wrapper: limits, the 431/501/505 checks,
// copies of the target, and a Request to hand to route().
void BM_ParserRequestParser(benchmark::State& state) {
  const int batch_size = static_cast<int>(state.range(0));
  const std::string batch = pipelined_hello(batch_size);
  http::RequestParser parser;
  for (auto _ : state) {
    std::span<const char> input(batch);
    int requests = 0;
    while (!input.empty()) {
      const http::ParseResult result = parser.parse(input);
      if (result.status != http::ParseStatus::Complete) {
        state.SkipWithError("RequestParser did not complete");
        return;
      }
      benchmark::DoNotOptimize(parser.request());
      input = input.subspan(result.consumed);
      ++requests;
    }
    if (requests != batch_size) state.SkipWithError("wrong parse");
  }
  state.counters["requests"] = benchmark::Counter(static_cast<double>(batch_size),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ParserRequestParser)
    ->Name("BM_Parser/iomodels_RequestParser")
    ->ArgName("batch")
    ->Arg(1)
    ->Arg(16);

}  // namespace
}  // namespace iomodels::microbench
