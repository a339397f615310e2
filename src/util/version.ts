/** Package version reported by Status, the node's start line and `engram --version`: package.json's, so a release cannot forget it. */
import { readFileSync } from 'node:fs';

// dist/src/util/version.js → <package>/package.json (shipped with every install).
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
