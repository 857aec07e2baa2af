#include "app/loop_lag_monitor.hpp"

#include <algorithm>

namespace switchboard::app {

loop_lag_monitor::loop_lag_monitor(boost::asio::io_context& io, std::chrono::milliseconds period,
                                   sample_handler on_sample)
    : timer_(io), period_(period), on_sample_(std::move(on_sample)) {}

void loop_lag_monitor::start() {
  stopped_ = false;
  arm();
}

void loop_lag_monitor::stop() {
  stopped_ = true;
  timer_.cancel();
}

void loop_lag_monitor::arm() {
  // From the previous deadline, not from now: a late tick does not push the next one back.
  const auto now = std::chrono::steady_clock::now();
  const auto next = timer_.expiry() + period_;
  timer_.expires_at(next > now ? next : now + period_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_)
      return;
    const auto lag = std::chrono::steady_clock::now() - timer_.expiry();
    on_sample_(std::max(std::chrono::duration_cast<std::chrono::microseconds>(lag),
                        std::chrono::microseconds::zero()));
    arm();
  });
}

void shard_lags::record(std::size_t shard, std::chrono::microseconds lag) {
  auto& kept = worst_since_taken_.at(shard);
  auto worst = kept.load(std::memory_order_relaxed);
  while (worst < lag.count() &&
         !kept.compare_exchange_weak(worst, lag.count(), std::memory_order_relaxed)) {
  }
}

std::chrono::microseconds shard_lags::take_worst() {
  std::int64_t worst = 0;
  for (auto& kept : worst_since_taken_)
    worst = std::max(worst, kept.exchange(0, std::memory_order_relaxed));
  return std::chrono::microseconds(worst);
}

}  // namespace switchboard::app
