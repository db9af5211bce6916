import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { errorMessage, isLogLevel, type Logger } from '@ambient/core';
import type { Registry } from 'prom-client';

export type Route = (req: IncomingMessage, url: URL, res: ServerResponse) => void | Promise<void>;

/**
 * A tiny HTTP server for the admin, metrics and readiness ports: exact paths, nothing else.
 * Handlers are guarded: a failing one answers 500 and the process carries on.
 */
export function createHttpServer(routes: Readonly<Record<string, Route>>, logger: Logger): http.Server {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = routes[url.pathname];
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    Promise.resolve()
      .then(() => route(req, url, res))
      .catch((err: unknown) => {
        logger.error({ path: url.pathname, error: errorMessage(err) }, 'admin handler failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
  });
  // Admin clients are curl and Prometheus: no long-lived keep-alive connections to wait for on drain.
  server.keepAliveTimeout = 1_000;
  return server;
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body, null, 2)}\n`);
}

export function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
}

/** `/metrics` and `/stats/prometheus`, both in Prometheus text format. */
export function metricsRoutes(registry: Registry): Record<string, Route> {
  const serve: Route = async (_req, _url, res) => {
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType }).end(body);
  };
  return { '/metrics': serve, '/stats/prometheus': serve };
}

/** `/healthz/ready`: 200 `ready` once nothing is pending, else 500 naming what is. */
export function readinessRoutes(pending: () => readonly string[]): Record<string, Route> {
  return {
    '/healthz/ready': (_req, _url, res) => {
      const waiting = pending();
      if (waiting.length === 0) text(res, 200, 'ready\n');
      else text(res, 500, `not ready, pending: ${waiting.join(', ')}\n`);
    },
  };
}

/** `/logging`: POST only; `?level=debug` sets, no parameter reports, `?reset` restores the start level. */
export function loggingRoute(logger: Logger, initialLevel: string): Route {
  return (req, url, res) => {
    if (req.method !== 'POST') {
      text(res, 405, 'use POST\n');
      return;
    }
    if (url.searchParams.has('reset')) {
      logger.level = initialLevel;
    } else {
      const level = url.searchParams.get('level');
      if (level !== null) {
        if (!isLogLevel(level)) {
          text(res, 400, `unknown level "${level}"\n`);
          return;
        }
        logger.level = level;
      }
    }
    text(res, 200, `current log level is ${logger.level}\n`);
  };
}
