// One simulated call. States (all on the call's strand):
//
//   webhook ──200 TwiML──▶ connecting ──101──▶ streaming ──hang-up / script end──▶ hanging_up
//      │                       │  ▲                │                                  │
//      │                       │  └──<Connect>─────┤ bridge closes, <Connect action>:  │
//      │                       │   requesting_action ◀┘ (a new stream, same script)    │
//      │                       │          │ <Hangup/>, failure                        │
//      └──failure──────────────┴──────────┴────────┴──bridge closes, no action────────┴─▶ ended
//
// The result is delivered once, on entering `ended`.
//
// A call paced by a shared caller_media_clock runs on its single-threaded io_context without a
// strand: its stream events arrive inline and the clock calls media_tick() for each 20 ms frame.
// Each stream of a call has its own ticker (and, on a strand, its own generation of timer
// waits), so a stream that ended is never ticked again after a <Connect action> started the
// next one.
#include "sim/twilio_caller.hpp"

#include "net/base64.hpp"
#include "net/http_client.hpp"
#include "net/twilio_messages.hpp"
#include "net/twiml.hpp"
#include "net/websocket_client.hpp"
#include "sim/caller_playout.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <array>
#include <random>
#include <type_traits>
#include <utility>

namespace switchboard::sim {

namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

// Twilio's media frames are 20 ms of μ-law: 160 bytes (protocols.md §A2).
constexpr milliseconds frame_duration{20};
constexpr std::size_t frame_bytes = caller_playout::frame_bytes;
constexpr std::uint64_t bytes_per_ms = 8;  // μ-law at 8000 samples/s, one byte each

/// "AC", "CA" or "MZ" + 32 lower-case hex digits: the SID patterns of Twilio's OpenAPI.
std::string generate_sid(std::string_view prefix) {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string sid(prefix);
  for (int word = 0; word < 2; ++word) {
    auto bits = generator();
    for (int digit = 0; digit < 16; ++digit, bits >>= 4)
      sid.push_back(hex[bits & 0x0F]);
  }
  return sid;
}

std::uint64_t frames_for(milliseconds duration) {
  if (duration.count() <= 0)
    return 0;
  const auto ms = static_cast<std::uint64_t>(duration.count());
  const auto frame_ms = static_cast<std::uint64_t>(frame_duration.count());
  return (ms + frame_ms - 1) / frame_ms;
}

milliseconds to_ms(clock_type::duration duration) {
  return std::chrono::duration_cast<milliseconds>(duration);
}

/// Twilio resolves a relative <Stream url> against the webhook's host (as wss://, §A1).
std::string absolute_stream_url(const std::string& stream_url, const std::string& webhook_url) {
  if (stream_url.empty() || stream_url.front() != '/')
    return stream_url;
  auto webhook = net::parse_http_url(webhook_url);
  if (!webhook)
    return stream_url;
  const bool default_port = webhook->port == (webhook->secure ? "443" : "80");
  return "wss://" + webhook->host + (default_port ? "" : ":" + webhook->port) + stream_url;
}

/// Twilio resolves a relative <Connect action> against the URL of the TwiML document that named
/// it (the webhook's, or the previous action's), as a browser resolves a link (RFC 3986 §5).
std::string resolve_action_url(const std::string& action, const std::string& document_url) {
  const auto reference = boost::urls::parse_uri_reference(action);
  if (!reference || reference->has_scheme())
    return action;
  const auto base = boost::urls::parse_uri(document_url);
  if (!base)
    return action;
  boost::urls::url resolved;
  if (!boost::urls::resolve(*base, *reference, resolved))
    return action;
  return std::string(resolved.buffer());
}

template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};

/// What a caller_media_clock ticks.
class clocked_call {
 public:
  /// One 20 ms tick, on the io thread; false once the call no longer streams.
  virtual bool media_tick() = 0;

 protected:
  ~clocked_call() = default;
};

}  // namespace

// One timer for every call of a single-threaded io_context. Calls sit in buckets by their slot
// on a grid of `slot`; a call's ticks all fall on the same bucket, 20 ms apart, so the clock
// wakes only for slots that hold calls and visits each bucket once per 20 ms.
class caller_media_clock : public std::enable_shared_from_this<caller_media_clock> {
 public:
  caller_media_clock(asio::io_context& io, std::chrono::microseconds slot)
      : timer_(io),
        slot_(slot),
        buckets_(static_cast<std::size_t>(frame_duration / slot)),
        epoch_(clock_type::now()) {}

