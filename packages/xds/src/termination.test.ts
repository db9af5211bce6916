import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { classifyTermination, type Termination } from './termination.js';

describe('classifyTermination', () => {
  it.each<[string, status, string, boolean, Termination]>([
    ['a clean end', status.OK, 'OK', true, { reason: 'Complete', retry: 'soon' }],
    [
      'a failed connect',
      status.UNAVAILABLE,
      'No connection established. Last error: connect ECONNREFUSED 127.0.40.1:1',
      false,
      { reason: 'ConnectionError', retry: 'backoff' },
    ],
    [
      'the connection dropping under an answered stream',
      status.UNAVAILABLE,
      'Connection dropped',
      true,
      { reason: 'Reconnect', retry: 'soon' },
    ],
    [
      "Go's transport closing",
      status.UNAVAILABLE,
      'error reading from server: transport is closing',
      false,
      { reason: 'Reconnect', retry: 'soon' },
    ],
    [
      'a GOAWAY',
      status.UNAVAILABLE,
      'received prior goaway: code: NO_ERROR',
      false,
      { reason: 'Reconnect', retry: 'soon' },
    ],
    ['UNKNOWN', status.UNKNOWN, 'stream reset', true, { reason: 'Reconnect', retry: 'soon' }],
    ['CANCELLED', status.CANCELLED, 'cancelled', true, { reason: 'Reconnect', retry: 'soon' }],
    [
      'DEADLINE_EXCEEDED',
      status.DEADLINE_EXCEEDED,
      'deadline',
      false,
      { reason: 'Reconnect', retry: 'soon' },
    ],
    ['a refused token', status.UNAUTHENTICATED, 'bad token', false, { reason: 'Error', retry: 'backoff' }],
    ['an internal error', status.INTERNAL, 'oops', true, { reason: 'Error', retry: 'backoff' }],
    [
      'an unimplemented service',
      status.UNIMPLEMENTED,
      'no such method',
      false,
      { reason: 'Error', retry: 'backoff' },
    ],
  ])('%s', (_name, code, details, established, expected) => {
    expect(classifyTermination({ code, details, established })).toEqual(expected);
  });
});
