import { z } from 'zod';

/**
 * Parses a function's environment with its schema, once, into a frozen object; a bad or missing
 * variable fails naming it. Empty values count as unset, so an optional variable set to "" by a
 * template is absent rather than invalid.
 */
export function parseEnvironment<Out>(
  schema: z.ZodType<Out, z.ZodTypeDef, unknown>,
  env: Readonly<Record<string, string | undefined>>,
): Readonly<Out> {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const result = schema.safeParse(present);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`);
    throw new ConfigurationError(`invalid configuration: ${problems.join('; ')}`);
  }
  return Object.freeze(result.data);
}

export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

/** A URL the functions call or hand out: https, or http on loopback for tests and local runs. */
export const serviceUrl = z
  .string()
  .url()
  .refine((value) => {
    const url = new URL(value);
    return (
      url.protocol === 'https:' ||
      (url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
    );
  }, 'expected an https URL (http only on loopback)');

export const logLevel = z.enum(['debug', 'info', 'warn', 'error']).default('info');
