#include "agent/proxy/shared_admission.h"

#include <memory>

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sluice {

namespace net = boost::asio;

net::awaitable<AdmissionResult> shared_admission(RequestGate& gate, const GateResult& pending) {
    auto executor = co_await net::this_coro::executor;
    co_return co_await net::async_initiate<decltype(net::use_awaitable), void(AdmissionResult)>(
        [&gate, &pending, executor](auto handler) {
            auto shared = std::make_shared<decltype(handler)>(std::move(handler));
            gate.admit_later(pending, [shared, executor](AdmissionResult admitted) {
                net::post(executor, [shared, admitted = std::move(admitted)]() mutable {
                    (*shared)(std::move(admitted));
                });
            });
        },
        net::use_awaitable);
}

net::awaitable<GateResult> decide_on_loop(RequestGate& gate, const PolicyIdentity& identity,
                                          const PolicyRequest& request, bool charge) {
    GateResult result = gate.decide(identity, request, charge);
    if (result.awaiting_accounting()) {
        const AdmissionResult admitted = co_await shared_admission(gate, result);
        gate.complete_decided(result, admitted);
    }
    co_return result;
}

}  // namespace sluice
