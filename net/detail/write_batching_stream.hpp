#pragma once
// Internal to net/: the layer between Beast's websocket stream and the socket (plain TCP or
// TLS) that sends every frame written in one go with ONE write on the socket: one sendmsg, and
// over TLS one SSL_write, i.e. one record of up to 16 KiB. The bridge sends a Twilio `media` and
// its `mark` back to back; as two writes they cost two system calls, and on loopback the sender
// also pays for waking the receiver twice.
//
// How:
//  - async_write_some copies the frame into `pending` and completes at once (deferred on the
//    stream's executor, never inline), so the session hands Beast its next queued message in
//    the completion handler;
//  - after a completion handler has returned without writing again, the pending frames go out
//    with one async_write on the next layer: the session's whole queue, drained through the
//    write completions first, leaves in one write;
//  - frames written while that write is in flight wait for the next one: there is never more
//    than one write on the socket, whoever writes (Beast's pings, pongs and close frames too,
//    which it may write from its read side at any time);
//  - teardown (TCP shutdown, TLS close_notify) waits until everything pending has gone out.
// Reads pass straight through. A failed write is reported to the failure handler and fails
// every later write.
//
// The state lives in a shared_ptr that pending operations hold: a write to the socket can
// finish safely after the session that started it has gone.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace switchboard::net::detail {

/// Runs `work` on `executor` soon, never inline. A strand over an io_context (every stream of
/// ours) gets it the way a socket's completions travel: deferred on the io_context as a
/// continuation of this thread's work, then dispatched into the strand. Deferring on the strand
/// itself from inside it would re-post the strand to the io_context as new work, which wakes
/// another io thread (an epoll interrupt and a context switch) for every frame.
template <class Executor, class Work>
void defer_on(const Executor& executor, Work&& work) {
  using io_strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  if constexpr (std::is_same_v<Executor, boost::asio::any_io_executor>) {
    if (const auto* strand = executor.template target<io_strand>()) {
      boost::asio::defer(strand->get_inner_executor(),
                         [strand_executor = *strand, work = std::forward<Work>(work)]() mutable {
                           boost::asio::dispatch(strand_executor, std::move(work));
                         });
      return;
    }
  }
  boost::asio::defer(executor, std::forward<Work>(work));
}

template <class NextLayer>
class write_batching_stream {
 public:
  using next_layer_type = NextLayer;
  using executor_type = typename NextLayer::executor_type;
  using error_code = boost::beast::error_code;

  explicit write_batching_stream(NextLayer&& next_layer)
      : state_(std::make_shared<state>(std::move(next_layer))) {}

  executor_type get_executor() noexcept { return state_->next.get_executor(); }
  NextLayer& next_layer() noexcept { return state_->next; }
  const NextLayer& next_layer() const noexcept { return state_->next; }

  /// Bytes accepted and not yet written to the socket (waiting, or in the write in flight):
  /// they count towards a connection's queue limit like the messages not yet handed over.
  std::size_t buffered_bytes() const { return state_->pending.size() + state_->in_flight.size(); }
  /// Writes started on the next layer; tests read it to see what was coalesced.
  std::uint64_t writes_started() const { return state_->writes_started; }
  /// Called (on the stream's executor) when a write to the socket fails, unless it was
  /// cancelled: the frames in it were already reported as written.
  void on_write_failure(std::function<void(error_code)> handler) {
    state_->failure_handler = std::move(handler);
  }

  template <class MutableBufferSequence, class ReadHandler>
  auto async_read_some(const MutableBufferSequence& buffers, ReadHandler&& handler) {
    return state_->next.async_read_some(buffers, std::forward<ReadHandler>(handler));
  }

  template <class ConstBufferSequence, class WriteHandler>
  auto async_write_some(const ConstBufferSequence& buffers, WriteHandler&& handler) {
    return boost::asio::async_initiate<WriteHandler, void(error_code, std::size_t)>(
        [](auto completion, const std::shared_ptr<state>& self, const ConstBufferSequence& frames) {
          self->accept(frames, std::move(completion));
        },
        handler, state_, buffers);
  }

  template <class TeardownHandler>
  friend void async_teardown(boost::beast::role_type role, write_batching_stream& stream,
                             TeardownHandler&& handler) {
    stream.state_->teardown_when_drained(
        std::make_unique<teardown_after_drain<std::decay_t<TeardownHandler>>>(
            role, std::forward<TeardownHandler>(handler)));
  }

 private:
  // A batch above this goes out even while the writer is still handing over frames, and a
  // buffer grown above it is released after its write: a burst must not pin memory for the
  // life of the connection (a call's steady traffic is a few hundred bytes per 20 ms).
  static constexpr std::size_t batch_limit = 64 * 1024;

  /// Teardown waiting for the pending frames to go out, with its handler's type erased.
  struct drain_waiter {
    virtual ~drain_waiter() = default;
    virtual void resume(NextLayer& next, error_code ec) = 0;
  };

