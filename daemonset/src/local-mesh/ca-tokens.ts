import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StaticToken } from '@ambient/control-plane';

/** 192 bits: no guessing, and base64url has no white space, which a header could not carry. */
const TOKEN_BYTES = 24;
/** Secrets: only the launcher's user may read them. */
const SECRET_FILE_MODE = 0o600;
const SECRET_DIR_MODE = 0o700;

export interface NodeTokens {
  /** CA_TOKENS_FILE: every node's token, as the CA reads it. */
  readonly tokensFile: string;
  /** AUTH_TOKEN of each node's ztunnel: a file holding that node's token alone. */
  readonly tokenPaths: ReadonlyMap<string, string>;
}

/** The name the CA logs for a node's ztunnel (and what the demo looks for in its log). */
export function callerName(node: string): string {
  return `ztunnel-${node}`;
}

/**
 * One node-agent token per node, each a fresh random string: a ztunnel may then ask only for the
 * identities of workloads on its own node, as istiod allows a node's ztunnel.
 */
export function nodeTokenList(nodes: readonly string[], newToken = randomToken): StaticToken[] {
  return nodes.map((node) => ({ token: newToken(), kind: 'node', node, name: callerName(node) }));
}

/** Writes `tokens.yaml` for the CA into `caDir` and `<node>.token` for each ztunnel into `tokensDir`. */
export async function writeNodeTokens(
  nodes: readonly string[],
  caDir: string,
  tokensDir: string,
): Promise<NodeTokens> {
  const list = nodeTokenList(nodes);
  await mkdir(caDir, { recursive: true, mode: SECRET_DIR_MODE });
  await mkdir(tokensDir, { recursive: true, mode: SECRET_DIR_MODE });
  const tokensFile = join(caDir, 'tokens.yaml');
  // JSON is YAML, and needs no quoting rules of its own.
  await writeFile(tokensFile, `${JSON.stringify(list, null, 2)}\n`, { mode: SECRET_FILE_MODE });
  const tokenPaths = new Map<string, string>();
  for (const entry of list) {
    if (entry.kind !== 'node') continue;
    const path = join(tokensDir, `${entry.node}.token`);
    await writeFile(path, entry.token, { mode: SECRET_FILE_MODE });
    tokenPaths.set(entry.node, path);
  }
  return { tokensFile, tokenPaths };
}

function randomToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}
