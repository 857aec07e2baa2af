#include "net/url.hpp"

#include <boost/url/parse.hpp>

namespace switchboard::net {

boost::system::result<endpoint_url, std::string> split_endpoint_url(
    std::string_view url, std::string_view plain_scheme, std::string_view secure_scheme) {
  // A NUL-terminated copy: Boost.URL 1.81 may read past the end of a view (see
  // twilio_signature.cpp).
  const std::string text(url);
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed)
    return "not a URL: '" + text + "'";
  endpoint_url out;
  const auto scheme = parsed->scheme();
  if (scheme == secure_scheme) {
    out.secure = true;
  } else if (scheme != plain_scheme) {
    return "scheme must be " + std::string(plain_scheme) + ":// or " + std::string(secure_scheme) +
           "://, got '" + std::string(scheme) + "://'";
  }
  if (parsed->has_userinfo()) {
    return "credentials in the URL are not supported (use an Authorization header): '" +
           std::string(parsed->encoded_host_and_port()) + "'";
  }
  out.host = parsed->host_address();
  if (out.host.empty())
    return "no host in '" + text + "'";
  out.port = parsed->has_port() ? std::string(parsed->port()) : (out.secure ? "443" : "80");
  out.target = std::string(parsed->encoded_resource());
  if (const auto fragment = out.target.find('#'); fragment != std::string::npos) {
    out.target.resize(fragment);
  }
  if (out.target.empty() || out.target.front() != '/')
    out.target.insert(0, "/");
  return out;
}

}  // namespace switchboard::net