  /// Adds a call that starts streaming now; returns when its first tick falls (the next slot
  /// on the grid, never one already visited).
  clock_type::time_point join(std::weak_ptr<clocked_call> call) {
    const auto now = clock_type::now();
    std::uint64_t index = slot_index_at_or_after(now);
    if (visited_any_ && index <= last_visited_)
      index = last_visited_ + 1;
    buckets_[index % buckets_.size()].push_back(std::move(call));
    ++members_;
    // Slots between this one and the clock's next slot hold no call: starting there is safe.
    if (members_ == 1 || index < next_index_)
      next_index_ = index;
    arm();
    return slot_time(index);
  }

 private:
  std::uint64_t slot_index_at_or_after(clock_type::time_point at) const {
    const auto since = at - epoch_;
    if (since <= clock_type::duration::zero())
      return 0;
    return static_cast<std::uint64_t>((since + slot_ - clock_type::duration(1)) / slot_);
  }
  clock_type::time_point slot_time(std::uint64_t index) const {
    return epoch_ + static_cast<clock_type::rep>(index) * slot_;
  }

  void arm() {
    const auto at = slot_time(next_index_);
    if (armed_ && armed_at_ <= at)
      return;
    armed_ = true;
    armed_at_ = at;
    timer_.expires_at(at);  // cancels a later wait, whose handler then does nothing
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec)
        self->on_wake();
    });
  }

  void on_wake() {
    armed_ = false;
    const auto now = clock_type::now();
    // Every slot due is visited in order, so a late wake-up catches up frame by frame.
    while (members_ > 0 && slot_time(next_index_) <= now) {
      visit(buckets_[next_index_ % buckets_.size()]);
      last_visited_ = next_index_;
      visited_any_ = true;
      ++next_index_;
    }
    if (members_ == 0)
      return;
    while (buckets_[next_index_ % buckets_.size()].empty())
      ++next_index_;
    arm();
  }

  void visit(std::vector<std::weak_ptr<clocked_call>>& bucket) {
    for (std::size_t i = 0; i < bucket.size();) {
      auto call = bucket[i].lock();
      if (call && call->media_tick()) {
        ++i;
        continue;
      }
      bucket[i] = std::move(bucket.back());
      bucket.pop_back();
      --members_;
    }
  }

  asio::steady_timer timer_;
  const clock_type::duration slot_;
  std::vector<std::vector<std::weak_ptr<clocked_call>>> buckets_;  // by slot index mod size
  const clock_type::time_point epoch_;                             // slot 0
  std::size_t members_ = 0;
  std::uint64_t next_index_ = 0;  // the next slot to visit
  std::uint64_t last_visited_ = 0;
  bool visited_any_ = false;
  bool armed_ = false;
  clock_type::time_point armed_at_;
};

std::shared_ptr<caller_media_clock> make_caller_media_clock(boost::asio::io_context& io,
                                                            std::chrono::microseconds slot) {
  if (slot <= std::chrono::microseconds::zero() || frame_duration % slot != decltype(slot)::zero())
    slot = std::chrono::milliseconds(2);
  return std::make_shared<caller_media_clock>(io, slot);
}

namespace {

class call_session;

/// Receives the stream's events on the connection's strand and hands them to the call's
/// strand, where all the call's state lives (the timer's ticks run there too).
class stream_events final : public net::websocket_handler {
 public:
  explicit stream_events(std::shared_ptr<call_session> call) : call_(std::move(call)) {}
  void on_open(std::shared_ptr<net::websocket_connection> connection) override;
  void on_message(std::string message, bool is_text) override;
  void on_close(net::websocket_closed why) override;
  void on_connect_failed(net::websocket_connect_failure why) override;

 private:
  std::shared_ptr<call_session> call_;
};

/// What a shared caller_media_clock ticks for one stream of a call. The call drops it when the
/// stream ends, so the clock drops it too, even if the call streams again (a <Connect action>)
/// before the clock next visits it.
class stream_ticker final : public clocked_call {
 public:
  explicit stream_ticker(std::weak_ptr<call_session> call) : call_(std::move(call)) {}
  bool media_tick() override;

 private:
  std::weak_ptr<call_session> call_;
};

class call_session final : public twilio_caller, public std::enable_shared_from_this<call_session> {
 public:
  call_session(asio::io_context& io, twilio_caller_options options, completion done)
      : io_(io),
        // One io thread and a shared clock: nothing runs concurrently, no strand needed.
        executor_(options.media_clock ? asio::any_io_executor(io.get_executor())
                                      : asio::any_io_executor(asio::make_strand(io))),
        timer_(executor_),
        options_(std::move(options)),
        done_(std::move(done)),
        playout_(options_.keep_heard_audio) {
    if (options_.account_sid.empty())
      options_.account_sid = generate_sid("AC");
    if (options_.call_sid.empty())
      options_.call_sid = generate_sid("CA");
    stream_sid_ = options_.stream_sid.empty() ? generate_sid("MZ") : options_.stream_sid;
    result_.account_sid = options_.account_sid;
    result_.call_sid = options_.call_sid;
    result_.stream_sid = stream_sid_;
    media_.track = "inbound";
  }

