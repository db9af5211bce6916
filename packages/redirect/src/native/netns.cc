// Sockets made inside another network namespace (a pod's): the calling thread enters the
// namespace, creates and configures the socket, and returns. A socket belongs to the namespace it
// was created in for its whole life, so the thread only needs to be there for socket() itself; we
// also bind and listen/connect there so that every address is resolved in the pod's namespace.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "common.h"

namespace redirect {
namespace {

// The namespace this process runs in, opened once: the place every thread returns to. Opened at
// first use by whichever thread asks first, which is in the process's namespace because no thread
// stays anywhere else.
int HomeNetnsFd(Napi::Env env) {
  static const int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  static const int openError = home < 0 ? errno : 0;
  if (home < 0) ThrowErrno(env, "open(/proc/thread-self/ns/net)", openError);
  return home;
}

// Moves the calling thread into a namespace for the guard's scope. Leaving always returns home;
// if that fails the process aborts: a thread left in a pod's namespace would silently open every
// later socket (listeners, xDS, metrics) in the wrong network, which is worse than a crash.
class NetnsGuard {
 public:
  NetnsGuard(Napi::Env env, std::optional<int> target) : home_(HomeNetnsFd(env)), entered_(false) {
    if (!target.has_value()) return;
    if (setns(*target, CLONE_NEWNET) != 0) ThrowErrno(env, "setns", errno);
    entered_ = true;
  }

  ~NetnsGuard() {
    if (!entered_) return;
    if (setns(home_, CLONE_NEWNET) != 0) {
      std::fprintf(stderr, "@ambient/redirect: cannot return the thread to its own network namespace: %s\n",
                   strerror(errno));
      std::abort();
    }
  }

  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

