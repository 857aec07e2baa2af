#include "app/call_control.hpp"

#include "actors/call_summary.hpp"
#include "actors/upload_plan.hpp"
#include "net/twilio_rest.hpp"
#include "net/twiml.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <set>

namespace switchboard::app {

namespace {

namespace json = boost::json;

net::http_response json_response(unsigned status, const json::object& body) {
  return net::http_response::json(status, json::serialize(body) + "\n");
}

double seconds_between(std::chrono::system_clock::time_point from,
                       std::chrono::system_clock::time_point to) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
  return static_cast<double>(std::max<std::int64_t>(ms, 0)) / 1000.0;
}

// A recording streamed back from the bucket is held whole before it is answered, as a local one
// is read whole: bounded by a 1-hour call's stereo.wav (115 MB) with room to spare.
constexpr std::uint64_t max_bucket_recording_bytes = 256ull * 1024 * 1024;
// A call's index (call.json) is small; a larger object there is not one of ours.
constexpr std::size_t max_call_index_bytes = 4 * 1024 * 1024;
// RECORDINGS_PRESIGN: how long a presigned URL of a 302 is valid.
constexpr std::chrono::seconds presigned_url_lifetime{300};

std::string read_small_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text(4 * 1024 * 1024 + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

/// A recording's bytes as the API answers them, wherever they came from (this disk, a peer's,
/// the bucket).
net::http_response recording_response(const std::string& name, const std::string& type,
                                      std::string body) {
  net::http_response response;
  response.status = 200;
  response.content_type = type;
  response.body = std::move(body);
  response.headers.emplace_back("Content-Disposition", "inline; filename=\"" + name + "\"");
  return response;
}

/// A recording whose local copy is gone (it was uploaded): call.json (the local one, or the
/// call's index in the bucket) says where it went; the bucket serves it. Blocking: on the API's
/// file readers, never an io thread.
net::http_response recording_from_bucket(actors::object_store& bucket, std::string_view call_json,
                                         const std::string& name, const std::string& type,
                                         bool presign) {
  const auto url = actors::uploaded_url_of(call_json, name);
  const auto where = url ? actors::split_bucket_url(*url) : std::nullopt;
  if (!where)
    return api_error_response({404, name + " is neither here nor recorded as uploaded"});
  if (where->first != bucket.bucket())
    return api_error_response({404, name + " was uploaded to another bucket: " + *url});
  if (presign) {
    net::http_response redirect;
    redirect.status = 302;
    redirect.content_type = "text/plain; charset=utf-8";
    redirect.body = "uploaded: see Location\n";
    redirect.headers.emplace_back("Location",
                                  bucket.presign_get(where->second, presigned_url_lifetime));
    redirect.headers.emplace_back("Cache-Control", "no-store");
    return redirect;
  }
  std::string body;
  bool too_large = false;
  const auto got = bucket.get(where->second, [&](std::string_view piece) {
    if (body.size() + piece.size() > max_bucket_recording_bytes) {
      too_large = true;
      return false;
    }
    body.append(piece);
    return true;
  });
  if (too_large)
    return api_error_response({502, name + " in the bucket is larger than this node serves"});
  if (got.outcome == net::s3_outcome::not_found)
    return api_error_response({404, name + " is no longer in the bucket: " + *url});
  if (got.outcome != net::s3_outcome::ok) {
    spdlog::warn("{} not served from the bucket: {}", *url, got.reason);
    return api_error_response({502, "the bucket did not answer with " + name});
  }
  return recording_response(name, type, std::move(body));
}

}  // namespace

std::optional<std::string_view> recording_content_type(std::string_view file) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 6> files{{
      {"caller.wav", "audio/wav"},
      {"agent.wav", "audio/wav"},
      {"stereo.wav", "audio/wav"},
      {"mono.wav", "audio/wav"},
      {"transcript.jsonl", "application/x-ndjson"},
      {"call.json", "application/json"},
  }};
  for (const auto& [name, type] : files) {
    if (name == file)
      return type;
  }
  return std::nullopt;
}