  void begin() {
    asio::post(executor_, [self = shared_from_this()] {
      if (self->options_.twiml.empty()) {
        self->post_webhook();
      } else {
        self->accept_twiml(self->options_.twiml);
      }
    });
  }

  void hang_up() override {
    asio::post(executor_, [self = shared_from_this()] {
      self->hang_up_requested_ = true;
      if (self->phase_ == phase::webhook) {
        self->fail("hung up before the webhook answered");
      } else if (self->phase_ == phase::requesting_action) {
        self->finish();  // the action's answer no longer matters: the call is over
      } else if (self->phase_ == phase::streaming) {
        self->do_hangup();
      }
      // connecting: on_stream_open hangs up at once, or the connect fails.
    });
  }

  const asio::any_io_executor& executor() const { return executor_; }
  /// Stream events run inline on the connection's handlers (no strand to hop to).
  bool inline_events() const { return options_.media_clock != nullptr; }

  // ---- stream events (on the strand) ----------------------------------------------------

  void on_stream_open(const std::shared_ptr<net::websocket_connection>& connection) {
    if (phase_ != phase::connecting) {
      connection->close(net::close_code::normal, "call already ended");
      return;
    }
    phase_ = phase::streaming;
    dropping_ = false;
    connection_ = connection;
    result_.upgrade_status = 101;
    ++result_.streams;
    result_.stream_sids.push_back(stream_sid_);
    result_.server_closed_first = false;
    result_.close_code = 0;
    result_.close_reason.clear();
    // Each stream numbers its messages and media chunks from 1 and has its own clock.
    sequence_ = 0;
    media_chunk_ = 0;
    ticks_ = 0;
    ++stream_generation_;
    last_media_received_.reset();
    media_.stream_sid = stream_sid_;

    std::string frame;
    net::append_twilio_message(frame, net::twilio_connected{"Call", "1.0.0"});
    send(std::move(frame));

    net::twilio_start start;
    start.sequence_number = next_sequence();
    start.stream_sid = stream_sid_;
    start.account_sid = options_.account_sid;
    start.call_sid = options_.call_sid;
    start.tracks = {"inbound"};  // <Connect> streams carry the inbound track only (§A1)
    start.media_format = {"audio/x-mulaw", 8000, 1};
    for (const auto& parameter : result_.stream_parameters) {
      start.custom_parameters.push_back({parameter.name, parameter.value});
    }
    frame.clear();
    net::append_twilio_message(frame, start);
    send(std::move(frame));

    if (hang_up_requested_)
      return do_hangup();
    if (options_.media_clock) {
      ticker_ = std::make_shared<stream_ticker>(weak_from_this());
      stream_start_ = options_.media_clock->join(ticker_);
    } else {
      stream_start_ = clock_type::now();
      schedule_tick();
    }
  }

  void on_stream_message(const std::string& text, bool is_text) {
    if (phase_ != phase::streaming)
      return;  // after `stop` Twilio reads nothing more
    if (!is_text) {
      ++result_.invalid_frames_received;  // Twilio: warning 31950
      return;
    }
    auto message = net::parse_twilio_outbound(text);
    if (!message) {
      ++result_.invalid_frames_received;  // Twilio: warning 31951
      return;
    }
    std::visit(
        overloaded{
            [this](const net::twilio_outbound_media& media) {
              on_media(media.stream_sid, media.payload_base64);
            },
            [this](const net::twilio_outbound_mark& mark) { on_mark(mark.stream_sid, mark.name); },
            [this](const net::twilio_outbound_clear& clear) {
              if (!own_stream(clear.stream_sid))
                return;
              record_clear();
              playout_.clear(echoes_);
              echo_marks();
            },
        },
        *message);
  }

  void on_media(std::string_view stream_sid, std::string_view payload_base64) {
    if (!own_stream(stream_sid))
      return;
    decoded_.clear();
    if (!net::append_decoded_base64(payload_base64, decoded_)) {
      ++result_.invalid_frames_received;
      return;
    }
    last_media_received_ = clock_type::now();
    if (gap_since_) {
      // The first agent audio on a stream a <Connect action> started ends the silence.
      result_.actions.back().audible_gap = std::chrono::duration_cast<std::chrono::microseconds>(
          *last_media_received_ - *gap_since_);
      gap_since_.reset();
    }
    if (options_.on_media_received)
      options_.on_media_received(decoded_);
    playout_.append_audio(decoded_);
  }

  void on_mark(std::string_view stream_sid, std::string_view name) {
    if (!own_stream(stream_sid))
      return;
    playout_.add_mark(std::string(name), echoes_);
    echo_marks();
  }

