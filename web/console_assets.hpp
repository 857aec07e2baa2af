#pragma once
// The web console (web/index.html, console.js, console.css), served by the bridge from its own
// binary: GET / is the page, GET /console/<file> its script and style. The page talks to the
// call-control API (POST /calls, GET /calls, ...) with the operator's bearer token; the assets
// themselves hold no secret and need none.

#include "net/http_types.hpp"

#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::web {

struct asset {
  std::string_view body;
  std::string_view content_type;  // with charset for text
};

/// The asset a request path names: "/" is index.html, "/console/<file>" a file of the console.
/// Anything else (other paths, sub-folders, "..") is nothing.
std::optional<asset> console_asset(std::string_view path);

/// Sent with every asset: the page loads scripts, styles and fetches from this origin only
/// (blob: for recordings the page fetched itself), is never framed, and is not sniffed.
std::vector<std::pair<std::string, std::string>> console_security_headers();

/// The response to a GET of a console path, or nothing when the request is not one (another
/// method or path): the bridge's router then goes on to its other routes.
std::optional<net::http_response> console_response(const net::http_request& request);

}  // namespace switchboard::web
