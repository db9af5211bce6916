// Argument parsing and error construction shared by every function of the addon.
#include <arpa/inet.h>
#include <string.h>

#include <cmath>
#include <limits>

#include "common.h"

namespace redirect {

Napi::Error ErrnoError(Napi::Env env, const char* syscall, int err) {
  // strerrorname_np (glibc 2.32+) gives the symbolic name Node users match on ("ECONNREFUSED").
  const char* name = strerrorname_np(err);
  std::string code = name != nullptr ? name : "E";
  if (name == nullptr) code += std::to_string(err);
  Napi::Error error = Napi::Error::New(env, std::string(syscall) + " " + code + ": " + strerror(err));
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

void ThrowErrno(Napi::Env env, const char* syscall, int err) { throw ErrnoError(env, syscall, err); }

void ThrowType(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }

int64_t IntValue(Napi::Env env, Napi::Value value, const char* name, int64_t min, int64_t max) {
  if (!value.IsNumber()) ThrowType(env, std::string(name) + " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(number) || std::trunc(number) != number || number < static_cast<double>(min) ||
      number > static_cast<double>(max)) {
    ThrowType(env, std::string(name) + " must be an integer from " + std::to_string(min) + " to " +
                       std::to_string(max));
  }
  return static_cast<int64_t>(number);
}

int FdArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  return static_cast<int>(IntValue(info.Env(), info[index], name, 0, std::numeric_limits<int32_t>::max()));
}

int FamilyValue(Napi::Env env, Napi::Value value) {
  const int64_t family = IntValue(env, value, "family", 4, 6);
  if (family == 4) return AF_INET;
  if (family == 6) return AF_INET6;
  ThrowType(env, "family must be 4 or 6");
}

SocketAddress ParseSocketAddress(Napi::Env env, int family, const std::string& address, int port) {
  SocketAddress result;
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&result.storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, address.c_str(), &sin->sin_addr) != 1) {
      ThrowType(env, "'" + address + "' is not an IPv4 address");
    }
    result.length = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&result.storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, address.c_str(), &sin6->sin6_addr) != 1) {
      ThrowType(env, "'" + address + "' is not an IPv6 address");
    }
    result.length = sizeof(sockaddr_in6);
  }
  return result;
}

Napi::Object SocketAddressToObject(Napi::Env env, const sockaddr_storage& storage) {
  char text[INET6_ADDRSTRLEN] = {0};
  Napi::Object result = Napi::Object::New(env);
  if (storage.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
    result.Set("address", Napi::String::New(env, text));
    result.Set("port", Napi::Number::New(env, ntohs(sin->sin_port)));
    result.Set("family", Napi::Number::New(env, 4));
  } else {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
    result.Set("address", Napi::String::New(env, text));
    result.Set("port", Napi::Number::New(env, ntohs(sin6->sin6_port)));
    result.Set("family", Napi::Number::New(env, 6));
  }
  return result;
}

std::optional<bool> OptionalBool(Napi::Object options, const char* key) {
  Napi::Value value = options.Get(key);
  if (value.IsUndefined()) return std::nullopt;
  if (!value.IsBoolean()) ThrowType(options.Env(), std::string(key) + " must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

std::optional<int64_t> OptionalInt(Napi::Object options, const char* key, int64_t min, int64_t max) {
  Napi::Value value = options.Get(key);
  if (value.IsUndefined()) return std::nullopt;
  return IntValue(options.Env(), value, key, min, max);
}

std::optional<std::string> OptionalString(Napi::Object options, const char* key) {
  Napi::Value value = options.Get(key);
  if (value.IsUndefined()) return std::nullopt;
  if (!value.IsString()) ThrowType(options.Env(), std::string(key) + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

}  // namespace redirect
