// apache_cpp: the Echo service of idl/echo.thrift on Apache Thrift's C++ TThreadedServer
// (one thread per connection), framed transport, binary protocol.
//
// Usage: apache_cpp [ADDR]   (default 127.0.0.1:0). Prints "listening on ADDR" first on stdout,
// with the real port, once the socket listens.
//
// The IDL has no `namespace cpp`, so the generated types live in the global namespace.
// gen-cpp/ is produced by `thrift --gen cpp idl/echo.thrift` when scripts/bench.sh builds this
// file; it is not committed.

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TThreadedServer.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TServerSocket.h>

#include "Echo.h"

using apache::thrift::protocol::TBinaryProtocolFactory;
using apache::thrift::server::TServerEventHandler;
using apache::thrift::server::TThreadedServer;
using apache::thrift::transport::TFramedTransportFactory;
using apache::thrift::transport::TServerSocket;

namespace {

class EchoHandler : public ::EchoIf {
 public:
  void echo(std::string& result, const std::string& payload) override { result = payload; }
  void ping() override {}
  void sleep(const int32_t millis) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(millis > 0 ? millis : 0));
  }
  void fire(const std::string&) override {}
  void fail(std::string& result, const std::string& mode) override {
    if (mode == "error") {
      ::EchoError err;
      err.__set_message("requested failure");
      throw err;
    }
    if (mode == "panic") {
      throw std::runtime_error("requested panic");
    }
    result = mode;
  }
};

// Announces the address once TServerFramework has called listen(), when the real port is known.
class Announce : public TServerEventHandler {
 public:
  Announce(std::string host, std::shared_ptr<TServerSocket> socket)
      : host_(std::move(host)), socket_(std::move(socket)) {}
  void preServe() override {
    std::cout << "listening on " << host_ << ":" << socket_->getPort() << std::endl;
  }

 private:
  std::string host_;
  std::shared_ptr<TServerSocket> socket_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string addr = argc > 1 ? argv[1] : "127.0.0.1:0";
  auto colon = addr.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "apache_cpp: address must be HOST:PORT, got " << addr << std::endl;
    return 2;
  }
  std::string host = addr.substr(0, colon);
  int port = std::stoi(addr.substr(colon + 1));

  auto socket = std::make_shared<TServerSocket>(host, port);
  TThreadedServer server(std::make_shared<::EchoProcessor>(std::make_shared<EchoHandler>()),
                         socket, std::make_shared<TFramedTransportFactory>(),
                         std::make_shared<TBinaryProtocolFactory>());
  server.setServerEventHandler(std::make_shared<Announce>(host, socket));
  try {
    server.serve();
  } catch (const std::exception& e) {
    std::cerr << "apache_cpp: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
