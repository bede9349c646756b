// Protocol cost: what the shared library spends on one /hello request, from
// bytes in to bytes queued out (parse, route, serialise), so that the report
// can set it against the system calls and the switches a request costs.
#include <benchmark/benchmark.h>

#include <span>
#include <string>

#include "microbench/hello_requests.hpp"
#include "protocol/output_queue.hpp"
#include "protocol/request_parser.hpp"
#include "protocol/router.hpp"

namespace iomodels::microbench {
namespace {

void BM_ProtocolHello(benchmark::State& state) {
  const int batch_size = static_cast<int>(state.range(0));
  const std::string batch = pipelined_hello(batch_size);
  const http::Limits limits;
  // One parser and one output queue per connection, reused request after
  // request, as every server keeps them.
  http::RequestParser parser(limits);
  http::OutputQueue out;
  for (auto _ : state) {
    std::span<const char> input(batch);
    int answered = 0;
    while (!input.empty()) {
      const http::ParseResult result = parser.parse(input);
      if (result.status != http::ParseStatus::Complete) {
        state.SkipWithError("the /hello batch did not parse");
        return;
      }
      input = input.subspan(result.consumed);
      const http::Plan plan = http::route(parser.request(), limits);
      http::serialize(plan.response, "iomodels-microbench", out);
      ++answered;
    }
    if (answered != batch_size) state.SkipWithError("wrong number of requests parsed");
    // The bytes would be written now; the queue is empty again.
    out.consume(out.pending());
  }
  state.counters["requests_per_iter"] = batch_size;
  state.counters["requests"] = benchmark::Counter(static_cast<double>(batch_size),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ProtocolHello)->ArgName("batch")->Arg(1)->Arg(16);

}  // namespace
}  // namespace iomodels::microbench
