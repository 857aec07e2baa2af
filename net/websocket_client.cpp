#include "net/websocket_client.hpp"

#include "net/detail/websocket_connector_api.hpp"

#include <boost/url/parse.hpp>

namespace switchboard::net {

boost::system::result<websocket_url, std::string> parse_websocket_url(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed)
    return "not a URL: '" + std::string(url) + "'";
  websocket_url out;
  const auto scheme = parsed->scheme();
  if (scheme == "wss") {
    out.secure = true;
  } else if (scheme != "ws") {
    return "scheme must be ws:// or wss://, got '" + std::string(scheme) + "://'";
  }
  out.host = parsed->host_address();  // no brackets around IPv6
  if (out.host.empty())
    return "no host in '" + std::string(url) + "'";
  out.port = parsed->has_port() ? std::string(parsed->port()) : (out.secure ? "443" : "80");
  out.target = std::string(parsed->encoded_resource());  // path?query, without the fragment
  const auto fragment = out.target.find('#');
  if (fragment != std::string::npos)
    out.target.resize(fragment);
  if (out.target.empty() || out.target.front() != '/')
    out.target.insert(0, "/");
  return out;
}

void connect_websocket(boost::asio::io_context& io, websocket_client_options options,
                       std::shared_ptr<websocket_handler> handler) {
  auto url = parse_websocket_url(options.url);
  if (!url)
    return handler->on_connect_failed({url.error(), 0});
  if (url->secure) {
    if (!options.tls)
      return handler->on_connect_failed({"wss:// needs a TLS context", 0});
    return detail::connect_tls_websocket(io, std::move(*url), std::move(options),
                                         std::move(handler));
  }
  detail::connect_plain_websocket(io, std::move(*url), std::move(options), std::move(handler));
}

}  // namespace switchboard::net