  void on_stream_close(const net::websocket_closed& why) {
    if (phase_ == phase::ended)
      return;
    result_.close_code = why.code;
    result_.close_reason = why.reason;
    timer_.cancel();
    ticker_.reset();
    if (phase_ == phase::streaming) {
      // The bridge ended the stream (closed it, or its node died with the connection).
      result_.server_closed_first = true;
      // The agent audio still buffered dies with the stream.
      playout_.end_stream();
      if (!action_.empty()) {
        gap_since_ = last_media_received_.value_or(clock_type::now());
        return request_action();
      }
      if (!why.clean)
        fail_once("media stream connection lost: " + why.reason);
    }
    finish();
  }

  void on_stream_connect_failed(const net::websocket_connect_failure& why) {
    result_.upgrade_status = why.http_status;
    if (why.http_status != 0) {
      fail("media stream upgrade refused: HTTP " + std::to_string(why.http_status) + " (" +
           why.reason + ")");
    } else {
      fail("media stream connect failed: " + why.reason);
    }
  }

 private:
  enum class phase { webhook, connecting, streaming, hanging_up, requesting_action, ended };

  // ---- webhook and TwiML ----------------------------------------------------------------

  /// http_connect_by_host: the request goes to the mapped host:port over plain http, still
  /// naming (and signed over) the URL's own host, as an ingress in front of the nodes sees it.
  void route_by_host(net::http_client_request& request) const {
    if (options_.http_connect_by_host.empty())
      return;
    const auto url = boost::urls::parse_uri(request.url);
    if (!url)
      return;
    const auto routed = options_.http_connect_by_host.find(std::string(url->host()));
    if (routed == options_.http_connect_by_host.end())
      return;
    request.headers.emplace_back("Host", std::string(url->encoded_host_and_port()));
    request.url = "http://" + routed->second + std::string(url->encoded_target());
  }

  void post_webhook() {
    if (phase_ != phase::webhook)
      return;
    if (options_.webhook_url.empty())
      return fail("options: webhook_url is empty");
    const auto parameters = voice_request_parameters("ringing");
    auto request =
        signed_twilio_request("POST", options_.webhook_url, parameters, options_.auth_token);
    request.timeout = options_.webhook_timeout;
    request.tls = options_.tls;
    route_by_host(request);
    net::http_request_async(
        io_, std::move(request), [self = shared_from_this()](net::http_client_result answer) {
          asio::post(self->executor_, [self, answer = std::move(answer)]() mutable {
            self->on_webhook_answer(std::move(answer));
          });
        });
  }

  /// The voice request parameters Twilio sends with the webhook and a <Connect action>
  /// (protocols.md §A7).
  std::vector<net::form_parameter> voice_request_parameters(std::string_view call_status) const {
    std::vector<net::form_parameter> parameters = {
        {"AccountSid", options_.account_sid},
        {"ApiVersion", "2010-04-01"},
        {"CallSid", options_.call_sid},
        {"CallStatus", std::string(call_status)},
        {"Called", options_.to},
        {"Caller", options_.from},
        {"Direction", options_.direction},
        {"From", options_.from},
        {"To", options_.to},
    };
    parameters.insert(parameters.end(), options_.extra_webhook_parameters.begin(),
                      options_.extra_webhook_parameters.end());
    return parameters;
  }

  void on_webhook_answer(net::http_client_result answer) {
    if (phase_ != phase::webhook)
      return;  // hung up meanwhile
    if (!answer)
      return fail("webhook " + options_.webhook_url + ": " + answer.error());
    result_.webhook_status = answer->status;
    if (answer->status != 200) {
      return fail("webhook " + options_.webhook_url + " answered HTTP " +
                  std::to_string(answer->status) + ": " + answer->body.substr(0, 200));
    }
    accept_twiml(answer->body);
  }

  /// The webhook's answer, or the TwiML given with the options.
  void accept_twiml(std::string_view body) {
    if (phase_ != phase::webhook)
      return;  // hung up meanwhile
    auto twiml = net::parse_connect_stream_twiml(body);
    if (!twiml) {
      if (auto said = net::parse_say_and_hang_up_twiml(body)) {
        // Twilio says the text and hangs up: the call ends here, as the bridge meant it to.
        result_.declined = true;
        result_.declined_message = std::move(*said);
        return finish();
      }
    }
    if (!twiml)
      return fail((options_.twiml.empty() ? "webhook TwiML: " : "TwiML: ") + twiml.error());
    result_.twiml_ok = true;
    connect_stream(std::move(*twiml));
  }

  // ---- <Connect action> -----------------------------------------------------------------

