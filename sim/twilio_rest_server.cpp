// The REST stand-in's engine. One mutex guards everything (requests, calls, waiters): the
// stand-in serves a handful of calls, and one lock keeps every step of a call's life in order
// without a strand per call. Nothing blocks under it: timers, streams and callback requests
// are started under the lock and report back through the io_context.
//
// A call's `step` counter is bumped whenever what the call waits for changes (a timer, a TwiML
// fetch); a timer or fetch that reports back with an older step is stale and ignored.
#include "sim/twilio_rest_server.hpp"

#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "net/twilio_signature.hpp"
#include "net/twiml.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <utility>
#include <variant>

namespace switchboard::sim {

namespace {

namespace asio = boost::asio;
using sys_clock = std::chrono::system_clock;

template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};

/// What a call is busy with while in progress.
enum class activity { none, fetching_twiml, streaming, transferred };

struct live_call {
  explicit live_call(asio::io_context& io) : timer(io) {}

  outbound_call record;
  callee_behaviour callee;
  asio::steady_timer timer;
  std::uint64_t step = 0;
  activity doing = activity::none;
  std::shared_ptr<twilio_caller> stream;
  /// A redirect that waits for the playing stream to close.
  std::optional<update_call_request> redirect;
  /// When the last stream closed: the next one's first frame measures the gap.
  std::optional<std::chrono::steady_clock::time_point> last_stream_end;
  /// Status callbacks not yet answered; the front one is in flight when callback_in_flight.
  std::deque<sent_status_callback> outbox;
  bool callback_in_flight = false;
  std::uint64_t next_sequence_number = 0;  // SequenceNumber starts at 0 (§A7)
};

struct call_waiter {
  std::string sid;
  std::optional<call_status> status;  // nothing: wait for the call to finish
  std::promise<outbound_call> promise;
};

struct created_waiter {
  std::size_t index = 0;
  std::promise<outbound_call> promise;
};

/// The bit of StatusCallbackEvent that asks for a callback with this CallStatus.
std::uint8_t event_for(std::string_view callback_status) {
  if (callback_status == "initiated")
    return event_initiated;
  if (callback_status == "ringing")
    return event_ringing;
  if (callback_status == "in-progress")
    return event_answered;
  return event_completed;
}

/// Twilio's signed voice request; the signature is also recorded (sent_status_callback).
net::http_client_request signed_request(const std::string& method, const std::string& url,
                                        std::span<const net::form_parameter> params,
                                        const std::string& auth_token, std::string& signature_out) {
  auto request = signed_twilio_request(method, url, params, auth_token);
  for (const auto& [name, value] : request.headers) {
    if (name == "X-Twilio-Signature")
      signature_out = value;
  }
  return request;
}

net::http_response error_response(const twilio_rest_error& error) {
  auto response = net::http_response::json(error.status, error.to_json());
  if (error.status == 401)
    response.headers.emplace_back("WWW-Authenticate", R"(Basic realm="Twilio API")");
  return response;
}

}  // namespace

struct twilio_rest_server::state : std::enable_shared_from_this<twilio_rest_server::state> {
  state(asio::io_context& context, twilio_rest_server_options settings)
      : io(context),
        options(std::move(settings)),
        faults(options.create_faults.begin(), options.create_faults.end()) {}

  asio::io_context& io;
  twilio_rest_server_options options;

  mutable std::mutex mutex;
  std::deque<twilio_rest_error> faults;
  std::vector<received_rest_request> requests;
  std::vector<sent_status_callback> callbacks;
  std::vector<std::shared_ptr<live_call>> calls;
  std::map<std::string, std::shared_ptr<live_call>, std::less<>> by_sid;
  std::vector<call_waiter> waiters;
  std::vector<created_waiter> created_waiters;
  bool stopped = false;

  using call_ptr = std::shared_ptr<live_call>;

  // ---- HTTP ---------------------------------------------------------------------------------

  net::http_response on_request(const net::http_request& request) {
    std::lock_guard lock(mutex);
    received_rest_request seen;
    seen.method = request.method;
    seen.target = request.target;
    if (request.method == "GET") {
      const auto query = request.target.find('?');
      if (query != std::string::npos)
        seen.params = net::parse_form_body(std::string_view(request.target).substr(query + 1));
    } else {
      seen.params = net::parse_form_body(request.body);
    }
    auto response = serve(request, seen);
    seen.status = response.status;
    seen.body = response.body;
    requests.push_back(std::move(seen));
    return response;
  }

