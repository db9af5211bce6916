// Socket options Node does not expose: the pre-NAT destination of a redirected connection, the
// packet mark, transparent and freebind binding, SO_REUSEPORT, and the pending error of a connect.
#include <errno.h>
#include <unistd.h>

#include "common.h"

// From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>, which do not mix with
// glibc's headers in C++: both ask conntrack for the destination before REDIRECT rewrote it.
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

namespace redirect {
namespace {

void SetIntOption(Napi::Env env, int fd, int level, int option, int value, const char* what) {
  if (setsockopt(fd, level, option, &value, sizeof(value)) != 0) ThrowErrno(env, what, errno);
}

int GetIntOption(Napi::Env env, int fd, int level, int option, const char* what) {
  int value = 0;
  socklen_t length = sizeof(value);
  if (getsockopt(fd, level, option, &value, &length) != 0) ThrowErrno(env, what, errno);
  return value;
}

int SocketFamily(Napi::Env env, int fd) {
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) ThrowErrno(env, "getsockname", errno);
  return local.ss_family;
}

// A connection accepted on a REDIRECTed port: ask conntrack where it was going. An IPv6 listener
// on [::] also accepts IPv4 clients (v4-mapped), whose entry is in the IPv4 table, so an IPv6
// socket tries IPv4 first, as ztunnel does.
Napi::Value OriginalDestination(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdArg(info, 0, "fd");
  const int family = SocketFamily(env, fd);
  if (family != AF_INET && family != AF_INET6) ThrowErrno(env, "getsockopt(SO_ORIGINAL_DST)", EAFNOSUPPORT);

  sockaddr_storage destination{};
  socklen_t length = sizeof(sockaddr_in);
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &destination, &length) == 0) {
    return SocketAddressToObject(env, destination);
  }
  if (family == AF_INET) ThrowErrno(env, "getsockopt(SO_ORIGINAL_DST)", errno);

  destination = {};
  length = sizeof(sockaddr_in6);
  if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &destination, &length) == 0) {
    return SocketAddressToObject(env, destination);
  }
  ThrowErrno(env, "getsockopt(IP6T_SO_ORIGINAL_DST)", errno);
}

Napi::Value SetMark(const Napi::CallbackInfo& info) {
  const int fd = FdArg(info, 0, "fd");
  const auto mark = static_cast<uint32_t>(IntValue(info.Env(), info[1], "mark", 0, UINT32_MAX));
  SetIntOption(info.Env(), fd, SOL_SOCKET, SO_MARK, static_cast<int>(mark), "setsockopt(SO_MARK)");
  return info.Env().Undefined();
}

Napi::Value GetMark(const Napi::CallbackInfo& info) {
  const int fd = FdArg(info, 0, "fd");
  const int mark = GetIntOption(info.Env(), fd, SOL_SOCKET, SO_MARK, "getsockopt(SO_MARK)");
  return Napi::Number::New(info.Env(), static_cast<uint32_t>(mark));
}

Napi::Value SetTransparent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdArg(info, 0, "fd");
  if (!info[1].IsBoolean()) ThrowType(env, "on must be a boolean");
  const int on = info[1].As<Napi::Boolean>().Value() ? 1 : 0;
  if (FamilyValue(env, info[2]) == AF_INET) {
    SetIntOption(env, fd, SOL_IP, IP_TRANSPARENT, on, "setsockopt(IP_TRANSPARENT)");
  } else {
    SetIntOption(env, fd, SOL_IPV6, IPV6_TRANSPARENT, on, "setsockopt(IPV6_TRANSPARENT)");
  }
  return env.Undefined();
}

Napi::Value GetTransparent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdArg(info, 0, "fd");
  const int on = FamilyValue(env, info[1]) == AF_INET
                     ? GetIntOption(env, fd, SOL_IP, IP_TRANSPARENT, "getsockopt(IP_TRANSPARENT)")
                     : GetIntOption(env, fd, SOL_IPV6, IPV6_TRANSPARENT, "getsockopt(IPV6_TRANSPARENT)");
  return Napi::Boolean::New(env, on != 0);
}

Napi::Value SetFreebind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdArg(info, 0, "fd");
  if (!info[1].IsBoolean()) ThrowType(env, "on must be a boolean");
  const int on = info[1].As<Napi::Boolean>().Value() ? 1 : 0;
  if (FamilyValue(env, info[2]) == AF_INET) {
    SetIntOption(env, fd, SOL_IP, IP_FREEBIND, on, "setsockopt(IP_FREEBIND)");
  } else {
    SetIntOption(env, fd, SOL_IPV6, IPV6_FREEBIND, on, "setsockopt(IPV6_FREEBIND)");
  }
  return env.Undefined();
}

Napi::Value SetReusePort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdArg(info, 0, "fd");
  if (!info[1].IsBoolean()) ThrowType(env, "on must be a boolean");
  SetIntOption(env, fd, SOL_SOCKET, SO_REUSEPORT, info[1].As<Napi::Boolean>().Value() ? 1 : 0,
               "setsockopt(SO_REUSEPORT)");
  return env.Undefined();
}

Napi::Value GetReusePort(const Napi::CallbackInfo& info) {
  const int fd = FdArg(info, 0, "fd");
  return Napi::Boolean::New(info.Env(),
                            GetIntOption(info.Env(), fd, SOL_SOCKET, SO_REUSEPORT, "getsockopt(SO_REUSEPORT)") != 0);
}

// The outcome of a non-blocking connect once the socket is writable: null, or the error (not thrown).
Napi::Value SocketError(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdArg(info, 0, "fd");
  const int err = GetIntOption(env, fd, SOL_SOCKET, SO_ERROR, "getsockopt(SO_ERROR)");
  if (err == 0) return env.Null();
  return ErrnoError(env, "connect", err).Value();
}

Napi::Value LocalAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdArg(info, 0, "fd");
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) ThrowErrno(env, "getsockname", errno);
  if (local.ss_family != AF_INET && local.ss_family != AF_INET6) ThrowErrno(env, "getsockname", EAFNOSUPPORT);
  return SocketAddressToObject(env, local);
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  const int fd = FdArg(info, 0, "fd");
  // Linux releases the descriptor even when close reports EINTR, so retrying could close another
  // file opened meanwhile: report only EBADF, the caller's bug.
  if (close(fd) != 0 && errno == EBADF) ThrowErrno(info.Env(), "close", EBADF);
  return info.Env().Undefined();
}

}  // namespace

void InitSockopt(Napi::Env env, Napi::Object exports) {
  exports.Set("originalDestination", Napi::Function::New(env, OriginalDestination, "originalDestination"));
  exports.Set("setMark", Napi::Function::New(env, SetMark, "setMark"));
  exports.Set("getMark", Napi::Function::New(env, GetMark, "getMark"));
  exports.Set("setTransparent", Napi::Function::New(env, SetTransparent, "setTransparent"));
  exports.Set("getTransparent", Napi::Function::New(env, GetTransparent, "getTransparent"));
  exports.Set("setFreebind", Napi::Function::New(env, SetFreebind, "setFreebind"));
  exports.Set("setReusePort", Napi::Function::New(env, SetReusePort, "setReusePort"));
  exports.Set("getReusePort", Napi::Function::New(env, GetReusePort, "getReusePort"));
  exports.Set("socketError", Napi::Function::New(env, SocketError, "socketError"));
  exports.Set("localAddress", Napi::Function::New(env, LocalAddress, "localAddress"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
}

}  // namespace redirect