  /// The bridge closed the stream (the caller did not hang up) and the <Connect> named an
  /// action: Twilio asks it what to play next.
  void request_action() {
    if (result_.actions.size() >= options_.max_connect_actions) {
      result_.action_error = "max_connect_actions (" +
                             std::to_string(options_.max_connect_actions) +
                             ") reached: the stand-in ends the call";
      return finish();
    }
    phase_ = phase::requesting_action;
    connect_action_request action;
    action.url = resolve_action_url(action_, twiml_url_);
    action.method = action_method_ == "GET" ? "GET" : "POST";
    auto request = signed_twilio_request(
        action.method, action.url, voice_request_parameters("in-progress"), options_.auth_token);
    request.timeout = options_.webhook_timeout;
    request.tls = options_.tls;
    route_by_host(request);
    result_.actions.push_back(std::move(action));
    net::http_request_async(
        io_, std::move(request), [self = shared_from_this()](net::http_client_result answer) {
          asio::post(self->executor_, [self, answer = std::move(answer)]() mutable {
            self->on_action_answer(std::move(answer));
          });
        });
  }

  void on_action_answer(net::http_client_result answer) {
    if (phase_ != phase::requesting_action)
      return;  // hung up meanwhile
    auto& action = result_.actions.back();
    if (!answer)
      return action_failed(answer.error());
    action.status = answer->status;
    if (answer->status != 200) {
      return action_failed("answered HTTP " + std::to_string(answer->status) + ": " +
                           answer->body.substr(0, 200));
    }
    // A relative URL in this TwiML (the next action's, the stream's) is relative to the action.
    twiml_url_ = action.url;
    auto twiml = net::parse_connect_stream_twiml(answer->body);
    if (twiml) {
      action.outcome = connect_action_outcome::connect;
      // The same call on a new stream: Twilio gives every stream its own StreamSid.
      stream_sid_ = generate_sid("MZ");
      result_.stream_sid = stream_sid_;
      return connect_stream(std::move(*twiml));
    }
    if (net::parse_say_and_hang_up_twiml(answer->body)) {
      action.outcome = connect_action_outcome::hangup;
      return finish();
    }
    action_failed("TwiML: " + twiml.error());
  }

  /// Twilio says "an application error has occurred" and hangs up: the call ends, and as far as
  /// the bridge can tell it ended normally.
  void action_failed(std::string why) {
    auto& action = result_.actions.back();
    action.outcome = connect_action_outcome::error;
    action.error = why;
    result_.action_error = "<Connect action> " + action.url + ": " + std::move(why);
    finish();
  }

  // ---- the stream -----------------------------------------------------------------------

  void connect_stream(net::connect_stream twiml) {
    result_.stream_url = absolute_stream_url(twiml.url, twiml_url_);
    result_.stream_parameters = std::move(twiml.parameters);
    result_.upgrade_status = 0;
    action_ = std::move(twiml.action);
    action_method_ = std::move(twiml.action_method);
    phase_ = phase::connecting;
    net::websocket_client_options connect;
    connect.tls = options_.tls;
    // Signed over the URL exactly as written in <Stream url>, with no parameters (§A5.3).
    connect.headers = {{"X-Twilio-Signature", net::compute_twilio_signature(
                                                  options_.auth_token, result_.stream_url, {})}};
    auto written = net::parse_websocket_url(result_.stream_url);
    std::string address = options_.stream_connect_address;
    if (written) {
      const auto routed = options_.stream_connect_by_host.find(written->host);
      if (routed != options_.stream_connect_by_host.end())
        address = routed->second;
    }
    if (address.empty()) {
      connect.url = result_.stream_url;
    } else {
      if (!written)
        return fail("<Stream url>: " + written.error());
      // The ingress passes the public host through; so does the stand-in.
      const bool default_port = written->port == (written->secure ? "443" : "80");
      const std::string host =
          written->host.find(':') == std::string::npos ? written->host : "[" + written->host + "]";
      connect.headers.emplace_back("Host", default_port ? host : host + ":" + written->port);
      connect.url = "ws://" + address + written->target;
    }
    net::connect_websocket(io_, std::move(connect),
                           std::make_shared<stream_events>(shared_from_this()));
  }

  // ---- the media clock ------------------------------------------------------------------

  void schedule_tick() {
    // Absolute deadlines: a late tick does not push the following ones back.
    timer_.expires_at(stream_start_ + ticks_ * frame_duration);
    timer_.async_wait(
        [self = shared_from_this(), generation = stream_generation_](boost::system::error_code ec) {
          if (!ec && generation == self->stream_generation_)
            self->on_tick();
        });
  }

  void on_tick() {
    if (media_tick())
      schedule_tick();
  }

 public:
  /// One 20 ms tick of the current stream; false once it no longer streams.
  bool media_tick() {
    if (phase_ != phase::streaming)
      return false;
    const std::size_t played = playout_.tick(echoes_);
    echo_marks();
    heard_in_step_ += played;
    quiet_ticks_in_step_ = played == 0 ? quiet_ticks_in_step_ + 1 : 0;
    ++ticks_in_step_;
    run_script();
    ++ticks_;
    return phase_ == phase::streaming;
  }

