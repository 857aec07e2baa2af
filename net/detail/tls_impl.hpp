#pragma once
// Internal to net/: the OpenSSL context behind net::tls_context. Included by the TLS TUs only.

#include "net/tls.hpp"

#include <boost/asio/ssl/context.hpp>

namespace switchboard::net {

struct tls_context::impl {
  explicit impl(boost::asio::ssl::context::method method) : context(method) {}
  boost::asio::ssl::context context;
};

}  // namespace switchboard::net
