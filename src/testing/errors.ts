import { PortcullisError } from '../shared/errors.js';

/**
 * Runs `fn` and returns the PortcullisError it throws. Any other error is rethrown as it is, and a
 * call that throws nothing fails with "expected a PortcullisError".
 */
export function errorOf(fn: () => unknown): PortcullisError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PortcullisError) return err;
    throw err;
  }
  throw new Error('expected a PortcullisError');
}

/** errorOf for a promise: the PortcullisError it rejects with (other rejections pass through). */
export async function failureOf(promise: Promise<unknown>): Promise<PortcullisError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof PortcullisError) return err;
    throw err;
  }
  throw new Error('expected a PortcullisError');
}