 private:
  /// Runs steps until one sends this tick's media frame (or the call hangs up).
  void run_script() {
    while (phase_ == phase::streaming && !dropping_) {
      if (step_index_ >= options_.script.size()) {
        result_.script_completed = true;
        return do_hangup();
      }
      if (!step_begun_)
        begin_step();
      if (run_step(options_.script[step_index_]))
        return;
    }
  }

  void begin_step() {
    step_begun_ = true;
    speak_offset_ = 0;
    silence_frames_left_ = 0;
    heard_in_step_ = 0;
    quiet_ticks_in_step_ = 0;
    ticks_in_step_ = 0;
    std::visit(
        overloaded{
            [this](const speak_step&) {
              last_speak_step_ = static_cast<int>(step_index_);
              last_speak_start_ = stream_start_ + ticks_ * frame_duration;
            },
            [this](const silence_step& step) { silence_frames_left_ = frames_for(step.duration); },
            [](const auto&) {},
        },
        options_.script[step_index_]);
  }

  void next_step() {
    ++step_index_;
    step_begun_ = false;
    hold_announced_ = false;
  }

  /// True when the step used this tick (sent its media frame, or ended the call).
  bool run_step(const caller_step& step) {
    return std::visit(
        overloaded{
            [this](const speak_step& speak) {
              if (speak_offset_ >= speak.audio.size()) {
                next_step();
                return false;
              }
              const auto frame = speak.audio.subspan(
                  speak_offset_, std::min(frame_bytes, speak.audio.size() - speak_offset_));
              send_media(frame);
              speak_offset_ += frame_bytes;
              if (speak_offset_ >= speak.audio.size())
                next_step();
              return true;
            },
            [this](const silence_step&) {
              if (silence_frames_left_ == 0) {
                next_step();
                return false;
              }
              send_media({});
              if (--silence_frames_left_ == 0)
                next_step();
              return true;
            },
            [this](const wait_for_agent_audio_step& wait) {
              const auto wanted =
                  static_cast<std::uint64_t>(std::max<std::int64_t>(wait.min_heard.count(), 0)) *
                  bytes_per_ms;
              if (heard_in_step_ >= wanted) {
                next_step();
                return false;
              }
              if (step_timed_out(wait.timeout)) {
                fail_once("wait_for_agent_audio (step " + std::to_string(step_index_) +
                          "): heard " + std::to_string(heard_in_step_ / bytes_per_ms) +
                          " ms of agent audio, wanted " + std::to_string(wait.min_heard.count()) +
                          " ms within " + std::to_string(wait.timeout.count()) + " ms");
                do_hangup();
                return true;
              }
              send_media({});
              return true;
            },
            [this](const wait_for_agent_silence_step& wait) {
              if (quiet_ticks_in_step_ >= frames_for(wait.quiet)) {
                next_step();
                return false;
              }
              if (step_timed_out(wait.timeout)) {
                fail_once("wait_for_agent_silence (step " + std::to_string(step_index_) +
                          "): the agent did not stay quiet for " +
                          std::to_string(wait.quiet.count()) + " ms within " +
                          std::to_string(wait.timeout.count()) + " ms");
                do_hangup();
                return true;
              }
              send_media({});
              return true;
            },
            [this](const hold_step& hold) {
              // Released only once announced: whoever waits for the announcement can rely on
              // the held call having streamed at least one frame of silence by then.
              if (hold_announced_ &&
                  hold.released.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
                next_step();
                return false;
              }
              if (step_timed_out(hold.timeout)) {
                fail_once("hold (step " + std::to_string(step_index_) + "): not released within " +
                          std::to_string(hold.timeout.count()) + " ms");
                do_hangup();
                return true;
              }
              send_media({});
              if (!hold_announced_) {
                hold_announced_ = true;
                if (hold.on_hold)
                  hold.on_hold();
              }
              return true;
            },
            [this](const dtmf_step& press) {
              net::twilio_dtmf message;
              message.sequence_number = next_sequence();
              message.stream_sid = stream_sid_;
              message.track = "inbound_track";  // always, on bidirectional streams (§A2)
              message.digit = std::string(1, press.digit);
              std::string frame;
              net::append_twilio_message(frame, message);
              send(std::move(frame));
              next_step();
              return false;
            },
            [this](const send_raw_step& raw) {
              send(raw.text);
              next_step();
              return false;
            },
            [this](const hangup_step&) {
              result_.script_completed = true;
              do_hangup();
              return true;
            },
            [this](const drop_connection_step&) {
              next_step();
              // The stream's close (unclean) follows on the connection's handler; until then
              // nothing more is sent on this stream.
              dropping_ = true;
              if (auto connection = connection_.lock())
                connection->abort();
              return true;
            },
        },
        step);
  }

