#pragma once
// Internal to net/: one WebSocket connection over any Beast stream (plain TCP or TLS), server
// or client side. Included only by the TUs that instantiate it for one stream type
// (http_server.cpp, http_server_tls.cpp, websocket_client_*.cpp) so that each Beast
// instantiation is compiled once, in its own TU.
//
// Shape of Beast's websocket examples: one serial executor per connection (a strand, or the
// io_context of the shard that alone runs it: net/io_shards.hpp), do_*/on_* pairs, a write queue
// so that a single async_write is in flight. Under the websocket stream, write_batching_stream
// gathers the frames written in one go into one write to the socket (a `media` and its `mark`:
// one sendmsg, one TLS record).

#include "net/detail/write_batching_stream.hpp"
#include "net/websocket.hpp"

#include <boost/asio/defer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <deque>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace switchboard::net::detail {

template <class NextLayer>
class websocket_session final : public websocket_connection,
                                public std::enable_shared_from_this<websocket_session<NextLayer>> {
 public:
  using stream_type = boost::beast::websocket::stream<write_batching_stream<NextLayer>>;

  websocket_session(NextLayer&& next_layer, std::shared_ptr<websocket_handler> handler,
                    const websocket_limits& limits)
      : ws_(std::move(next_layer)), handler_(std::move(handler)), limits_(limits) {
    namespace websocket = boost::beast::websocket;
    // The websocket stream runs its own timers; the TCP layer's must be off (Beast docs).
    boost::beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::milliseconds(limits_.handshake_timeout_ms);
    timeouts.idle_timeout = std::chrono::milliseconds(limits_.idle_timeout_ms);
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.read_message_max(limits_.max_message_bytes);
    boost::beast::error_code ec;
    auto endpoint = boost::beast::get_lowest_layer(ws_).socket().remote_endpoint(ec);
    if (!ec)
      remote_ = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  }

  stream_type& stream() { return ws_; }

  /// Called by the accepting or connecting side once the handshake succeeded (on its executor).
  void opened() {
    // Frames are reported written once batched; the socket write that fails comes later.
    ws_.next_layer().on_write_failure([weak = std::weak_ptr<websocket_session>(
                                           this->shared_from_this())](boost::beast::error_code ec) {
      if (auto self = weak.lock())
        self->finish({false, 0, "write failed: " + ec.message()});
    });
    handler_->on_open(this->shared_from_this());
    do_read();
  }

  /// Any thread. Messages sent while a hand-over to its executor is pending join it: a `media`
  /// and its `mark`, sent back to back by one actor, cost one wake-up of the io thread.
  void send_text(std::string message) override {
    {
      std::lock_guard lock(outbox_mutex_);
      outbox_.push_back(std::move(message));
      if (outbox_posted_)
        return;
      outbox_posted_ = true;
    }
    // Deferred: sent from an io thread (an actor running there), the write starts on that
    // thread after the actor's turn instead of waking another io thread.
    boost::asio::defer(ws_.get_executor(),
                       [self = this->shared_from_this()] { self->take_outbox(); });
  }

  void close(close_code code, std::string reason) override {
    boost::asio::post(ws_.get_executor(),
                      [self = this->shared_from_this(), code, reason = std::move(reason)] {
                        self->close_requested_ = true;
                        self->close_reason_ = boost::beast::websocket::close_reason(
                            static_cast<boost::beast::websocket::close_code>(code), reason);
                        if (!self->writing_)
                          self->do_close();
                      });
  }

  void abort() override {
    boost::asio::post(ws_.get_executor(), [self = this->shared_from_this()] {
      boost::beast::error_code ignored;
      auto& socket = boost::beast::get_lowest_layer(self->ws_).socket();
      socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
    });
  }

  std::string remote_endpoint() const override { return remote_; }

  /// Reports an end that happened before the handshake completed (on its executor).
  void handshake_failed(const std::string& why) { finish({false, 0, why}); }

  /// Keeps `lease` (its shard's count of open connections, net/io_shards.hpp) as long as the
  /// connection lives.
  void hold(std::shared_ptr<void> lease) { lease_ = std::move(lease); }

 private:
  void take_outbox() {
    {
      std::lock_guard lock(outbox_mutex_);
      draining_.swap(outbox_);  // both keep their capacity: no allocation per hand-over
      outbox_posted_ = false;
    }
    for (auto& message : draining_)
      enqueue(std::move(message));
    draining_.clear();
  }

  void enqueue(std::string message) {
    if (finished_ || close_requested_)
      return;
    queued_bytes_ += message.size();
    // Batched frames not yet on the socket count too: behind a peer that stops reading they
    // are where the bytes pile up.
    if (queued_bytes_ + ws_.next_layer().buffered_bytes() > limits_.max_queued_bytes) {
      // The peer stopped reading; holding its audio forever would grow without bound.
      return close_dropping_unsent(boost::beast::websocket::close_code::policy_error,
                                   "peer is not reading");
    }
    queue_.push_back(std::move(message));
    if (!writing_)
      do_write();
  }

  void do_write() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(boost::asio::buffer(queue_.front()),
                    [self = this->shared_from_this()](boost::beast::error_code ec, std::size_t) {
                      self->on_write(ec);
                    });
  }

  void on_write(boost::beast::error_code ec) {
    writing_ = false;
    // The message Beast was writing is always still at the front (drop_unsent keeps it): only
    // now may it go.
    queued_bytes_ -= queue_.front().size();
    queue_.pop_front();
    if (finished_)
      return drop_unsent();
    if (ec)
      return finish({false, 0, "write failed: " + ec.message()});
    if (!queue_.empty())
      return do_write();
    if (close_requested_)
      do_close();
  }

  /// Closes with `code` now: what is queued and not yet with Beast is dropped.
  void close_dropping_unsent(boost::beast::websocket::close_code code, const char* reason) {
    close_requested_ = true;
    close_reason_ = boost::beast::websocket::close_reason(code, reason);
    drop_unsent();
    if (!writing_)
      do_close();
  }

  void do_close() {
    if (closing_ || finished_)
      return;
    closing_ = true;
    ws_.async_close(close_reason_, [self = this->shared_from_this()](boost::beast::error_code ec) {
      // The read loop sees the peer's close frame and calls finish(); a failed close ends here.
      if (ec)
        self->finish({false, 0, "close failed: " + ec.message()});
    });
  }

  void do_read() {
    ws_.async_read(read_buffer_,
                   [self = this->shared_from_this()](boost::beast::error_code ec, std::size_t) {
                     self->on_read(ec);
                   });
  }

  void on_read(boost::beast::error_code ec) {
    namespace websocket = boost::beast::websocket;
    if (ec == websocket::error::closed) {
      const auto& reason = ws_.reason();
      return finish({true, static_cast<std::uint16_t>(reason.code),
                     std::string(reason.reason.data(), reason.reason.size())});
    }
    if (ec == websocket::error::message_too_big) {
      // Beast fails the connection with 1009 itself.
      return finish({false, static_cast<std::uint16_t>(close_code::too_big),
                     "message over " + std::to_string(limits_.max_message_bytes) + " bytes"});
    }
    if (ec)
      return finish({closing_, 0, ec.message()});
    const bool is_text = ws_.got_text();
    std::string message = boost::beast::buffers_to_string(read_buffer_.data());
    read_buffer_.consume(read_buffer_.size());
    if (is_text && !websocket::detail::check_utf8(message.data(), message.size()))
      return fail_invalid_utf8();
    if (!finished_ && !failed_)
      handler_->on_message(std::move(message), is_text);
    do_read();
  }

  /// Beast 1.81 checks a text message's UTF-8 frame by frame, and misses an incomplete code
  /// point at the end of a message whose last fragment is empty (a text frame ending in
  /// "\xE2\x82", then an empty final continuation: found by fuzz_websocket_frames). So every
  /// text message is checked whole here too, and one that is not UTF-8 fails the connection as
  /// Beast would (RFC 6455 §8.1: 1007); it never reaches the handler.
  void fail_invalid_utf8() {
    failed_ = true;
    close_dropping_unsent(boost::beast::websocket::close_code::bad_payload,
                          "text message is not valid UTF-8");
    // Read on: the peer's answering close (or its end) finishes the session.
    do_read();
  }

  void finish(websocket_closed why) {
    if (finished_)
      return;
    finished_ = true;
    drop_unsent();
    handler_->on_close(std::move(why));
  }

  /// Forgets the messages not yet handed to Beast. The one being written stays at the front
  /// until its completion: Beast may still be reading it (a masked client frame is copied out
  /// in chunks), and the completion pops it. Clearing it under a write in flight was the
  /// double free of issue #7: a reset peer fails the socket write (finish) while the batching
  /// layer's completion for the same message is still queued (on_write then popped an empty
  /// deque).
  void drop_unsent() {
    if (writing_ && !queue_.empty()) {
      queue_.erase(std::next(queue_.begin()), queue_.end());
      queued_bytes_ = queue_.front().size();
      return;
    }
    queue_.clear();
    queued_bytes_ = 0;
  }

  stream_type ws_;
  std::shared_ptr<websocket_handler> handler_;
  websocket_limits limits_;
  boost::beast::flat_buffer read_buffer_;
  std::mutex outbox_mutex_;
  std::vector<std::string> outbox_;    // sent, not yet on its executor (guarded by outbox_mutex_)
  bool outbox_posted_ = false;         // a take_outbox() is posted (guarded by outbox_mutex_)
  std::vector<std::string> draining_;  // its executor only
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool close_requested_ = false;
  bool closing_ = false;
  bool finished_ = false;
  bool failed_ = false;  // failed by us (fail_invalid_utf8): nothing more reaches the handler
  boost::beast::websocket::close_reason close_reason_;
  std::string remote_;
  std::shared_ptr<void> lease_;
};

}  // namespace switchboard::net::detail
