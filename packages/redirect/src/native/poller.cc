// Poller: readiness of a raw fd on Node's own event loop (a libuv poll handle), for the fds Node
// has no stream type for (SEQPACKET sockets) or that it cannot connect itself (sockets made in
// another namespace). No thread and no busy polling: libuv's epoll wakes us.
//
//   new Poller(fd, (readable: boolean, writable: boolean, error: string | null) => void)
//   poller.start(readable, writable)  // level-triggered: fires while the condition holds
//   poller.stop()
//   poller.close()                    // before closing the fd; idempotent
//   poller.ref() / poller.unref()     // whether an active poller keeps the process alive
//
// The poller never owns the fd. libuv allows one poll handle per fd, so close it before handing the
// fd to a net.Socket or net.Server.
#include <uv.h>

#include <memory>

#include "common.h"

namespace redirect {
namespace {

class Poller : public Napi::ObjectWrap<Poller> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Poller",
                       {
                           InstanceMethod<&Poller::Start>("start"),
                           InstanceMethod<&Poller::Stop>("stop"),
                           InstanceMethod<&Poller::Close>("close"),
                           InstanceMethod<&Poller::RefLoop>("ref"),
                           InstanceMethod<&Poller::UnrefLoop>("unref"),
                       });
  }

  explicit Poller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Poller>(info) {
    Napi::Env env = info.Env();
    const int fd = FdArg(info, 0, "fd");
    if (!info[1].IsFunction()) ThrowType(env, "callback must be a function");
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      throw Napi::Error::New(env, "no event loop");
    }
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "RedirectPoller", info.This().As<Napi::Object>());
    // Last, so that nothing can throw once libuv knows the handle.
    auto handle = std::make_unique<uv_poll_t>();
    const int status = uv_poll_init(loop, handle.get(), fd);
    if (status != 0) {
      throw Napi::Error::New(env, std::string("uv_poll_init ") + uv_err_name(status) + ": " + uv_strerror(status));
    }
    handle_ = handle.release();
    handle_->data = this;
  }

  ~Poller() override { CloseHandle(); }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (handle_ == nullptr) throw Napi::Error::New(env, "poller is closed");
    if (!info[0].IsBoolean() || !info[1].IsBoolean()) ThrowType(env, "start(readable, writable) takes booleans");
    const int events = (info[0].As<Napi::Boolean>().Value() ? UV_READABLE : 0) |
                       (info[1].As<Napi::Boolean>().Value() ? UV_WRITABLE : 0);
    if (events == 0) {
      StopPolling();
      return env.Undefined();
    }
    const int status = uv_poll_start(handle_, events, OnPoll);
    if (status != 0) {
      throw Napi::Error::New(env, std::string("uv_poll_start ") + uv_err_name(status) + ": " + uv_strerror(status));
    }
    // While active, libuv holds a pointer to us: keep the JS object (and so this C++ object) alive.
    if (!pinned_) {
      Ref();
      pinned_ = true;
    }
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    StopPolling();
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    StopPolling();
    CloseHandle();
    callback_.Reset();
    return info.Env().Undefined();
  }

  Napi::Value RefLoop(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(handle_));
    return info.Env().Undefined();
  }

  Napi::Value UnrefLoop(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(handle_));
    return info.Env().Undefined();
  }

  void StopPolling() {
    if (handle_ != nullptr) uv_poll_stop(handle_);
    if (pinned_) {
      pinned_ = false;
      Unref();
    }
  }

  // uv_close stops watching the fd at once; the memory is freed on the loop's next turn.
  void CloseHandle() {
    if (handle_ == nullptr) return;
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(handle_),
             [](uv_handle_t* closed) { delete reinterpret_cast<uv_poll_t*>(closed); });
    handle_ = nullptr;
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<Poller*>(handle->data);
    if (self == nullptr || self->callback_.IsEmpty()) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    Napi::Value error = status < 0 ? Napi::String::New(env, uv_err_name(status)).As<Napi::Value>() : env.Null();
    // An error reports every direction ready, so the JS side reads or writes and sees the failure.
    const bool readable = status < 0 || (events & UV_READABLE) != 0;
    const bool writable = status < 0 || (events & UV_WRITABLE) != 0;
    try {
      self->callback_.MakeCallback(self->Value(),
                                   {Napi::Boolean::New(env, readable), Napi::Boolean::New(env, writable), error},
                                   *self->context_);
    } catch (const Napi::Error& thrown) {
      // Nothing on the stack can catch it: hand it to process 'uncaughtException', like any callback.
      napi_fatal_exception(env, thrown.Value());
    }
  }

  uv_poll_t* handle_ = nullptr;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
  bool pinned_ = false;
};

}  // namespace

void InitPoller(Napi::Env env, Napi::Object exports) { exports.Set("Poller", Poller::Define(env)); }

}  // namespace redirect