  template <class TeardownHandler>
  struct teardown_after_drain final : drain_waiter {
    teardown_after_drain(boost::beast::role_type teardown_role, TeardownHandler teardown_handler)
        : role(teardown_role), handler(std::move(teardown_handler)) {}

    void resume(NextLayer& next, error_code ec) override {
      if (ec) {
        boost::asio::dispatch(next.get_executor(),
                              boost::beast::bind_front_handler(std::move(handler), ec));
        return;
      }
      using boost::beast::websocket::async_teardown;
      async_teardown(role, next, std::move(handler));
    }

    boost::beast::role_type role;
    TeardownHandler handler;
  };

  struct state : std::enable_shared_from_this<state> {
    explicit state(NextLayer&& next_layer) : next(std::move(next_layer)) {}

    template <class ConstBufferSequence, class WriteHandler>
    void accept(const ConstBufferSequence& frames, WriteHandler&& handler) {
      if (failure) {
        defer_on(next.get_executor(),
                 boost::beast::bind_front_handler(std::move(handler), failure, std::size_t{0}));
        return;
      }
      std::size_t accepted = 0;
      for (const auto frame : boost::beast::buffers_range_ref(frames)) {
        pending.append(static_cast<const char*>(frame.data()), frame.size());
        accepted += frame.size();
      }
      ++completions_outstanding;
      defer_on(next.get_executor(),
               [self = this->shared_from_this(), handler = std::move(handler), accepted]() mutable {
                 --self->completions_outstanding;
                 // The session's handler runs here, on the strand, and may write its next message.
                 boost::asio::dispatch(
                     self->next.get_executor(),
                     boost::beast::bind_front_handler(std::move(handler), error_code{}, accepted));
                 self->flush_unless_more_coming();
               });
    }

    void flush_unless_more_coming() {
      if (flushing || pending.empty() || failure)
        return;
      if (completions_outstanding > 0 && pending.size() < batch_limit)
        return;  // the writer is still handing over frames: they join this batch
      start_flush();
    }

    /// The completion of a write to the socket. Destroyed without having been called (the
    /// io_context shut down with the write in flight), it lets go of a teardown waiting for that
    /// write: the waiter holds Beast's close operation, which holds the stream that holds this
    /// state, and nothing else would ever break that cycle (LeakSanitizer found it in a test
    /// that stopped its io threads mid-close). Move-only, so that exactly one of it can fire.
    class flush_completion {
     public:
      explicit flush_completion(std::shared_ptr<state> writer) : self_(std::move(writer)) {}
      flush_completion(flush_completion&&) noexcept = default;  // the source keeps nothing
      flush_completion& operator=(flush_completion&&) = delete;
      flush_completion(const flush_completion&) = delete;
      flush_completion& operator=(const flush_completion&) = delete;
      ~flush_completion() {
        if (self_)
          self_->teardown_waiter.reset();
      }
      void operator()(error_code ec, std::size_t) {
        const auto self = std::move(self_);
        self->on_flushed(ec);
      }

     private:
      std::shared_ptr<state> self_;
    };

    void start_flush() {
      in_flight.swap(pending);
      flushing = true;
      ++writes_started;
      boost::asio::async_write(next, boost::asio::buffer(in_flight),
                               flush_completion(this->shared_from_this()));
    }

    void on_flushed(error_code ec) {
      flushing = false;
      in_flight.clear();
      if (in_flight.capacity() > batch_limit)
        std::string().swap(in_flight);
      if (ec) {
        failure = ec;
        std::string().swap(pending);
        if (auto waiter = std::move(teardown_waiter))
          waiter->resume(next, ec);
        if (failure_handler && ec != boost::asio::error::operation_aborted)
          failure_handler(ec);
        return;
      }
      if (!pending.empty() && (completions_outstanding == 0 || teardown_waiter))
        return start_flush();
      if (pending.empty() && teardown_waiter) {
        auto waiter = std::move(teardown_waiter);
        waiter->resume(next, {});
      }
    }

    void teardown_when_drained(std::unique_ptr<drain_waiter> waiter) {
      if (!flushing && pending.empty())
        return waiter->resume(next, {});
      teardown_waiter = std::move(waiter);
      if (!flushing)
        start_flush();
    }

    NextLayer next;
    std::string pending;    // frames accepted since the last write to the socket started
    std::string in_flight;  // the frames of the write in flight
    bool flushing = false;
    std::size_t completions_outstanding = 0;  // accepted writes whose handler has not run yet
    error_code failure;                       // the first failed write; fails all later ones
    std::uint64_t writes_started = 0;
    std::function<void(error_code)> failure_handler;
    std::unique_ptr<drain_waiter> teardown_waiter;
  };

  std::shared_ptr<state> state_;
};

}  // namespace switchboard::net::detail
