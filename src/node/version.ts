/** Package version reported by Status and the CLI. */
export const VERSION = '0.1.0';
