/** s3rver ships no types; this is the part the tests use. */
declare module 's3rver' {
  import type { Server } from 'node:http';

  interface S3rverOptions {
    port?: number;
    address?: string;
    silent?: boolean;
    /** Where the buckets are kept. */
    directory: string;
  }

  class S3rver {
    constructor(options: S3rverOptions);
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
    /** The listening server, once `run` resolved. */
    httpServer: Server;
  }
  export default S3rver;
}
