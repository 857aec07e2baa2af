#pragma once
// The call-control API: an operator (or the web console) sees and steers the calls of this
// node. Bearer-protected like POST /calls (API_TOKEN); answers are JSON, errors {"error": "..."}.
//
//   GET  /calls                              live calls, outbound calls still dialling, and
//                                            the last calls that ended
//   GET  /calls/{sid}                        one call, with its transcript so far
//   GET  /calls/{sid}/recordings/{file}      a file of an ended call (WAV, transcript, call.json);
//                                            from the bucket once uploaded and deleted here
//   POST /calls/{sid}/hangup                 end the call now
//   POST /calls/{sid}/transfer {"to"}        hand the call to a number (<Dial> through Twilio)
//   POST /calls/{sid}/say {"text"}           the agent says it now
//
// In a cluster the same API answers for every call of the cluster: the list merges the peers'
// calls (the call directory, each call with its "node"); a call on another node is shown,
// hung up and told what to say by a request to its node's node actor (bounded by the cluster's
// request timeout: 502 when that node cannot be reached, 504 when it does not answer), and
// transferred from here once its node confirms the call is live (Twilio's REST API takes the
// redirect from any node).
//
// The routes are parsed and answered by plain functions (tested directly); call_controller
// wires them to the node's live calls, its actors and Twilio's REST API. It also implements
// actors::call_actions, so the agent's transfer_call and the user's tools go the same way.

#include "actors/bridge_environment.hpp"
#include "actors/call_directory.hpp"
#include "actors/call_status_book.hpp"
#include "actors/object_store.hpp"
#include "app/call_api_requests.hpp"
#include "app/outbound_calls.hpp"
#include "app/remote_calls.hpp"
#include "config/settings.hpp"
#include "net/http_tool.hpp"
#include "net/http_types.hpp"
#include "net/tls.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace boost::asio {
class io_context;
class thread_pool;
}  // namespace boost::asio

namespace switchboard::app {

/// The JSON object of one call (the API's <call>); with its transcript when asked.
boost::json::object call_json_object(const actors::call_view& view,
                                     const actors::outbound_call_status* twilio,
                                     std::chrono::system_clock::time_point now,
                                     bool with_transcript);
/// An outbound call placed but not streaming yet ("state": "dialing").
boost::json::object dialing_call_json_object(const actors::outbound_call_status& call,
                                             std::chrono::system_clock::time_point now);

/// The files of an ended call the API serves, and their content types.
std::optional<std::string_view> recording_content_type(std::string_view file);

class call_controller final : public actors::call_actions {
 public:
  call_controller(const config::settings& settings, boost::asio::io_context& io,
                  std::shared_ptr<net::tls_context> tls,
                  std::shared_ptr<actors::call_directory> calls,
                  std::shared_ptr<actors::call_status_book> statuses,
                  std::shared_ptr<metrics::bridge_metrics> node,
                  std::function<std::chrono::system_clock::time_point()> wall_clock);
  ~call_controller() override;

  /// RECORDINGS_BUCKET_URL: a recording whose local copy is gone and that call.json says was
  /// uploaded is served from `bucket` (before requests come): streamed through this node, or a
  /// 302 to a presigned URL with RECORDINGS_PRESIGN. A call this node never had is looked up
  /// by its index in the bucket, under `prefix` (actors::call_index_key).
  void serve_uploads_from(std::shared_ptr<actors::object_store> bucket, std::string prefix) {
    bucket_ = std::move(bucket);
    bucket_prefix_ = std::move(prefix);
  }

  /// The calls of other nodes are reached through `cluster` from now on (before requests come).
  void join_cluster(std::shared_ptr<const remote_calls> cluster) { cluster_ = std::move(cluster); }

  /// An http_routes::on_request_async: takes the API's requests, leaves every other one.
  bool handle(const net::http_request& request, const net::http_responder& respond);

  // actors::call_actions
  bool run_tool(actors::openai_session_actor session, const actors::call_identity& call,
                std::string_view metadata_json, std::string call_id, std::string name,
                std::string arguments_json) override;
  void transfer(actors::call_supervisor_actor supervisor, std::string tool_call_id,
                std::string call_sid, std::string to) override;

 private:
  net::http_response list_calls() const;
  void show_call(const std::string& call_sid, const net::http_responder& respond) const;
  void send_recording(const call_control_route& route, const net::http_responder& respond) const;
  /// A recording of a call this node never had (or no longer knows): the call's index in the
  /// bucket says where its files went.
  void send_recording_from_index(const call_control_route& route, std::string type,
                                 const net::http_responder& respond) const;
  /// A recording of an ended call that the peer `node_id` recorded: read from its disk by
  /// message, a bounded chunk at a time (actors::recording_chunk_request).
  void send_recording_from_peer(std::string node_id, const call_control_route& route,
                                std::string type, const net::http_responder& respond) const;
  /// The supervisor of a call live on this node, or why it cannot be steered: 404 unknown
  /// here, 409 ending or ended.
  boost::system::result<actors::call_supervisor_actor, api_error> steerable(
      std::string_view call_sid) const;
  net::http_response hang_up(std::string_view call_sid) const;
  net::http_response say(std::string_view call_sid, std::string_view body) const;
  /// A call live on a peer: the peer's node id; nullopt when the call is not one.
  std::optional<std::string> remote_owner(std::string_view call_sid) const;
  /// Asks the call's node; `answered` gets its 2xx answer, anything else goes to `respond`.
  void ask_owner(std::string node_id, actors::remote_call_request request,
                 const net::http_responder& respond,
                 std::function<void(actors::remote_call_answer)> answered) const;
  void transfer_by_api(std::string call_sid, std::string_view body,
                       const net::http_responder& respond);
  /// Checks `to` and asks Twilio to redirect the call; `done` gets "" or why it failed, and the
  /// HTTP status that goes with it.
  void redirect_to(std::string call_sid, std::string to,
                   std::function<void(unsigned status, std::string error)> done);

  config::settings settings_;
  boost::asio::io_context& io_;
  std::shared_ptr<net::tls_context> tls_;
  std::shared_ptr<actors::call_directory> calls_;
  std::shared_ptr<const remote_calls> cluster_;  // null without a cluster
  std::shared_ptr<actors::call_status_book> statuses_;
  std::shared_ptr<metrics::bridge_metrics> node_;
  std::function<std::chrono::system_clock::time_point()> wall_clock_;
  std::map<std::string, net::http_tool, std::less<>> tools_;  // TOOLS_FILE, by name
  // Reads recordings off the io threads; joined (pending reads finish) before the controller
  // goes, so no read outlives the server.
  std::unique_ptr<boost::asio::thread_pool> file_readers_;
  std::shared_ptr<actors::object_store> bucket_;  // null: recordings are local only
  std::string bucket_prefix_;                     // of RECORDINGS_BUCKET_URL
};

}  // namespace switchboard::app
