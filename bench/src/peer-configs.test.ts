import { describe, expect, it } from 'vitest';
import { nginxConfig } from './nginx.js';
import { haproxyConfig, stunnelConfig, type PeerSide } from './peer-configs.js';

const side: PeerSide = {
  certificate: { chainPath: '/c/chain.pem', keyPath: '/c/key.pem', combinedPath: '/c/combined.pem' },
  rootPath: '/c/root.pem',
  tunnels: [
    {
      name: 'port9001',
      entry: { host: '127.30.3.1', port: 9001 },
      tls: { host: '127.30.3.2', port: 19001 },
      app: { host: '127.30.2.1', port: 9001 },
    },
  ],
};

describe('stunnelConfig', () => {
  it('client side: plain TCP in, TLS 1.3 out with a certificate, the chain verified', () => {
    const text = stunnelConfig('client', side);
    expect(text).toContain('client = yes\naccept = 127.30.3.1:9001\nconnect = 127.30.3.2:19001');
    expect(text).toContain('cert = /c/chain.pem\nkey = /c/key.pem\nCAfile = /c/root.pem\nverifyChain = yes');
    expect(text).toContain('sslVersionMin = TLSv1.3');
    expect(text).not.toContain('requireCert');
  });

  it('server side: TLS in with a client certificate required, plain TCP to the app', () => {
    const text = stunnelConfig('server', side);
    expect(text).toContain('accept = 127.30.3.2:19001\nconnect = 127.30.2.1:9001');
    expect(text).toContain('requireCert = yes');
    expect(text).not.toContain('client = yes');
  });
});

describe('haproxyConfig', () => {
  it('client side: TLS 1.3 to the server side with its certificate, chain verified', () => {
    const text = haproxyConfig('client', side);
    expect(text).toContain('nbthread 1');
    expect(text).toContain('ssl-default-server-options ssl-min-ver TLSv1.3');
    expect(text).toContain('bind 127.30.3.1:9001\n');
    expect(text).toContain(
      'server tunnel 127.30.3.2:19001 ssl crt /c/combined.pem ca-file /c/root.pem verify required',
    );
  });

  it('server side: TLS 1.3 in, client certificate required, plain TCP to the app', () => {
    const text = haproxyConfig('server', side);
    expect(text).toContain('ssl-default-bind-options ssl-min-ver TLSv1.3');
    expect(text).toContain(
      'bind 127.30.3.2:19001 ssl crt /c/combined.pem ca-file /c/root.pem verify required',
    );
    expect(text).toContain('server app 127.30.2.1:9001\n');
  });
});

describe('nginxConfig', () => {
  it('one process in the foreground, listening on the given address only', () => {
    const text = nginxConfig({ dir: '/w', errorLogPath: '/l/e.log', ip: '127.30.2.1', port: 8080 });
    expect(text).toContain('daemon off;\nmaster_process off;\nworker_processes 1;');
    expect(text).toContain('listen 127.30.2.1:8080;');
    expect(text).toContain('error_log /l/e.log warn;');
  });
});