json::object call_json_object(const actors::call_view& view,
                              const actors::outbound_call_status* twilio,
                              std::chrono::system_clock::time_point now, bool with_transcript) {
  const auto& id = view.identity;
  const bool ended = view.state == actors::call_state::ended;
  json::object call{
      {"call_sid", id.call_sid},
      {"stream_sid", id.stream_sid},
      {"direction", view.direction},
      {"from", id.from},
      {"to", id.to},
      {"state", std::string(to_string(view.state))},
      {"started", actors::iso8601_utc(view.started_at)},
      {"duration_s", seconds_between(view.started_at, ended ? view.ended_at : now)},
      {"barge_ins", view.barge_ins},
  };
  if (twilio != nullptr) {
    call["twilio_status"] = std::string(to_string(twilio->status));
    // An outbound call's stream knows only its dial; the book knows the parties.
    if (id.to.empty())
      call["to"] = twilio->to;
    if (id.from.empty())
      call["from"] = twilio->from;
  }
  if (!view.end_reason.empty())
    call["end_reason"] = view.end_reason;
  if (!view.node.empty()) {
    // In a cluster: which node runs (ran) the call, and why it ended under the name the
    // cluster's view uses ("node lost" when its node died with it).
    call["node"] = view.node;
    if (ended)
      call["ended_because"] = view.end_reason;
  }
  if (ended) {
    call["ended"] = actors::iso8601_utc(view.ended_at);
    json::array recordings;
    for (const auto& file : view.files) {
      if (recording_content_type(file))
        recordings.emplace_back("/calls/" + id.call_sid + "/recordings/" + file);
    }
    call["recordings"] = std::move(recordings);
  }
  if (with_transcript) {
    json::array transcript;
    for (const auto& line : view.transcript) {
      json::object entry{
          {"speaker", line.speaker}, {"text", line.text}, {"offset_ms", line.offset_ms}};
      // The agent's words the caller did not hear (a barge-in cut them off).
      if (!line.unheard.empty())
        entry["unheard"] = line.unheard;
      transcript.emplace_back(std::move(entry));
    }
    call["transcript"] = std::move(transcript);
  }
  return call;
}

json::object dialing_call_json_object(const actors::outbound_call_status& call,
                                      std::chrono::system_clock::time_point now) {
  const auto placed = call.dialled_at         ? *call.dialled_at
                      : call.arrivals.empty() ? now
                                              : call.arrivals.front().second;
  return {
      {"call_sid", call.call_sid},
      {"stream_sid", ""},
      {"direction", call.direction},
      {"from", call.from},
      {"to", call.to},
      {"state", "dialing"},
      {"twilio_status", std::string(to_string(call.status))},
      {"started", actors::iso8601_utc(placed)},
      {"duration_s", seconds_between(placed, now)},
      {"barge_ins", 0},
  };
}

call_controller::call_controller(const config::settings& settings, boost::asio::io_context& io,
                                 std::shared_ptr<net::tls_context> tls,
                                 std::shared_ptr<actors::call_directory> calls,
                                 std::shared_ptr<actors::call_status_book> statuses,
                                 std::shared_ptr<metrics::bridge_metrics> node,
                                 std::function<std::chrono::system_clock::time_point()> wall_clock)
    : settings_(settings),
      io_(io),
      tls_(std::move(tls)),
      calls_(std::move(calls)),
      statuses_(std::move(statuses)),
      node_(std::move(node)),
      wall_clock_(std::move(wall_clock)),
      file_readers_(std::make_unique<boost::asio::thread_pool>(2)) {
  for (const auto& tool : settings_.tools) {
    tools_.emplace(tool.function.name, net::http_tool{tool.function.name, tool.url, tool.timeout});
  }
}

call_controller::~call_controller() {
  file_readers_->join();
}

