/**
 * Stands in for functions/approval-{notify,decide}/handler.ts while those are being written: the
 * infra tests skip bundling, but NodejsFunction still checks that its entry file exists.
 */
export async function handler(): Promise<void> {}