  bool step_timed_out(milliseconds timeout) const { return ticks_in_step_ >= frames_for(timeout); }

  /// One inbound media frame; an empty or short `audio` is completed with μ-law silence, as a
  /// phone sends continuous 20 ms frames whether anyone speaks or not.
  void send_media(std::span<const std::uint8_t> audio) {
    ++media_chunk_;
    media_.sequence_number = next_sequence();
    media_.chunk = media_chunk_;
    // Presentation time since the stream started, in ms (§A2); chunk 1 is at 0.
    media_.timestamp_ms = (media_chunk_ - 1) * static_cast<std::uint64_t>(frame_duration.count());
    media_.payload_base64.clear();
    std::span<const std::uint8_t> payload = audio;
    if (audio.size() != frame_bytes) {
      std::copy(audio.begin(), audio.end(), frame_.begin());
      std::fill(frame_.begin() + static_cast<std::ptrdiff_t>(audio.size()), frame_.end(),
                caller_playout::mulaw_silence);
      payload = frame_;
    }
    net::append_base64(media_.payload_base64, payload);
    std::string frame;
    frame.reserve(media_frame_capacity);
    net::append_twilio_message(frame, media_message_);
    ++result_.media_frames_sent;
    if (options_.on_media_sent)
      options_.on_media_sent(payload);
    send(std::move(frame));
  }

  void echo_marks() {
    for (auto& name : echoes_) {
      net::twilio_mark mark;
      mark.sequence_number = next_sequence();
      mark.stream_sid = stream_sid_;
      mark.name = name;
      std::string frame;
      net::append_twilio_message(frame, mark);
      send(std::move(frame));
      result_.echoed_marks.push_back(std::move(name));
    }
    echoes_.clear();
  }

  void record_clear() {
    const auto now = clock_type::now();
    caller_clear_event event;
    event.since_stream_start = to_ms(now - stream_start_);
    event.speak_step = last_speak_step_;
    if (last_speak_step_ >= 0)
      event.since_speak_start = to_ms(now - last_speak_start_);
    event.bytes_dropped = playout_.buffered_bytes();
    result_.clears.push_back(event);
  }

  /// Twilio drops (and warns 31951 about) a message for another stream.
  bool own_stream(std::string_view stream_sid) {
    if (stream_sid == stream_sid_)
      return true;
    ++result_.invalid_frames_received;
    return false;
  }

  void do_hangup() {
    if (phase_ != phase::streaming)
      return;
    net::twilio_stop stop;
    stop.sequence_number = next_sequence();
    stop.stream_sid = stream_sid_;
    stop.account_sid = options_.account_sid;
    stop.call_sid = options_.call_sid;
    std::string frame;
    net::append_twilio_message(frame, stop);
    send(std::move(frame));
    phase_ = phase::hanging_up;
    timer_.cancel();
    if (auto connection = connection_.lock()) {
      connection->close(net::close_code::normal, "call ended");
    }
    // The result follows on_stream_close, once the closing handshake is done.
  }

  std::uint64_t next_sequence() {
    result_.last_sequence_number = ++sequence_;
    return sequence_;
  }

  void send(std::string frame) {
    if (auto connection = connection_.lock()) {
      connection->send_text(std::move(frame));
      ++result_.frames_sent;
    }
  }

  void fail_once(std::string why) {
    if (result_.error.empty())
      result_.error = std::move(why);
  }

  /// Ends a call whose stream never opened.
  void fail(std::string why) {
    fail_once(std::move(why));
    finish();
  }

  void finish() {
    if (phase_ == phase::ended)
      return;
    phase_ = phase::ended;
    result_.agent_bytes_received = playout_.bytes_received();
    result_.agent_bytes_played = playout_.bytes_played();
    result_.marks_received = playout_.marks_received();
    result_.marks_echoed = playout_.marks_echoed();
    result_.clears_received = playout_.clears();
    result_.heard_audio = playout_.take_heard();
    auto done = std::move(done_);
    done_ = nullptr;
    if (done)
      done(std::move(result_));
  }

  // A media message with a 216-character payload and the usual counters is about 330 bytes.
  static constexpr std::size_t media_frame_capacity = 512;

  asio::io_context& io_;
  asio::any_io_executor executor_;  // the call's strand, or the io_context's with a media clock
  asio::steady_timer timer_;
  twilio_caller_options options_;
  completion done_;
  caller_playout playout_;
  twilio_call_result result_;
  std::weak_ptr<net::websocket_connection> connection_;
  phase phase_ = phase::webhook;
  bool hang_up_requested_ = false;
  bool dropping_ = false;  // drop_connection: this stream's close is on its way

