import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ErrorCode, MeshError, errorMessage } from '@ambient/core';
import { parseIdentity } from '@ambient/identity';
import { parse as parseYaml } from 'yaml';

/**
 * Who is asking for a certificate. A workload may get only its own identity; a node agent
 * (ztunnel) may get the identities of workloads on its node, and its own if it has one.
 */
export type Caller =
  | {
      readonly kind: 'workload';
      /** The SPIFFE id the caller proved. */
      readonly identity: string;
      /** For logs: who this is (a token name, a Kubernetes user name). */
      readonly name: string;
    }
  | {
      readonly kind: 'node';
      readonly node: string;
      /** The node agent's own SPIFFE id, when it has one (ztunnel's service account). */
      readonly identity?: string;
      readonly name: string;
    };

/** Turns a bearer token into a caller, or undefined when the token proves nothing. */
export interface Authenticator {
  /** Rejects only when the answer cannot be known now (an API server down), never for a bad token. */
  authenticate(token: string): Promise<Caller | undefined>;
}

const BEARER = /^bearer\s+(\S+)\s*$/i;

/** The token of an `authorization: Bearer <token>` value, as ztunnel sends it. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
}

/** One entry of CA_TOKENS_FILE. */
export type StaticToken =
  | { readonly token: string; readonly kind: 'workload'; readonly identity: string; readonly name?: string }
  | {
      readonly token: string;
      readonly kind: 'node';
      readonly node: string;
      readonly identity?: string;
      readonly name?: string;
    };

const TOKEN_FIELDS: Readonly<Record<StaticToken['kind'], readonly string[]>> = {
  workload: ['token', 'kind', 'identity', 'name'],
  node: ['token', 'kind', 'node', 'identity', 'name'],
};

/**
 * The embedded mode's authentication: a fixed list of tokens, each standing for a node agent or
 * a workload. Tokens are kept only as SHA-256 digests, so a lookup's timing tells nothing about
 * any token's characters and a heap dump shows none.
 */
export class StaticTokenAuthenticator implements Authenticator {
  private readonly callers = new Map<string, Caller>();

  constructor(tokens: readonly StaticToken[]) {
    for (const [index, entry] of tokens.entries()) {
      const name = entry.name ?? `token #${String(index + 1)}`;
      const caller: Caller =
        entry.kind === 'workload'
          ? { kind: 'workload', identity: entry.identity, name }
          : {
              kind: 'node',
              node: entry.node,
              name,
              ...(entry.identity === undefined ? {} : { identity: entry.identity }),
            };
      this.callers.set(digest(entry.token), caller);
    }
  }

  /** Reads a YAML or JSON token list; throws MeshError(CaTokensInvalid) naming every problem. */
  static async fromFile(path: string): Promise<StaticTokenAuthenticator> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new MeshError(ErrorCode.CaTokensInvalid, `${path}: cannot read: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    return new StaticTokenAuthenticator(parseTokenList(text, path));
  }

  authenticate(token: string): Promise<Caller | undefined> {
    return Promise.resolve(this.callers.get(digest(token)));
  }
}

/**
 * `[{ token, kind: 'node', node, identity? } | { token, kind: 'workload', identity }]`, each
 * entry optionally `name`d for logs. YAML, which reads JSON too. Every problem at once.
 */
export function parseTokenList(text: string, file: string): StaticToken[] {
  const problems: string[] = [];
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    throw invalid(file, [`not YAML or JSON: ${errorMessage(err)}`]);
  }
  if (!Array.isArray(document)) throw invalid(file, ['expected a list of { token, kind, ... } entries']);
  const seen = new Map<string, number>();
  const tokens: StaticToken[] = [];
  for (const [index, item] of (document as unknown[]).entries()) {
    const where = `[${String(index)}]`;
    const problem = (what: string): void => {
      problems.push(`${where}: ${what}`);
    };
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problem('expected an object');
      continue;
    }
    const entry = item as Record<string, unknown>;
    const text = (field: string, required: boolean): string | undefined => {
      const value = entry[field];
      if (value === undefined && !required) return undefined;
      if (typeof value === 'string' && value.trim() !== '') return value;
      problem(`${field}: expected a non-empty string`);
      return undefined;
    };
    const kind = entry.kind;
    if (kind !== 'node' && kind !== 'workload') {
      problem(
        `kind: expected "node" or "workload", got ${kind === undefined ? 'nothing' : JSON.stringify(kind)}`,
      );
      continue;
    }
    for (const field of Object.keys(entry)) {
      if (!TOKEN_FIELDS[kind].includes(field)) problem(`${field}: unknown field for a ${kind} token`);
    }
    const token = text('token', true);
    if (token !== undefined) {
      if (/\s/.test(token)) problem('token: must not contain white space (it travels in a header)');
      const first = seen.get(token);
      if (first !== undefined) problem(`token: the same token as entry [${String(first)}]`);
      seen.set(token, index);
    }
    const identity = text('identity', kind === 'workload');
    if (identity !== undefined && parseIdentity(identity) === undefined) {
      problem(
        `identity: "${identity}" is not a SPIFFE workload id (spiffe://<trust domain>/ns/<ns>/sa/<sa>)`,
      );
    }
    const name = text('name', false);
    const named = name === undefined ? {} : { name };
    if (kind === 'workload') {
      if (token !== undefined && identity !== undefined) tokens.push({ token, kind, identity, ...named });
    } else {
      const node = text('node', true);
      if (token !== undefined && node !== undefined) {
        tokens.push({ token, kind, node, ...named, ...(identity === undefined ? {} : { identity }) });
      }
    }
  }
  if (problems.length > 0) throw invalid(file, problems);
  return tokens;
}

function invalid(file: string, problems: readonly string[]): MeshError {
  return new MeshError(
    ErrorCode.CaTokensInvalid,
    `${file}: invalid token list (${String(problems.length)} problem${problems.length === 1 ? '' : 's'}):\n  ${problems.join('\n  ')}`,
  );
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
