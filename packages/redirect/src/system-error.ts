/**
 * The errors the addon throws, shaped like Node's own: `code` ("ECONNREFUSED"), `errno` (negative)
 * and `syscall` ("connect", "setns", "setsockopt(SO_MARK)").
 */
export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

export function isSystemError(err: unknown, code?: string): err is SystemError {
  if (!(err instanceof Error)) return false;
  const fields = err as Partial<SystemError>;
  return (
    typeof fields.code === 'string' &&
    typeof fields.errno === 'number' &&
    typeof fields.syscall === 'string' &&
    (code === undefined || fields.code === code)
  );
}