  net::http_response serve(const net::http_request& request, received_rest_request& seen) {
    const std::string path(request.path());
    const auto resource = parse_rest_path(path);
    const bool create =
        std::holds_alternative<calls_resource>(resource) && request.method == "POST";
    if (create && !faults.empty()) {
      auto fault = std::move(faults.front());
      faults.pop_front();
      return error_response(fault);
    }

    const auto credentials = parse_basic_authorization(request.header("authorization"));
    seen.authenticated =
        credentials && ((credentials->user == options.account_sid &&
                         credentials->password == options.auth_token) ||
                        (!options.api_key_sid.empty() && credentials->user == options.api_key_sid &&
                         credentials->password == options.api_key_secret));
    if (!seen.authenticated)
      return error_response(twilio_rest_error::authenticate());

    return std::visit(overloaded{
                          [&](const calls_resource& calls_path) {
                            if (calls_path.account_sid != options.account_sid)
                              return error_response(twilio_rest_error::not_found(path));
                            if (request.method == "POST")
                              return create_call(seen.params);
                            if (request.method == "GET")
                              return list_calls();
                            return method_not_allowed();
                          },
                          [&](const call_resource& call_path) {
                            if (call_path.account_sid != options.account_sid)
                              return error_response(twilio_rest_error::not_found(path));
                            const auto found = by_sid.find(call_path.call_sid);
                            if (found == by_sid.end())
                              return error_response(twilio_rest_error::not_found(path));
                            if (request.method == "POST")
                              return update_call(found->second, seen.params);
                            if (request.method == "GET")
                              return net::http_response::json(200,
                                                              call_json(found->second->record));
                            return method_not_allowed();
                          },
                          [&](const unknown_resource&) {
                            return error_response(twilio_rest_error::not_found(path));
                          },
                      },
                      resource);
  }

  static net::http_response method_not_allowed() {
    return error_response({405, 20004, "Method not allowed"});
  }

  net::http_response list_calls() const {
    std::string body = R"({"calls":[)";
    // Newest first, as Twilio lists them.
    for (auto it = calls.rbegin(); it != calls.rend(); ++it) {
      if (it != calls.rbegin())
        body += ',';
      body += call_json((*it)->record);
    }
    body += R"(],"page":0,"page_size":50,"start":0,"end":)" +
            std::to_string(calls.empty() ? 0 : calls.size() - 1) + "}";
    return net::http_response::json(200, std::move(body));
  }

  net::http_response create_call(std::span<const net::form_parameter> params) {
    auto request = parse_create_call(params);
    if (!request)
      return error_response(request.error());
    auto call = std::make_shared<live_call>(io);
    auto& record = call->record;
    record.sid = generate_call_sid();
    record.account_sid = options.account_sid;
    record.from = request->from;
    record.to = request->to;
    record.request = std::move(*request);
    record.created = record.updated = sys_clock::now();
    record.history = {call_status::queued};
    const auto listed = options.callee_by_number.find(record.to);
    call->callee = listed != options.callee_by_number.end() ? listed->second : options.callee;
    calls.push_back(call);
    by_sid.emplace(record.sid, call);

    // Twilio queues the call and answers at once; the call proceeds on its own.
    schedule(call, std::chrono::milliseconds(0), &state::initiate);
    for (auto it = created_waiters.begin(); it != created_waiters.end();) {
      if (it->index < calls.size()) {
        it->promise.set_value(calls[it->index]->record);
        it = created_waiters.erase(it);
      } else {
        ++it;
      }
    }
    return net::http_response::json(201, call_json(record));
  }

