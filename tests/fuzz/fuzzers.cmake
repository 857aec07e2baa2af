# The libFuzzer targets: one line each. Read by the main build (to register a CTest test per
# target) and by project/ (to build it with clang). A target <name> needs <name>.cpp next to
# this file, seed inputs in seeds/<name>/ and a minimised corpus in corpus/<name>/ (bench/fuzz
# --merge refreshes it); SOURCES are paths from the repository root.
switchboard_fuzzer(fuzz_twilio_messages SOURCES net/twilio_messages.cpp net/wire_json.cpp net/base64.cpp)
switchboard_fuzzer(fuzz_realtime_events SOURCES net/realtime_messages.cpp net/wire_json.cpp net/base64.cpp)
switchboard_fuzzer(fuzz_twilio_signature SOURCES net/twilio_signature.cpp net/form_body.cpp net/base64.cpp)
switchboard_fuzzer(fuzz_wav_header SOURCES audio/wav_format.cpp audio/wav_error.cpp audio/posix_file.cpp)
switchboard_fuzzer(fuzz_dotenv SOURCES config/dotenv.cpp config/read_file.cpp config/error.cpp)
switchboard_fuzzer(fuzz_twiml SOURCES net/twiml.cpp)
switchboard_fuzzer(fuzz_http_request SOURCES app/call_api_requests.cpp net/http_types.cpp
  net/http_message.cpp net/form_body.cpp net/twilio_signature.cpp net/twilio_webhook.cpp
  net/twiml.cpp net/call_token.cpp net/base64.cpp)
switchboard_fuzzer(fuzz_websocket_frames SOURCES net/twilio_messages.cpp net/wire_json.cpp
  net/base64.cpp)