  // The TwiML being played: the URL it came from (relative URLs in it resolve against it) and
  // its <Connect action>.
  std::string twiml_url_ = options_.webhook_url;
  std::string action_;
  std::string action_method_;

  // The current stream. A <Connect action> that continues the call starts a new one.
  std::string stream_sid_;
  std::uint64_t stream_generation_ = 0;   // timer waits of an earlier stream do nothing
  std::shared_ptr<clocked_call> ticker_;  // what a shared media clock ticks for this stream
  std::optional<clock_type::time_point> last_media_received_;
  /// Set when a stream ended into a <Connect action>: the next agent audio ends the gap.
  std::optional<clock_type::time_point> gap_since_;

  std::uint64_t sequence_ = 0;
  std::uint64_t media_chunk_ = 0;
  clock_type::time_point stream_start_;
  std::uint64_t ticks_ = 0;

  std::size_t step_index_ = 0;
  bool step_begun_ = false;
  bool hold_announced_ = false;  // the current hold step has called on_hold
  std::size_t speak_offset_ = 0;
  std::uint64_t silence_frames_left_ = 0;
  std::uint64_t heard_in_step_ = 0;
  std::uint64_t quiet_ticks_in_step_ = 0;
  std::uint64_t ticks_in_step_ = 0;
  int last_speak_step_ = -1;
  clock_type::time_point last_speak_start_;

  // Reused on every frame: the decoded bridge audio, marks to echo, the outgoing media
  // message and the padded frame.
  std::vector<std::uint8_t> decoded_;
  std::vector<std::string> echoes_;
  net::twilio_inbound media_message_{net::twilio_media{}};
  net::twilio_media& media_ = std::get<net::twilio_media>(media_message_);
  std::array<std::uint8_t, frame_bytes> frame_{};
};

bool stream_ticker::media_tick() {
  auto call = call_.lock();
  return call && call->media_tick();
}

void stream_events::on_open(std::shared_ptr<net::websocket_connection> connection) {
  if (call_->inline_events())
    return call_->on_stream_open(connection);
  asio::post(call_->executor(), [call = call_, connection = std::move(connection)] {
    call->on_stream_open(connection);
  });
}

void stream_events::on_message(std::string message, bool is_text) {
  if (call_->inline_events())
    return call_->on_stream_message(message, is_text);
  asio::post(call_->executor(), [call = call_, message = std::move(message), is_text] {
    call->on_stream_message(message, is_text);
  });
}

void stream_events::on_close(net::websocket_closed why) {
  if (call_->inline_events())
    return call_->on_stream_close(why);
  asio::post(call_->executor(),
             [call = call_, why = std::move(why)] { call->on_stream_close(why); });
}

void stream_events::on_connect_failed(net::websocket_connect_failure why) {
  if (call_->inline_events())
    return call_->on_stream_connect_failed(why);
  asio::post(call_->executor(),
             [call = call_, why = std::move(why)] { call->on_stream_connect_failed(why); });
}

}  // namespace

std::string_view to_string(connect_action_outcome outcome) {
  switch (outcome) {
    case connect_action_outcome::connect:
      return "connect";
    case connect_action_outcome::hangup:
      return "hangup";
    case connect_action_outcome::error:
      return "error";
    case connect_action_outcome::abandoned:
      return "abandoned";
  }
  return "unknown";
}

net::http_client_request signed_twilio_request(std::string_view method, const std::string& url,
                                               std::span<const net::form_parameter> params,
                                               std::string_view auth_token) {
  net::http_client_request request;
  request.method = std::string(method);
  if (method == "GET") {
    request.url =
        url + (url.find('?') == std::string::npos ? "?" : "&") + net::encode_form_body(params);
    request.headers.emplace_back("X-Twilio-Signature",
                                 net::compute_twilio_signature(auth_token, request.url, {}));
  } else {
    request.url = url;
    request.body = net::encode_form_body(params);
    request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    request.headers.emplace_back("X-Twilio-Signature",
                                 net::compute_twilio_signature(auth_token, url, params));
  }
  request.headers.emplace_back("User-Agent", "TwilioProxy/1.1");
  return request;
}

std::shared_ptr<twilio_caller> twilio_caller::start(boost::asio::io_context& io,
                                                    twilio_caller_options options,
                                                    completion done) {
  auto call = std::make_shared<call_session>(io, std::move(options), std::move(done));
  call->begin();
  return call;
}

std::future<twilio_call_result> twilio_caller::run(boost::asio::io_context& io,
                                                   twilio_caller_options options) {
  auto promise = std::make_shared<std::promise<twilio_call_result>>();
  auto result = promise->get_future();
  start(io, std::move(options),
        [promise](twilio_call_result outcome) { promise->set_value(std::move(outcome)); });
  return result;
}

}  // namespace switchboard::sim
