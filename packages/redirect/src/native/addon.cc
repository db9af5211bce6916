// Module entry point: every function of the addon is registered here, grouped by file.
#include "common.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  redirect::InitSockopt(env, exports);
  redirect::InitNetns(env, exports);
  redirect::InitSeqpacket(env, exports);
  redirect::InitPoller(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(redirect, Init)