  net::http_response update_call(const call_ptr& call,
                                 std::span<const net::form_parameter> params) {
    auto update = parse_update_call(params);
    if (!update)
      return error_response(update.error());
    const auto status = call->record.status;
    if (update->status) {
      if (status == call_status::queued) {
        end(call, call_status::canceled, 487, /*tell_receiver=*/false);  // no callbacks (§A7)
      } else if (status == call_status::ringing) {
        end(call, call_status::canceled, 487);  // completed ends ringing calls too (§A6)
      } else if (status == call_status::in_progress && *update->status == call_status::completed) {
        hang_up(call);
      }
      // canceled does not touch an in-progress call; an ended call stays as it ended.
    } else if (!update->twiml.empty() || !update->url.empty()) {
      if (status != call_status::in_progress)
        return error_response({400, 21220, "Call is not in-progress. Cannot redirect."});
      redirect(call, std::move(*update));
    }
    return net::http_response::json(200, call_json(call->record));
  }

  // ---- a call's life (all under the lock) ------------------------------------------------

  using call_step = void (state::*)(const call_ptr&);

  void schedule(const call_ptr& call, std::chrono::milliseconds delay, call_step next) {
    const auto step = ++call->step;
    call->timer.expires_after(delay);
    call->timer.async_wait(
        [self = shared_from_this(), call, step, next](boost::system::error_code error) {
          if (error)
            return;
          std::lock_guard lock(self->mutex);
          if (self->stopped || call->step != step)
            return;
          (self.get()->*next)(call);
        });
  }

  void initiate(const call_ptr& call) {
    if (call->record.status != call_status::queued)
      return;
    emit(call, "initiated", 0);
    switch (call->callee.outcome) {
      case callee_outcome::fail:
        return end(call, call_status::failed, 404);
      case callee_outcome::busy:
        return end(call, call_status::busy, 486);
      case callee_outcome::answer:
      case callee_outcome::no_answer:
        set_status(call, call_status::ringing);
        emit(call, "ringing", 0);
        schedule(call, call->callee.ring_time, &state::ring_over);
        return notify(call);
    }
  }

  void ring_over(const call_ptr& call) {
    if (call->record.status != call_status::ringing)
      return;
    if (call->callee.outcome == callee_outcome::no_answer)
      return end(call, call_status::no_answer, 487);
    call->record.answered = sys_clock::now();
    set_status(call, call_status::in_progress);
    emit(call, "in-progress", 0);
    notify(call);
    const auto& request = call->record.request;
    if (!request.url.empty()) {
      fetch_twiml(call, request.url, request.method);
    } else {
      execute(call, request.twiml);
    }
  }

  /// Twilio's voice request to the call's Url; the answer is the TwiML to execute.
  void fetch_twiml(const call_ptr& call, const std::string& url, const std::string& method) {
    call->doing = activity::fetching_twiml;
    const auto step = ++call->step;
    std::string signature;
    auto request = signed_request(method, url, voice_request_parameters(call->record),
                                  options.auth_token, signature);
    request.tls = options.tls;
    asio::post(io, [self = shared_from_this(), call, step, url,
                    request = std::move(request)]() mutable {
      net::http_request_async(
          self->io, std::move(request), [self, call, step, url](net::http_client_result answer) {
            std::lock_guard lock(self->mutex);
            if (self->stopped || call->step != step || call->doing != activity::fetching_twiml)
              return;
            call->doing = activity::none;
            if (!answer) {
              call->record.twiml_errors.push_back("TwiML fetch: " + answer.error());
              return self->end(call, call_status::completed, 200);
            }
            if (answer->status != 200) {
              call->record.twiml_errors.push_back("TwiML fetch answered HTTP " +
                                                  std::to_string(answer->status));
              return self->end(call, call_status::completed, 200);
            }
            self->execute(call, answer->body, url);
          });
    });
  }

  /// `document_url`: where the TwiML came from (a call's Url), for its relative URLs.
  void execute(const call_ptr& call, const std::string& twiml,
               const std::string& document_url = {}) {
    auto instruction = parse_call_twiml(twiml);
    if (!instruction) {
      // Twilio says "an application error has occurred" and hangs up.
      call->record.twiml_errors.push_back(instruction.error());
      return end(call, call_status::completed, 200);
    }
    std::visit(overloaded{
                   [&](const net::connect_stream&) { play(call, twiml, document_url); },
                   [&](const twiml_dial& dial) { transfer(call, dial.number); },
                   [&](const twiml_hangup&) { end(call, call_status::completed, 200); },
               },
               *instruction);
  }

