// Where the package's own files are, whether running from dist/ or the source tree.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The package root (holds schemas/, config/, certs/). Compiled code lives in dist/src/, two levels below it. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SCHEMAS_DIR = join(ROOT, 'schemas');
export const CONFIG_DIR = join(ROOT, 'config');
export const CERTS_DIR = join(ROOT, 'certs');