bool call_controller::handle(const net::http_request& request, const net::http_responder& respond) {
  auto route = parse_call_control_route(request.method, request.path());
  if (!route)
    return false;
  if (auto refused = refuse_api_request(request, settings_.api_token)) {
    respond(api_error_response(*refused));
    return true;
  }
  if (!*route) {
    respond(api_error_response(route->error()));
    return true;
  }
  const auto& call = **route;
  using action = call_control_route::action;
  switch (call.what) {
    case action::list:
      respond(list_calls());
      break;
    case action::show:
      show_call(call.call_sid, respond);
      break;
    case action::recording:
      send_recording(call, respond);
      break;
    case action::hangup:
      if (auto owner = remote_owner(call.call_sid)) {
        ask_owner(*owner, {actors::remote_call_request::action::hangup, *owner, call.call_sid, {}},
                  respond, [respond, sid = call.call_sid, node = node_](auto) {
                    node->call_actions(metrics::call_action::api_hangup).Increment();
                    respond(json_response(202, {{"call_sid", sid}, {"state", "ending"}}));
                  });
        break;
      }
      respond(hang_up(call.call_sid));
      break;
    case action::say:
      if (auto owner = remote_owner(call.call_sid)) {
        const auto text = parse_say_request(request.body);
        if (!text) {
          respond(api_error_response(text.error()));
          break;
        }
        ask_owner(*owner, {actors::remote_call_request::action::say, *owner, call.call_sid, *text},
                  respond, [respond, sid = call.call_sid, node = node_](auto) {
                    node->call_actions(metrics::call_action::api_say).Increment();
                    respond(json_response(202, {{"call_sid", sid}}));
                  });
        break;
      }
      respond(say(call.call_sid, request.body));
      break;
    case action::transfer:
      transfer_by_api(call.call_sid, request.body, respond);
      break;
  }
  return true;
}

net::http_response call_controller::list_calls() const {
  const auto now = wall_clock_();
  json::array calls;
  std::set<std::string, std::less<>> listed;
  for (const auto& view : calls_->live()) {
    const auto twilio = statuses_->find(view.identity.call_sid);
    calls.emplace_back(call_json_object(view, twilio ? &*twilio : nullptr, now, false));
    listed.insert(view.identity.call_sid);
  }
  json::array recent;
  for (const auto& view : calls_->recent()) {
    const auto twilio = statuses_->find(view.identity.call_sid);
    recent.emplace_back(call_json_object(view, twilio ? &*twilio : nullptr, now, false));
    listed.insert(view.identity.call_sid);
  }
  // Outbound calls still ringing (or answered, their stream not started yet).
  for (const auto& dialing : statuses_->unfinished()) {
    if (!listed.contains(dialing.call_sid))
      calls.emplace_back(dialing_call_json_object(dialing, now));
  }
  return json_response(200, {{"calls", std::move(calls)}, {"recent", std::move(recent)}});
}

void call_controller::show_call(const std::string& call_sid,
                                const net::http_responder& respond) const {
  const auto now = wall_clock_();
  const auto twilio = statuses_->find(call_sid);
  if (const auto view = calls_->find_local(call_sid)) {
    return respond(
        json_response(200, call_json_object(*view, twilio ? &*twilio : nullptr, now, true)));
  }
  if (auto owner = remote_owner(call_sid)) {
    // Live on a peer: its node has the transcript so far.
    const auto node_name = calls_->find(call_sid).value_or(actors::call_view{}).node;
    return ask_owner(
        *owner, {actors::remote_call_request::action::show, *owner, call_sid, {}}, respond,
        [respond, node_name, wall_clock = wall_clock_](auto answer) {
          auto view = actors::unshare(std::move(answer.call), node_name);
          if (!view) {
            return respond(api_error_response(
                {502, "the call's node answered with a call this node cannot read"}));
          }
          respond(json_response(200, call_json_object(*view, nullptr, wall_clock(), true)));
        });
  }
  if (const auto view = calls_->find(call_sid)) {
    // A peer's call that has ended (or whose node was lost): what its node last announced.
    return respond(
        json_response(200, call_json_object(*view, twilio ? &*twilio : nullptr, now, true)));
  }
  if (twilio) {
    auto call = dialing_call_json_object(*twilio, now);
    if (actors::is_final(twilio->status))
      call["state"] = "ended";  // never streamed here: busy, no answer, failed, canceled
    call["transcript"] = json::array{};
    return respond(json_response(200, call));
  }
  respond(api_error_response({404, "no such call on this node: " + call_sid}));
}