  /// The stream, and any stream its <Connect action> continues the call on, are played by one
  /// twilio_caller: the callee's script goes on across them (script_after_redirect is for a
  /// redirect's new TwiML only).
  void play(const call_ptr& call, const std::string& twiml, const std::string& document_url) {
    twilio_caller_options caller;
    caller.twiml = twiml;
    caller.webhook_url = document_url;  // with twiml set: only resolves its relative URLs
    caller.auth_token = options.auth_token;
    caller.stream_connect_address = options.stream_connect_address;
    caller.stream_connect_by_host = options.stream_connect_by_host;
    caller.direction = "outbound-api";
    caller.tls = options.tls;
    caller.account_sid = call->record.account_sid;
    caller.call_sid = call->record.sid;
    caller.from = call->record.from;
    caller.to = call->record.to;
    caller.script = call->callee.script;
    if (!call->record.streams.empty() && !call->callee.script_after_redirect.empty())
      caller.script = call->callee.script_after_redirect;
    if (call->last_stream_end) {
      // The caller's first frame on the new stream ends the gap.
      caller.on_media_sent =
          [self = shared_from_this(), call, since = *call->last_stream_end,
           measured = std::make_shared<std::atomic<bool>>(false)](std::span<const std::uint8_t>) {
            if (measured->exchange(true))
              return;
            const auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - since);
            std::lock_guard lock(self->mutex);
            call->record.stream_gaps.push_back(gap);
          };
    }
    if (caller.script.empty())
      caller.script = {silence(call->callee.listen_limit)};
    caller.keep_heard_audio = false;
    call->doing = activity::streaming;
    call->stream = twilio_caller::start(
        io, std::move(caller), [self = shared_from_this(), call](twilio_call_result result) {
          std::lock_guard lock(self->mutex);
          self->stream_ended(call, std::move(result));
        });
  }

  void stream_ended(const call_ptr& call, twilio_call_result result) {
    call->record.streams.push_back(std::move(result));
    call->last_stream_end = std::chrono::steady_clock::now();
    call->stream.reset();
    call->doing = activity::none;
    if (is_terminal(call->record.status))
      return notify(call);
    if (call->redirect && !stopped) {
      auto redirect = std::move(*call->redirect);
      call->redirect.reset();
      return redirect.url.empty() ? execute(call, redirect.twiml)
                                  : fetch_twiml(call, redirect.url, redirect.method);
    }
    // The callee hung up, the bridge closed the stream, or Status=completed stopped it.
    end(call, call_status::completed, 200);
  }

  void transfer(const call_ptr& call, const std::string& number) {
    call->record.transferred_to = number;
    call->doing = activity::transferred;
    notify(call);
    schedule(call, options.transfer_duration, &state::transfer_over);
  }

  void transfer_over(const call_ptr& call) {
    call->doing = activity::none;
    end(call, call_status::completed, 200);
  }

  /// Status=completed on an in-progress call.
  void hang_up(const call_ptr& call) {
    if (call->doing == activity::streaming) {
      call->redirect.reset();
      call->stream->hang_up();  // `stop`, close; stream_ended completes the call
      return;
    }
    call->doing = activity::none;
    end(call, call_status::completed, 200);
  }

  void redirect(const call_ptr& call, update_call_request update) {
    if (call->doing == activity::streaming) {
      // Redirecting replaces the executing TwiML: the <Connect><Stream> ends first (§A6).
      call->redirect = std::move(update);
      call->stream->hang_up();
      return;
    }
    ++call->step;  // a pending transfer timer or TwiML fetch no longer counts
    call->timer.cancel();
    call->doing = activity::none;
    if (update.url.empty()) {
      execute(call, update.twiml);
    } else {
      fetch_twiml(call, update.url, update.method);
    }
  }

  void end(const call_ptr& call, call_status status, unsigned sip_response_code,
           bool tell_receiver = true) {
    if (is_terminal(call->record.status))
      return;
    ++call->step;
    call->timer.cancel();
    call->record.ended = sys_clock::now();
    set_status(call, status);
    if (tell_receiver)
      emit(call, to_string(status), sip_response_code);
    if (options.reverse_callbacks) {
      std::reverse(call->outbox.begin(), call->outbox.end());
      send_next_callback(call);
    }
    notify(call);
  }

  /// The caller notifies once the step is complete (callbacks queued), not before.
  void set_status(const call_ptr& call, call_status status) {
    call->record.status = status;
    call->record.history.push_back(status);
    call->record.updated = sys_clock::now();
  }

  // ---- status callbacks ------------------------------------------------------------------

  void emit(const call_ptr& call, std::string_view callback_status, unsigned sip_response_code) {
    const auto& request = call->record.request;
    if (stopped || request.status_callback.empty() ||
        (request.status_events & event_for(callback_status)) == 0)
      return;
    sent_status_callback callback;
    callback.call_sid = call->record.sid;
    callback.url = request.status_callback;
    callback.method = request.status_callback_method;
    callback.params =
        status_callback_parameters(call->record, callback_status, call->next_sequence_number++,
                                   sip_response_code, sys_clock::now());
    call->outbox.push_back(std::move(callback));
    if (!options.reverse_callbacks)
      send_next_callback(call);
  }

  /// One callback in flight per call, so they arrive in the order they were sent.
  void send_next_callback(const call_ptr& call) {
    if (stopped || call->callback_in_flight || call->outbox.empty())
      return;
    call->callback_in_flight = true;
    auto& callback = call->outbox.front();
    auto request = signed_request(callback.method, callback.url, callback.params,
                                  options.auth_token, callback.signature);
    request.timeout = options.callback_timeout;
    request.tls = options.tls;
    // Posted: http_request_async may call back before it returns, and we hold the lock.
    asio::post(io, [self = shared_from_this(), call, request = std::move(request)]() mutable {
      net::http_request_async(self->io, std::move(request),
                              [self, call](net::http_client_result answer) {
                                std::lock_guard lock(self->mutex);
                                self->callback_answered(call, answer);
                              });
    });
  }

  void callback_answered(const call_ptr& call, const net::http_client_result& answer) {
    call->callback_in_flight = false;
    if (call->outbox.empty())
      return;  // stopped meanwhile
    auto callback = std::move(call->outbox.front());
    call->outbox.pop_front();
    if (answer) {
      callback.http_status = answer->status;
    } else {
      callback.error = answer.error();
    }
    call->record.callbacks.push_back(callback);
    callbacks.push_back(std::move(callback));
    send_next_callback(call);
    notify(call);
  }

  // ---- waiters ---------------------------------------------------------------------------

  void notify(const call_ptr& call) {
    auto& record = call->record;
    record.finished = is_terminal(record.status) && call->doing == activity::none &&
                      !call->callback_in_flight && (call->outbox.empty() || stopped);
    for (auto it = waiters.begin(); it != waiters.end();) {
      const bool reached =
          it->sid == record.sid &&
          (record.finished || (it->status && std::find(record.history.begin(), record.history.end(),
                                                       *it->status) != record.history.end()));
      if (reached) {
        it->promise.set_value(record);
        it = waiters.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::future<outbound_call> wait_for(std::string_view sid, std::optional<call_status> status) {
    std::lock_guard lock(mutex);
    call_waiter waiter{std::string(sid), status, {}};
    auto future = waiter.promise.get_future();
    const auto found = by_sid.find(sid);
    if (found == by_sid.end() || stopped) {
      waiter.promise.set_value(found == by_sid.end() ? outbound_call{} : found->second->record);
      return future;
    }
    waiters.push_back(std::move(waiter));
    notify(found->second);
    return future;
  }

  void stop() {
    std::lock_guard lock(mutex);
    if (stopped)
      return;
    stopped = true;
    faults.clear();
    for (const auto& call : calls) {
      ++call->step;
      call->timer.cancel();
      call->outbox.clear();
      if (call->stream)
        call->stream->hang_up();
    }
    // Nothing more will happen to the calls: release every waiter with what there is.
    for (auto& waiter : waiters) {
      const auto found = by_sid.find(waiter.sid);
      waiter.promise.set_value(found != by_sid.end() ? found->second->record : outbound_call{});
    }
    waiters.clear();
    for (auto& waiter : created_waiters)
      waiter.promise.set_value(outbound_call{});
    created_waiters.clear();
  }
};

// ---- twilio_rest_server -----------------------------------------------------------------

boost::system::result<std::unique_ptr<twilio_rest_server>, std::string> twilio_rest_server::start(
    boost::asio::io_context& io, twilio_rest_server_options options) {
  if (options.account_sid.empty())
    return std::string("twilio_rest_server: account_sid is empty");
  if (options.auth_token.empty())
    return std::string("twilio_rest_server: auth_token is empty");
  net::http_server_options listen;
  listen.bind_address = options.bind_address;
  listen.port = options.port;
  auto shared = std::make_shared<state>(io, std::move(options));
  auto http = net::http_server::start(io, listen,
                                      {.on_request = [shared](const net::http_request& request) {
                                        return shared->on_request(request);
                                      }});
  if (!http)
    return "twilio_rest_server: " + http.error();
  return std::unique_ptr<twilio_rest_server>(
      new twilio_rest_server(std::move(shared), std::move(*http)));
}

twilio_rest_server::twilio_rest_server(std::shared_ptr<state> shared,
                                       std::unique_ptr<net::http_server> http)
    : state_(std::move(shared)), http_(std::move(http)) {}

twilio_rest_server::~twilio_rest_server() {
  stop();
}

std::uint16_t twilio_rest_server::port() const {
  return http_->port();
}

std::string twilio_rest_server::base_url() const {
  const auto& address = state_->options.bind_address;
  std::string host = address == "0.0.0.0" || address.empty()  ? "127.0.0.1"
                     : address == "::"                        ? "[::1]"
                     : address.find(':') != std::string::npos ? "[" + address + "]"
                                                              : address;
  return "http://" + host + ":" + std::to_string(port());
}

void twilio_rest_server::stop() {
  http_->stop();
  state_->stop();
}

void twilio_rest_server::inject_create_fault(twilio_rest_error fault) {
  std::lock_guard lock(state_->mutex);
  state_->faults.push_back(std::move(fault));
}

void twilio_rest_server::set_stream_connect_address(std::string address) {
  std::lock_guard lock(state_->mutex);
  state_->options.stream_connect_address = std::move(address);
}

void twilio_rest_server::set_stream_connect_address_for(std::string host, std::string address) {
  std::lock_guard lock(state_->mutex);
  state_->options.stream_connect_by_host[std::move(host)] = std::move(address);
}

void twilio_rest_server::set_callee(std::string number, callee_behaviour behaviour) {
  std::lock_guard lock(state_->mutex);
  state_->options.callee_by_number[std::move(number)] = std::move(behaviour);
}

std::vector<received_rest_request> twilio_rest_server::requests() const {
  std::lock_guard lock(state_->mutex);
  return state_->requests;
}

std::vector<sent_status_callback> twilio_rest_server::callbacks() const {
  std::lock_guard lock(state_->mutex);
  return state_->callbacks;
}

std::vector<outbound_call> twilio_rest_server::calls() const {
  std::lock_guard lock(state_->mutex);
  std::vector<outbound_call> out;
  out.reserve(state_->calls.size());
  for (const auto& call : state_->calls)
    out.push_back(call->record);
  return out;
}

std::optional<outbound_call> twilio_rest_server::call(std::string_view sid) const {
  std::lock_guard lock(state_->mutex);
  const auto found = state_->by_sid.find(sid);
  if (found == state_->by_sid.end())
    return std::nullopt;
  return found->second->record;
}

std::future<outbound_call> twilio_rest_server::when_created(std::size_t index) {
  std::lock_guard lock(state_->mutex);
  created_waiter waiter{index, {}};
  auto future = waiter.promise.get_future();
  if (index < state_->calls.size()) {
    waiter.promise.set_value(state_->calls[index]->record);
  } else if (state_->stopped) {
    waiter.promise.set_value(outbound_call{});
  } else {
    state_->created_waiters.push_back(std::move(waiter));
  }
  return future;
}

std::future<outbound_call> twilio_rest_server::when_status(std::string_view sid,
                                                           call_status status) {
  return state_->wait_for(sid, status);
}

std::future<outbound_call> twilio_rest_server::when_finished(std::string_view sid) {
  return state_->wait_for(sid, std::nullopt);
}

}  // namespace switchboard::sim
