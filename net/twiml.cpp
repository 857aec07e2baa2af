#include "net/twiml.hpp"

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>

#include <sstream>

namespace switchboard::net {

namespace {
// connect_stream is an aggregate that a std::string could initialise: say which side we mean.
boost::system::result<connect_stream, std::string> twiml_error(std::string message) {
  return {boost::system::in_place_error, std::move(message)};
}

void append_xml_escaped(std::string& out, std::string_view text) {
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 has no way to write the other C0 controls, even as references: a form value
        // holding one would make the whole document unreadable to Twilio.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r')
          out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
        else
          out.push_back(c);
    }
  }
}
}  // namespace

std::string connect_stream_twiml(std::string_view stream_url,
                                 std::span<const form_parameter> parameters,
                                 std::string_view action_url) {
  std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?><Response><Connect)";
  if (!action_url.empty()) {
    xml += R"( action=")";
    append_xml_escaped(xml, action_url);
    xml += '"';
  }
  xml += R"(><Stream url=")";
  append_xml_escaped(xml, stream_url);
  xml += "\">";
  for (const auto& parameter : parameters) {
    xml += R"(<Parameter name=")";
    append_xml_escaped(xml, parameter.name);
    xml += R"(" value=")";
    append_xml_escaped(xml, parameter.value);
    xml += "\"/>";
  }
  xml += "</Stream></Connect></Response>";
  return xml;
}

std::string say_and_hang_up_twiml(std::string_view message) {
  std::string printable;
  printable.reserve(message.size());
  for (const char c : message) {
    if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n' || c == '\r')
      printable.push_back(c);
  }
  std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?><Response><Say>)";
  append_xml_escaped(xml, printable);
  xml += "</Say><Hangup/></Response>";
  return xml;
}

std::string hang_up_twiml() {
  return R"(<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>)";
}

std::string dial_twiml(std::string_view to) {
  std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?><Response><Dial>)";
  append_xml_escaped(xml, to);
  xml += "</Dial></Response>";
  return xml;
}

boost::system::result<connect_stream, std::string> parse_connect_stream_twiml(
    std::string_view xml) {
  namespace pt = boost::property_tree;
  pt::ptree tree;
  try {
    std::istringstream in{std::string(xml)};
    pt::read_xml(in, tree);
  } catch (const pt::xml_parser_error& error) {
    return twiml_error(std::string("TwiML is not XML: ") + error.what());
  }
  const auto stream = tree.get_child_optional("Response.Connect.Stream");
  if (!stream)
    return twiml_error("TwiML has no <Response><Connect><Stream>");
  connect_stream out;
  out.url = stream->get<std::string>("<xmlattr>.url", "");
  if (out.url.empty())
    return twiml_error("<Stream> has no url");
  for (const auto& [name, child] : *stream) {
    if (name != "Parameter")
      continue;
    out.parameters.push_back({child.get<std::string>("<xmlattr>.name", ""),
                              child.get<std::string>("<xmlattr>.value", "")});
  }
  out.action = tree.get<std::string>("Response.Connect.<xmlattr>.action", "");
  out.action_method = tree.get<std::string>("Response.Connect.<xmlattr>.method", "POST");
  if (out.action_method != "GET" && out.action_method != "POST")
    return twiml_error("<Connect method> is neither GET nor POST: " + out.action_method);
  return out;
}

std::optional<std::string> parse_say_and_hang_up_twiml(std::string_view xml) {
  namespace pt = boost::property_tree;
  pt::ptree tree;
  try {
    std::istringstream in{std::string(xml)};
    pt::read_xml(in, tree);
  } catch (const pt::xml_parser_error&) {
    return std::nullopt;
  }
  const auto response = tree.get_child_optional("Response");
  if (!response || response->get_child_optional("Connect") ||
      !response->get_child_optional("Hangup"))
    return std::nullopt;
  return response->get<std::string>("Say", "");
}

}  // namespace switchboard::net
