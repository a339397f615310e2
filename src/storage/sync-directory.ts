/** fsync of a directory: what makes a file created, renamed or linked in it survive a crash. */
import { open } from 'node:fs/promises';
import { StorageError } from '../errors.js';

/** Flushes `dir`'s entries to disk; a failure is a StorageError about `forPath`, the file that needed it. */
export async function syncDirectory(dir: string, forPath: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (e) {
    throw new StorageError(forPath, `cannot fsync the directory ${dir}`, e);
  }
}
