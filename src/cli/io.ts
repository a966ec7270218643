import { PortcullisError, describeError } from '../shared/errors.js';

/** Where a command writes, and what it reads from its environment: injectable so tests run commands in-process. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: Record<string, string | undefined>;
}

export const EXIT_OK = 0;
/** The scan or request failed. */
export const EXIT_FAILED = 1;
/** The command line or its input was wrong (bad target, bad port spec, out of scope, unknown option). */
export const EXIT_USAGE = 2;

const USAGE_CODE = /^(target\.|ports\.|request\.|scope\.|config\.|ssllabs\.(disabled|not-registered|email-rejected|bad-request|registration-failed)$)/;

/** Thrown by commands to end with a message and an exit code. */
export class CliExit extends Error {
  readonly exitCode: number;

  constructor(exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof CliExit) return err.exitCode;
  if (err instanceof PortcullisError) return USAGE_CODE.test(err.code) ? EXIT_USAGE : EXIT_FAILED;
  return EXIT_FAILED;
}

export function errorLine(err: unknown): string {
  if (err instanceof CliExit) return `portcullis: ${err.message}`;
  const { code, message } = describeError(err);
  return code === 'internal' ? `portcullis: ${message}` : `portcullis: ${message} [${code}]`;
}

export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

const NO_BORDERS = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
  bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
};

/**
 * A table for people: boxed with colours on a terminal, plain aligned columns when stdout is a pipe
 * or a file, so `grep`/`awk` see no box-drawing characters or escape codes.
 */
export async function renderTable(io: CliIo, head: string[], rows: string[][]): Promise<string> {
  const { default: Table } = await import('cli-table3');
  const plain = !io.stdout.isTTY;
  const table = new Table({ head, style: plain ? { head: [], border: [], compact: true } : { compact: true }, ...(plain ? { chars: NO_BORDERS } : {}) });
  table.push(...rows);
  return table.toString();
}
