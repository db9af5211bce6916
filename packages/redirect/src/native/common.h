// Shared helpers of the redirect addon: argument checks and errors shaped like Node's system errors.
#pragma once

#include <napi.h>

#include <cstdint>
#include <optional>
#include <string>

#include <netinet/in.h>
#include <sys/socket.h>

// Older C libraries lack the IPv6 spellings of these Linux options.
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

namespace redirect {

// A JS Error like Node's own system errors: message "<syscall> <CODE>: <text>", `code` ("EINVAL"),
// `errno` (negative, libuv-style, as Node reports it) and `syscall`.
Napi::Error ErrnoError(Napi::Env env, const char* syscall, int err);

// Throws ErrnoError: every failing syscall surfaces as a catchable JS exception, never a crash.
[[noreturn]] void ThrowErrno(Napi::Env env, const char* syscall, int err);

// A TypeError for a bad argument; the message names the argument.
[[noreturn]] void ThrowType(Napi::Env env, const std::string& message);

// info[index] as a file descriptor: an integer from 0 to INT32_MAX.
int FdArg(const Napi::CallbackInfo& info, size_t index, const char* name);

// value as an integer within [min, max]; `name` is used in the error message.
int64_t IntValue(Napi::Env env, Napi::Value value, const char* name, int64_t min, int64_t max);

// 4 or 6 → AF_INET or AF_INET6.
int FamilyValue(Napi::Env env, Napi::Value value);

// An IP literal and a port of the given family as a socket address.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};
SocketAddress ParseSocketAddress(Napi::Env env, int family, const std::string& address, int port);

// A socket address as { address, port, family: 4 | 6 }.
Napi::Object SocketAddressToObject(Napi::Env env, const sockaddr_storage& storage);

// Optional properties of an options object.
std::optional<bool> OptionalBool(Napi::Object options, const char* key);
std::optional<int64_t> OptionalInt(Napi::Object options, const char* key, int64_t min, int64_t max);
std::optional<std::string> OptionalString(Napi::Object options, const char* key);

void InitSockopt(Napi::Env env, Napi::Object exports);
void InitNetns(Napi::Env env, Napi::Object exports);
void InitSeqpacket(Napi::Env env, Napi::Object exports);
void InitPoller(Napi::Env env, Napi::Object exports);

}  // namespace redirect
