#!/usr/bin/env node
// Writes a throwaway mesh PKI for the local demo and tests (never for production):
//   node scripts/make-test-certs.mjs --out DIR [--trust-domain TD] ns/sa [ns/sa ...]
// DIR/root-cert.pem and DIR/workloads/<ns>/<sa>/{cert-chain.pem,key.pem}, the layout
// CertificateDirectory loads. Needs a build first (`npm run build`): it imports the compiled PKI.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TestPki } from '../packages/testing/dist/index.js';

const USAGE = 'usage: node scripts/make-test-certs.mjs --out DIR [--trust-domain TD] ns/sa [ns/sa ...]';

function fail(message) {
  console.error(`make-test-certs: ${message}\n${USAGE}`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    options: { out: { type: 'string' }, 'trust-domain': { type: 'string' }, help: { type: 'boolean' } },
    allowPositionals: true,
  });
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
const { values, positionals } = parsed;
if (values.help === true) {
  console.log(USAGE);
  process.exit(0);
}
if (values.out === undefined) fail('--out DIR is required');
if (positionals.length === 0) fail('name at least one workload as namespace/serviceAccount');

const identities = positionals.map((arg) => {
  const match = /^([a-z0-9.-]+)\/([a-z0-9.-]+)$/.exec(arg);
  if (match === null) fail(`"${arg}" is not namespace/serviceAccount`);
  return { namespace: match[1], serviceAccount: match[2] };
});

const options = values['trust-domain'] === undefined ? {} : { trustDomain: values['trust-domain'] };
const pki = await TestPki.create(options);
await pki.writeCertificateDir(values.out, identities);

console.log(`wrote a test PKI for trust domain ${pki.trustDomain}:`);
console.log(`  ${join(values.out, 'root-cert.pem')}`);
for (const { namespace, serviceAccount } of identities) {
  const dir = join(values.out, 'workloads', namespace, serviceAccount);
  console.log(
    `  ${join(dir, 'cert-chain.pem')}  spiffe://${pki.trustDomain}/ns/${namespace}/sa/${serviceAccount}`,
  );
  console.log(`  ${join(dir, 'key.pem')}`);
}
