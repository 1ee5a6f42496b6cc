import packageJson from '../package.json';

/** The version of Gatehouse, stamped into every log line, banner and audit record. */
export const VERSION: string = packageJson.version;
