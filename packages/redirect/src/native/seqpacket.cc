// Unix SOCK_SEQPACKET sockets (ZDS's transport): message boundaries kept by the kernel, and file
// descriptors passed as SCM_RIGHTS. Every call is non-blocking; readiness comes from the Poller.
#include <errno.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <vector>

#include "common.h"

namespace redirect {
namespace {

// More than ZDS ever sends (one): enough room that a peer sending several is seen, and rejected,
// rather than silently cut to one by the kernel.
constexpr size_t kMaxReceivedFds = 16;
constexpr size_t kMaxSentFds = 16;

sockaddr_un UnixAddress(Napi::Env env, Napi::Value value) {
  if (!value.IsString()) ThrowType(env, "path must be a string");
  const std::string path = value.As<Napi::String>().Utf8Value();
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path)) ThrowErrno(env, "socket path", ENAMETOOLONG);
  memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

int NewSeqpacketSocket(Napi::Env env) {
  const int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, "socket", errno);
  return fd;
}

// seqpacketConnect(path) → fd. A local connect finishes at once or fails (ENOENT, ECONNREFUSED,
// EAGAIN when the listener's backlog is full): the caller retries with backoff.
Napi::Value SeqpacketConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const sockaddr_un address = UnixAddress(env, info[0]);
  const int fd = NewSeqpacketSocket(env);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    const int err = errno;
    close(fd);
    ThrowErrno(env, "connect", err);
  }
  return Napi::Number::New(env, fd);
}

// seqpacketListen(path, backlog) → fd. The path must not exist: removing a stale one is the caller's choice.
Napi::Value SeqpacketListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const sockaddr_un address = UnixAddress(env, info[0]);
  const int backlog = static_cast<int>(IntValue(env, info[1], "backlog", 0, INT32_MAX));
  const int fd = NewSeqpacketSocket(env);
  const char* failed = nullptr;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    failed = "bind";
  } else if (listen(fd, backlog) != 0) {
    failed = "listen";
  }
  if (failed != nullptr) {
    const int err = errno;
    close(fd);
    ThrowErrno(env, failed, err);
  }
  return Napi::Number::New(env, fd);
}

// seqpacketAccept(fd) → fd, or null when no connection is waiting.
Napi::Value SeqpacketAccept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdArg(info, 0, "fd");
  for (;;) {
    const int accepted = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (accepted >= 0) return Napi::Number::New(env, accepted);
    if (errno == EINTR) continue;
    // A client that gave up before we accepted it is not our error: report "nothing waiting".
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED) return env.Null();
    ThrowErrno(env, "accept4", errno);
  }
}

// seqpacketSend(fd, bytes, fds?) → true when sent, false when the socket buffer is full (wait for
// writable and retry). The fds stay open here: the receiver gets its own duplicates.
Napi::Value SeqpacketSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdArg(info, 0, "fd");
  if (!info[1].IsTypedArray()) ThrowType(env, "bytes must be a Uint8Array");
  Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
  std::vector<int> fds;
  if (!info[2].IsUndefined() && !info[2].IsNull()) {
    if (!info[2].IsArray()) ThrowType(env, "fds must be an array of numbers");
    Napi::Array array = info[2].As<Napi::Array>();
    if (array.Length() > kMaxSentFds) ThrowType(env, "too many fds");
    for (uint32_t i = 0; i < array.Length(); i++) {
      fds.push_back(static_cast<int>(IntValue(env, array.Get(i), "fds[i]", 0, INT32_MAX)));
    }
  }

  iovec iov{bytes.Data(), bytes.ByteLength()};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.resize(CMSG_SPACE(sizeof(int) * fds.size()));
    message.msg_control = control.data();
    message.msg_controllen = control.size();
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    const ssize_t sent = sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent >= 0) {
      // A SEQPACKET send is all or nothing; anything else would split a message.
      if (static_cast<size_t>(sent) != bytes.ByteLength()) ThrowErrno(env, "sendmsg", EMSGSIZE);
      return Napi::Boolean::New(env, true);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
    ThrowErrno(env, "sendmsg", errno);
  }
}

// seqpacketRecv(fd, maxBytes) → { data, fds, truncated } or null when nothing is waiting. A
// zero-byte packet without fds is how SEQPACKET reports that the peer closed. `truncated` is set
// when the packet was longer than maxBytes or its fds did not fit; the caller owns (and must close)
// every fd returned, truncated or not.
Napi::Value SeqpacketRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = FdArg(info, 0, "fd");
  const auto maxBytes = static_cast<size_t>(IntValue(env, info[1], "maxBytes", 1, 1 << 20));
  std::vector<uint8_t> buffer(maxBytes);
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxReceivedFds)];
  iovec iov{buffer.data(), buffer.size()};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);

  ssize_t received;
  for (;;) {
    received = recvmsg(fd, &message, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (received >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return env.Null();
    ThrowErrno(env, "recvmsg", errno);
  }

  std::vector<int> fds;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const size_t n = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int receivedFd;
      memcpy(&receivedFd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
      fds.push_back(receivedFd);
    }
  }

  // From here the fds are ours: if building the result fails, close them rather than leak them.
  try {
    Napi::Array fdArray = Napi::Array::New(env, fds.size());
    for (size_t i = 0; i < fds.size(); i++) fdArray.Set(static_cast<uint32_t>(i), Napi::Number::New(env, fds[i]));
    Napi::Object result = Napi::Object::New(env);
    result.Set("data", Napi::Buffer<uint8_t>::Copy(env, buffer.data(), static_cast<size_t>(received)));
    result.Set("fds", fdArray);
    result.Set("truncated", Napi::Boolean::New(env, (message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0));
    return result;
  } catch (...) {
    for (const int receivedFd : fds) close(receivedFd);
    throw;
  }
}

}  // namespace

void InitSeqpacket(Napi::Env env, Napi::Object exports) {
  exports.Set("seqpacketConnect", Napi::Function::New(env, SeqpacketConnect, "seqpacketConnect"));
  exports.Set("seqpacketListen", Napi::Function::New(env, SeqpacketListen, "seqpacketListen"));
  exports.Set("seqpacketAccept", Napi::Function::New(env, SeqpacketAccept, "seqpacketAccept"));
  exports.Set("seqpacketSend", Napi::Function::New(env, SeqpacketSend, "seqpacketSend"));
  exports.Set("seqpacketRecv", Napi::Function::New(env, SeqpacketRecv, "seqpacketRecv"));
}

}  // namespace redirect