 private:
  int home_;
  bool entered_;
};

// Everything needed to make one TCP socket, parsed from JS before entering the namespace, so no
// JS runs (and nothing can throw) while the thread is away.
struct SocketSpec {
  int family = AF_INET;
  std::optional<SocketAddress> bind;
  std::optional<int> listenBacklog;
  std::optional<SocketAddress> connectTo;
  std::optional<uint32_t> mark;
  bool transparent = false;
  bool freebind = false;
  bool reusePort = false;
  std::optional<bool> v6Only;
};

// A syscall outcome that is turned into a JS error only after returning home.
struct Outcome {
  int fd = -1;
  const char* failedCall = nullptr;
  int err = 0;
};

Outcome Fail(int fd, const char* call) {
  const int err = errno;
  if (fd >= 0) close(fd);
  return Outcome{-1, call, err};
}

bool SetOption(int fd, int level, int option, int value) {
  return setsockopt(fd, level, option, &value, sizeof(value)) == 0;
}

Outcome CreateSocket(const SocketSpec& spec) noexcept {
  const int fd = socket(spec.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return Fail(fd, "socket");
  const bool v4 = spec.family == AF_INET;
  if (spec.mark.has_value() && !SetOption(fd, SOL_SOCKET, SO_MARK, static_cast<int>(*spec.mark))) {
    return Fail(fd, "setsockopt(SO_MARK)");
  }
  if (spec.transparent && !SetOption(fd, v4 ? SOL_IP : SOL_IPV6, v4 ? IP_TRANSPARENT : IPV6_TRANSPARENT, 1)) {
    return Fail(fd, v4 ? "setsockopt(IP_TRANSPARENT)" : "setsockopt(IPV6_TRANSPARENT)");
  }
  if (spec.freebind && !SetOption(fd, v4 ? SOL_IP : SOL_IPV6, v4 ? IP_FREEBIND : IPV6_FREEBIND, 1)) {
    return Fail(fd, v4 ? "setsockopt(IP_FREEBIND)" : "setsockopt(IPV6_FREEBIND)");
  }
  if (spec.reusePort && !SetOption(fd, SOL_SOCKET, SO_REUSEPORT, 1)) return Fail(fd, "setsockopt(SO_REUSEPORT)");
  if (spec.v6Only.has_value() && !v4 && !SetOption(fd, SOL_IPV6, IPV6_V6ONLY, *spec.v6Only ? 1 : 0)) {
    return Fail(fd, "setsockopt(IPV6_V6ONLY)");
  }
  // Like libuv's own listeners: a restarted listener can bind while old connections sit in TIME_WAIT.
  if (spec.listenBacklog.has_value() && !SetOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)) {
    return Fail(fd, "setsockopt(SO_REUSEADDR)");
  }
  if (spec.bind.has_value() &&
      bind(fd, reinterpret_cast<const sockaddr*>(&spec.bind->storage), spec.bind->length) != 0) {
    return Fail(fd, "bind");
  }
  if (spec.listenBacklog.has_value() && listen(fd, *spec.listenBacklog) != 0) return Fail(fd, "listen");
  if (spec.connectTo.has_value() &&
      connect(fd, reinterpret_cast<const sockaddr*>(&spec.connectTo->storage), spec.connectTo->length) != 0 &&
      errno != EINPROGRESS) {
    return Fail(fd, "connect");
  }
  return Outcome{fd, nullptr, 0};
}

std::optional<int> NetnsArg(const Napi::CallbackInfo& info) {
  if (info[0].IsNull() || info[0].IsUndefined()) return std::nullopt;
  return FdArg(info, 0, "netnsFd");
}

Napi::Object OptionsArg(const Napi::CallbackInfo& info) {
  if (!info[1].IsObject()) ThrowType(info.Env(), "options must be an object");
  return info[1].As<Napi::Object>();
}

void ReadCommonOptions(Napi::Object options, SocketSpec& spec) {
  spec.family = FamilyValue(options.Env(), options.Get("family"));
  if (auto mark = OptionalInt(options, "mark", 0, UINT32_MAX)) spec.mark = static_cast<uint32_t>(*mark);
  spec.transparent = OptionalBool(options, "transparent").value_or(false);
  spec.freebind = OptionalBool(options, "freebind").value_or(false);
}

Napi::Value RunInNetns(Napi::Env env, std::optional<int> netnsFd, const SocketSpec& spec) {
  Outcome outcome;
  {
    NetnsGuard guard(env, netnsFd);
    outcome = CreateSocket(spec);
  }
  if (outcome.failedCall != nullptr) ThrowErrno(env, outcome.failedCall, outcome.err);
  return Napi::Number::New(env, outcome.fd);
}

// socketInNetns(netnsFd | null, { family, type: 'stream', bind?: { address, port }, listen?: backlog,
//   mark?, transparent?, freebind?, reusePort?, v6Only? }) → fd
Napi::Value SocketInNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::optional<int> netnsFd = NetnsArg(info);
  Napi::Object options = OptionsArg(info);
  SocketSpec spec;
  ReadCommonOptions(options, spec);
  const Napi::Value type = options.Get("type");
  if (!type.IsUndefined() && (!type.IsString() || type.As<Napi::String>().Utf8Value() != "stream")) {
    ThrowType(env, "type must be 'stream'");
  }
  spec.reusePort = OptionalBool(options, "reusePort").value_or(false);
  spec.v6Only = OptionalBool(options, "v6Only");
  const Napi::Value bindValue = options.Get("bind");
  if (!bindValue.IsUndefined()) {
    if (!bindValue.IsObject()) ThrowType(env, "bind must be { address, port }");
    Napi::Object bindObject = bindValue.As<Napi::Object>();
    const auto address = OptionalString(bindObject, "address");
    if (!address.has_value()) ThrowType(env, "bind.address must be a string");
    const auto port = static_cast<int>(IntValue(env, bindObject.Get("port"), "bind.port", 0, 65535));
    spec.bind = ParseSocketAddress(env, spec.family, *address, port);
  }
  if (auto backlog = OptionalInt(options, "listen", 0, INT32_MAX)) spec.listenBacklog = static_cast<int>(*backlog);
  return RunInNetns(env, netnsFd, spec);
}

// connectInNetns(netnsFd | null, { family, address, port, bindAddress?, bindPort?, mark?,
//   transparent?, freebind? }) → fd, with the connect started (EINPROGRESS) but not finished.
Napi::Value ConnectInNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::optional<int> netnsFd = NetnsArg(info);
  Napi::Object options = OptionsArg(info);
  SocketSpec spec;
  ReadCommonOptions(options, spec);
  const auto address = OptionalString(options, "address");
  if (!address.has_value()) ThrowType(env, "address must be a string");
  const auto port = static_cast<int>(IntValue(env, options.Get("port"), "port", 1, 65535));
  spec.connectTo = ParseSocketAddress(env, spec.family, *address, port);
  const auto bindAddress = OptionalString(options, "bindAddress");
  const auto bindPort = OptionalInt(options, "bindPort", 0, 65535);
  if (bindAddress.has_value()) {
    spec.bind = ParseSocketAddress(env, spec.family, *bindAddress, static_cast<int>(bindPort.value_or(0)));
  } else if (bindPort.has_value()) {
    ThrowType(env, "bindPort needs bindAddress");
  }
  return RunInNetns(env, netnsFd, spec);
}

// { dev, ino } of any fd; two namespace fds name the same namespace when both are equal.
Napi::Value NetnsInode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdArg(info, 0, "fd");
  struct stat status{};
  if (fstat(fd, &status) != 0) ThrowErrno(env, "fstat", errno);
  Napi::Object result = Napi::Object::New(env);
  result.Set("dev", Napi::Number::New(env, static_cast<double>(status.st_dev)));
  result.Set("ino", Napi::Number::New(env, static_cast<double>(status.st_ino)));
  return result;
}

}  // namespace

void InitNetns(Napi::Env env, Napi::Object exports) {
  exports.Set("socketInNetns", Napi::Function::New(env, SocketInNetns, "socketInNetns"));
  exports.Set("connectInNetns", Napi::Function::New(env, ConnectInNetns, "connectInNetns"));
  exports.Set("netnsInode", Napi::Function::New(env, NetnsInode, "netnsInode"));
}

}  // namespace redirect
