// Ctrl+C during check, plan or repair: cancel the operation (it stops at its next safe point and returns
// what it has), instead of killing the process mid-write.
import { CancellationTokenSource, type CancellationToken } from '../src-core/ops/index.js';

export async function cancelOnSigint<T>(run: (token: CancellationToken) => Promise<T>): Promise<T> {
  const cancel = new CancellationTokenSource();
  const onSigint = (): void => cancel.cancel();
  process.once('SIGINT', onSigint);
  try {
    return await run(cancel.token);
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