std::optional<std::string> call_controller::remote_owner(std::string_view call_sid) const {
  if (!cluster_ || calls_->find_local(call_sid))
    return std::nullopt;
  return calls_->peer_of(call_sid);
}

void call_controller::ask_owner(std::string node_id, actors::remote_call_request request,
                                const net::http_responder& respond,
                                std::function<void(actors::remote_call_answer)> answered) const {
  request.node_id = std::move(node_id);
  cluster_->ask(std::move(request),
                [respond, answered = std::move(answered)](actors::remote_call_answer answer) {
                  if (answer.status < 200 || answer.status >= 300)
                    return respond(api_error_response({answer.status, std::move(answer.error)}));
                  answered(std::move(answer));
                });
}

void call_controller::send_recording(const call_control_route& route,
                                     const net::http_responder& respond) const {
  const auto type = recording_content_type(route.file);
  const auto view = calls_->find_local(route.call_sid);
  if (!view && type) {
    if (remote_owner(route.call_sid)) {
      return respond(api_error_response(
          {409, "the call is still live: its recordings are complete when it has ended"}));
    }
    // Recorded by a peer: read from its disk by message (a file uploaded and deleted there
    // comes from the bucket instead); a call no node here knows: the bucket's index.
    if (const auto holder = cluster_ ? calls_->recorded_on_peer(route.call_sid) : std::nullopt)
      return send_recording_from_peer(*holder, route, std::string(*type), respond);
    if (bucket_)
      return send_recording_from_index(route, std::string(*type), respond);
  }
  if (!view)
    return respond(api_error_response({404, "no such call on this node: " + route.call_sid}));
  if (view->state != actors::call_state::ended) {
    return respond(api_error_response(
        {409, "the call is still live: its recordings are complete when it has ended"}));
  }
  if (!type || view->directory.empty() ||
      std::find(view->files.begin(), view->files.end(), route.file) == view->files.end()) {
    return respond(
        api_error_response({404, "the call has no file " + route.file +
                                     " (files: caller.wav, agent.wav, stereo.wav, mono.wav, "
                                     "transcript.jsonl, call.json, as recorded)"}));
  }
  // Recordings run to megabytes: read them off the io threads.
  boost::asio::post(
      *file_readers_, [path = view->directory / route.file, type = std::string(*type), respond,
                       bucket = bucket_, presign = settings_.recordings_presign] {
        std::error_code ec;
        if (bucket && !std::filesystem::exists(path, ec)) {
          return respond(recording_from_bucket(*bucket,
                                               read_small_text(path.parent_path() / "call.json"),
                                               path.filename().string(), type, presign));
        }
        std::ifstream in(path, std::ios::binary);
        std::string body{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        if (!in.good() && !in.eof()) {
          return respond(api_error_response({500, "cannot read " + path.filename().string()}));
        }
        respond(recording_response(path.filename().string(), type, std::move(body)));
      });
}

namespace {

/// A recording on its way from the peer that holds it, chunk after chunk.
struct peer_recording_read {
  actors::recording_chunk_request next;
  std::uint64_t total = 0;
  std::string body;
  std::function<void(actors::recording_chunk failure)> failed;  // a chunk that is not 200
  std::function<void(std::string body)> done;
};

void read_next_chunk(std::shared_ptr<const remote_calls> cluster,
                     std::shared_ptr<peer_recording_read> read) {
  auto request = read->next;
  cluster->read_chunk(std::move(request), [cluster, read](actors::recording_chunk chunk) {
    if (chunk.status != 200)
      return read->failed(std::move(chunk));
    const bool first = read->next.offset == 0;
    if (!first && chunk.total != read->total)
      return read->failed({502, "the file changed on its node while it was read", 0, {}});
    if (chunk.total > max_bucket_recording_bytes)
      return read->failed({502, "the file is larger than this node serves", 0, {}});
    read->total = chunk.total;
    read->body += chunk.bytes;
    read->next.offset += chunk.bytes.size();
    if (read->next.offset >= read->total)
      return read->done(std::move(read->body));
    if (chunk.bytes.empty())
      return read->failed({502, "the call's node sent an empty chunk before the end", 0, {}});
    read_next_chunk(cluster, read);
  });
}

}  // namespace

void call_controller::send_recording_from_peer(std::string node_id, const call_control_route& route,
                                               std::string type,
                                               const net::http_responder& respond) const {
  auto read = std::make_shared<peer_recording_read>();
  read->next = {std::move(node_id), route.call_sid, route.file, 0};
  // The controller outlives the io threads these callbacks run on (bridge_server joins them
  // before it goes).
  read->failed = [this, route, type, respond](actors::recording_chunk failure) {
    if (failure.status == 404 && bucket_)
      return send_recording_from_index(route, type, respond);
    respond(api_error_response({failure.status, std::move(failure.error)}));
  };
  read->done = [name = route.file, type, respond](std::string body) {
    respond(recording_response(name, type, std::move(body)));
  };
  read_next_chunk(cluster_, std::move(read));
}

void call_controller::send_recording_from_index(const call_control_route& route, std::string type,
                                                const net::http_responder& respond) const {
  boost::asio::post(*file_readers_, [index = actors::call_index_key(bucket_prefix_, route.call_sid),
                                     call_sid = route.call_sid, name = route.file,
                                     type = std::move(type), respond, bucket = bucket_,
                                     presign = settings_.recordings_presign] {
    std::string call_json;
    bool too_large = false;
    const auto got = bucket->get(index, [&](std::string_view piece) {
      too_large = call_json.size() + piece.size() > max_call_index_bytes;
      if (!too_large)
        call_json.append(piece);
      return !too_large;
    });
    if (got.outcome == net::s3_outcome::not_found) {
      return respond(
          api_error_response({404, "no such call on this node, nor in the bucket: " + call_sid}));
    }
    if (too_large || got.outcome != net::s3_outcome::ok) {
      spdlog::warn("the bucket's index of {} not read: {}", call_sid,
                   too_large ? "larger than a call.json" : got.reason);
      return respond(api_error_response({502, "the bucket did not answer with the call's index"}));
    }
    respond(recording_from_bucket(*bucket, call_json, name, type, presign));
  });
}

boost::system::result<actors::call_supervisor_actor, api_error> call_controller::steerable(
    std::string_view call_sid) const {
  if (auto supervisor = calls_->supervisor_of(call_sid))
    return *supervisor;
  if (calls_->find(call_sid))
    return api_error{409, "the call is already ending or has ended"};
  return api_error{404, "no such call on this node: " + std::string(call_sid)};
}

net::http_response call_controller::hang_up(std::string_view call_sid) const {
  const auto supervisor = steerable(call_sid);
  if (!supervisor)
    return api_error_response(supervisor.error());
  caf::anon_send(*supervisor, actors::hangup_request{"hung up through the API", false});
  node_->call_actions(metrics::call_action::api_hangup).Increment();
  spdlog::info("[call {}] hang-up asked through the API", call_sid);
  return json_response(202, {{"call_sid", std::string(call_sid)}, {"state", "ending"}});
}

net::http_response call_controller::say(std::string_view call_sid, std::string_view body) const {
  const auto text = parse_say_request(body);
  if (!text)
    return api_error_response(text.error());
  const auto supervisor = steerable(call_sid);
  if (!supervisor)
    return api_error_response(supervisor.error());
  caf::anon_send(*supervisor, actors::say_request{*text});
  node_->call_actions(metrics::call_action::api_say).Increment();
  return json_response(202, {{"call_sid", std::string(call_sid)}});
}

void call_controller::transfer_by_api(std::string call_sid, std::string_view body,
                                      const net::http_responder& respond) {
  const auto to = parse_transfer_request(body);
  if (!to)
    return respond(api_error_response(to.error()));
  if (auto owner = remote_owner(call_sid)) {
    // Twilio redirects the call whichever node asks; its node only confirms it is live.
    return ask_owner(
        *owner, {actors::remote_call_request::action::check_steerable, *owner, call_sid, {}},
        respond, [this, respond, call_sid, to = *to](auto) {
          redirect_to(
              call_sid, to,
              [respond, call_sid, to, node = node_](unsigned status, std::string error) {
                if (!error.empty())
                  return respond(api_error_response({status, std::move(error)}));
                node->call_actions(metrics::call_action::api_transfer).Increment();
                respond(json_response(202, {{"call_sid", call_sid}, {"transferred_to", to}}));
              });
        });
  }
  if (const auto supervisor = steerable(call_sid); !supervisor)
    return respond(api_error_response(supervisor.error()));
  redirect_to(call_sid, *to,
              [respond, call_sid, to = *to, node = node_](unsigned status, std::string error) {
                if (!error.empty())
                  return respond(api_error_response({status, std::move(error)}));
                node->call_actions(metrics::call_action::api_transfer).Increment();
                respond(json_response(202, {{"call_sid", call_sid}, {"transferred_to", to}}));
              });
}

void call_controller::redirect_to(std::string call_sid, std::string to,
                                  std::function<void(unsigned, std::string)> done) {
  const auto refused = [&](unsigned status, std::string why) {
    node_->call_actions(metrics::call_action::transfer_refused).Increment();
    spdlog::warn("[call {}] transfer to {} refused: {}", call_sid, to, why);
    done(status, std::move(why));
  };
  if (to.empty())
    return refused(400, "no number to transfer to (and TRANSFER_TO is not set)");
  // The model may be talked into calling anywhere: its transfers pass the same checks as
  // POST /calls.
  if (auto refusal = refuse_destination(to, settings_.allowed_destinations))
    return refused(refusal->status, std::move(refusal->reason));
  if (!settings_.has_twilio_credentials())
    return refused(503, "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are needed to transfer calls");
  spdlog::info("[call {}] transferring to {}", call_sid, to);
  net::update_twilio_call(
      io_, tls_,
      {settings_.twilio_api_base, settings_.twilio_account_sid, settings_.twilio_auth_token},
      call_sid, {{"Twiml", net::dial_twiml(to)}},
      [done = std::move(done), node = node_](net::twilio_create_result answer) {
        if (!answer) {
          node->call_actions(metrics::call_action::transfer_refused).Increment();
          const auto& error = answer.error();
          return done(status_for_twilio_error(error),
                      "Twilio refused the transfer: " + error.message +
                          (error.code != 0 ? " (code " + std::to_string(error.code) + ")" : ""));
        }
        done(202, {});
      });
}

bool call_controller::run_tool(actors::openai_session_actor session,
                               const actors::call_identity& call, std::string_view metadata_json,
                               std::string call_id, std::string name, std::string arguments_json) {
  const auto tool = tools_.find(name);
  if (tool == tools_.end())
    return false;
  net::tool_call_context context{call.call_sid,
                                 call.stream_sid,
                                 call.from,
                                 call.to,
                                 call.dial_id.empty() ? "inbound" : "outbound",
                                 std::string(metadata_json)};
  const auto started = std::chrono::steady_clock::now();
  net::invoke_http_tool(
      io_, tls_, tool->second, arguments_json, context,
      [session, call_id = std::move(call_id), name, call_sid = call.call_sid, started,
       node = node_](net::tool_result result) {
        node->tool_calls(net::to_string(result.outcome)).Increment();
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
        if (result.ok()) {
          spdlog::info("[call {}] tool {} answered in {} ms", call_sid, name, ms);
        } else {
          spdlog::warn("[call {}] tool {} {} after {} ms: {}", call_sid, name,
                       net::to_string(result.outcome), ms,
                       result.detail.empty() ? result.output : result.detail);
        }
        caf::anon_send(session, actors::tool_result{call_id, std::move(result.output)});
      });
  return true;
}

void call_controller::transfer(actors::call_supervisor_actor supervisor, std::string tool_call_id,
                               std::string call_sid, std::string to) {
  // `to` is the model's number, or TRANSFER_TO already put in by the supervisor.
  redirect_to(
      std::move(call_sid), to,
      [supervisor, tool_call_id = std::move(tool_call_id), to](unsigned, std::string error) {
        caf::anon_send(supervisor, actors::transfer_outcome{tool_call_id, to, std::move(error)});
      });
}

}  // namespace switchboard::app
